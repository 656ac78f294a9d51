// The schema of the operations keys: `log` (level, access log) and `admin` (the HTTP endpoint).
#include <string_view>

#include "config/address.hpp"
#include "config/schema.hpp"

namespace spliceproxy::config {

LogSettings parse_log(const YamlNode& node) {
  node.expect_map({"level", "access"});
  LogSettings log;
  if (auto level = node.find("level")) {
    static constexpr LogLevel kLevels[] = {LogLevel::debug, LogLevel::info, LogLevel::warn,
                                           LogLevel::error};
    log.level = parse_enum(*level, kLevels);
  }
  if (auto access = node.find("access")) {
    log.access = access->text();
    if (log.access.empty()) access->fail_expected("stdout, off or a file path");
  }
  return log;
}

AdminSettings parse_admin(const YamlNode& node) {
  node.expect_map({"listen", "token_file"});
  AdminSettings admin;
  admin.enabled = true;
  if (auto listen = node.find("listen")) {
    admin.listen = listen->parse([](std::string_view text) {
      auto parsed = parse_address(text, PortZero::allowed);
      // The endpoint speaks HTTP over TCP only.
      if (parsed.value && parsed.value->is_unix())
        return Parsed<Address>::error("host:port (the admin endpoint is TCP only)");
      return parsed;
    });
  }
  if (auto token = node.find("token_file")) {
    admin.token_file = token->text();
    if (admin.token_file.empty()) token->fail_expected("the path of a file holding the token");
  }
  return admin;
}

}  // namespace spliceproxy::config
