// Admin endpoint helpers: see admin_client.hpp.
#include "test/integration/admin_client.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace spliceproxy::test {
namespace {

// Writes `text` to a new temp file and returns its path; the caller removes it.
std::string write_temp(const std::string& text) {
  std::string path = (std::filesystem::temp_directory_path() / "spliceproxy-admin-XXXXXX").string();
  const int fd = mkstemp(path.data());
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  ::close(fd);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

CommandResult run_on_file(const std::string& input, std::vector<std::string> argv, bool via_stdin) {
  const std::string path = write_temp(input);
  if (via_stdin) {
    // promtool reads the exposition from stdin; run_command's stdin is /dev/null.
    std::string command;
    for (const auto& arg : argv)
      command += "'" + arg + "' ";
    argv = {"/bin/sh", "-c", command + "< '" + path + "'"};
  } else {
    argv.push_back(path);
  }
  CommandResult result = run_command(argv, 30s);
  std::filesystem::remove(path);
  return result;
}

}  // namespace

std::uint16_t admin_port(const ProxyProcess& proxy) {
  constexpr std::string_view kNeedle = "admin listening on 127.0.0.1:";
  if (!proxy.wait_for_stderr(kNeedle, Clock::now() + 10s))
    throw std::runtime_error("no admin address in:\n" + proxy.stderr_text());
  const std::string err = proxy.stderr_text();
  return static_cast<std::uint16_t>(std::stoi(err.substr(err.find(kNeedle) + kNeedle.size())));
}

HttpReply http_request(std::uint16_t port, std::string_view path, std::string_view method) {
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + std::string(path);
  const CommandResult result = run_command({"/usr/bin/curl", "-sS", "--max-time", "10", "-X",
                                            std::string(method), "-w", "\n%{http_code}", url},
                                           20s);
  if (result.exit_code != 0) return {0, result.err};
  const auto newline = result.out.rfind('\n');
  return {std::stoi(result.out.substr(newline + 1)), result.out.substr(0, newline)};
}

HttpReply http_post_json(std::uint16_t port, std::string_view path, const std::string& body,
                         const std::string& token) {
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + std::string(path);
  std::vector<std::string> argv{"/usr/bin/curl",
                                "-sS",
                                "--max-time",
                                "10",
                                "-X",
                                "POST",
                                "-H",
                                "Content-Type: application/json",
                                "--data-binary",
                                body,
                                "-w",
                                "\n%{http_code}"};
  if (!token.empty()) {
    argv.push_back("-H");
    argv.push_back("Authorization: Bearer " + token);
  }
  argv.push_back(url);
  const CommandResult result = run_command(argv, 20s);
  if (result.exit_code != 0) return {0, result.err};
  const auto newline = result.out.rfind('\n');
  return {std::stoi(result.out.substr(newline + 1)), result.out.substr(0, newline)};
}

std::optional<std::uint64_t> metric_value(const std::string& text, std::string_view series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ')
      return std::stoull(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

CommandResult run_jq(const std::string& input, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/jq"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_on_file(input, argv, false);
}

CommandResult run_promtool_check(const std::string& text) {
  return run_on_file(text, {"/usr/bin/promtool", "check", "metrics"}, true);
}

}  // namespace spliceproxy::test
