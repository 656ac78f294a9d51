// libFuzzer target of the config loader (config/), built and run by tools/fuzz.sh with clang
// (-fsanitize=fuzzer,address,undefined) against Debian's yaml-cpp and fmt; not part of the CMake
// build. Each input is the text of a config file, taken the way `spliceproxy --check` takes it:
// load, validate, print the effective configuration. Besides memory errors and undefined
// behaviour it checks the loader's contract on every input:
// - it either returns a Config or throws ConfigError: any other exception escapes the target and
//   is a finding (main() catches only ConfigError, so the proxy would die on that file);
// - a ConfigError names the source, and its position is inside the text (or 0 for none);
// - a loaded Config prints (to_yaml, to_json), and what to_yaml prints loads back to the same
//   Config (the promise of --check: its output is a config file).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace config = spliceproxy::config;

namespace {

constexpr const char* kSource = "fuzz.yaml";

void check(bool condition) {
  if (!condition) std::abort();
}

void check_error(const config::ConfigError& error, std::string_view text) {
  check(error.file() == kSource);
  check(std::string_view(error.what()).starts_with(kSource));
  // yaml-cpp also breaks lines at a lone '\r'; one more for a mark just past the end.
  const auto lines =
      std::count(text.begin(), text.end(), '\n') + std::count(text.begin(), text.end(), '\r') + 2;
  check(error.line() >= 0 && error.line() <= lines);
  check(error.column() >= 0 && (error.line() > 0 || error.column() == 0));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(bytes), size);
  config::Config loaded;
  try {
    loaded = config::load_config_string(text, kSource);
  } catch (const config::ConfigError& error) {
    check_error(error, text);
    return 0;
  }
  const std::string printed = config::to_yaml(loaded);
  check(!config::to_json(loaded).empty());
  try {
    check(config::load_config_string(printed, kSource) == loaded);
  } catch (const config::ConfigError&) {
    std::abort();  // --check printed a file that does not load
  }
  return 0;
}
