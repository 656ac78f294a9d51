// spliceproxy: command line, config loading, start-up and exit status.
//
// Exit status: 0 after a clean stop (or a good --check), 2 for a bad config or command line,
// 1 when start-up fails (a listener cannot bind, ...). Signals: SIGHUP reloads the config file,
// SIGTERM/SIGINT drain and stop (see Server).
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "proxy/base/log.hpp"
#include "proxy/server.hpp"
#include "proxy/upstream/discovery.hpp"

namespace {

using namespace spliceproxy;

constexpr std::string_view kUsage =
    "usage: spliceproxy -c FILE [--check] [--log-level debug|info|warn|error]\n"
    "       spliceproxy --version | --help\n"
    "\n"
    "  -c, --config FILE   YAML configuration (see proxy.yaml.example)\n"
    "  --check             validate FILE, print the effective configuration, exit 0 or 2\n"
    "  --log-level LEVEL   override log.level from the configuration\n"
    "  --version           print the version and exit\n"
    "  -h, --help          print this help and exit\n";

struct Options {
  std::string config_path;
  bool check = false;
  std::optional<config::LogLevel> log_level;
};

std::optional<config::LogLevel> parse_level(std::string_view text) {
  for (auto level : {config::LogLevel::debug, config::LogLevel::info, config::LogLevel::warn,
                     config::LogLevel::error}) {
    if (config::to_string(level) == text) return level;
  }
  return std::nullopt;
}

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "spliceproxy: %s\n%.*s", message.c_str(), static_cast<int>(kUsage.size()),
               kUsage.data());
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") {
      std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
      std::exit(0);
    } else if (arg == "--version") {
      std::printf("spliceproxy %s\n", SPLICEPROXY_VERSION);
      std::exit(0);
    } else if (arg == "-c" || arg == "--config") {
      options.config_path = value();
    } else if (arg == "--check") {
      options.check = true;
    } else if (arg == "--log-level") {
      const std::string text = value();
      options.log_level = parse_level(text);
      if (!options.log_level) usage_error("unknown log level \"" + text + "\"");
    } else {
      usage_error("unknown option \"" + std::string(arg) + "\"");
    }
  }
  if (options.config_path.empty()) usage_error("no configuration file given (-c FILE)");
  return options;
}

// Every session costs two descriptors plus two per pipe in flight: take all the kernel allows.
void raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  log::info("descriptor limit {}", static_cast<unsigned long long>(limit.rlim_cur));
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  config::ConfigPtr config;
  try {
    config = std::make_shared<const config::Config>(config::load_config_file(options.config_path));
  } catch (const config::ConfigError& error) {
    std::fprintf(stderr, "%s\n", error.what());
    return 2;
  }
  if (options.check) {
    const std::string text = config::to_yaml(*config);
    std::fwrite(text.data(), 1, text.size(), stdout);
    // What each DNS name expands to now, as YAML comments (the output still loads).
    try {
      for (const std::string& line : describe_discovery(*config))
        std::printf("# %s\n", line.c_str());
    } catch (const std::exception& error) {
      std::printf("# DNS discovery: %s\n", error.what());
    }
    return 0;
  }
  log::set_level(options.log_level.value_or(config->log.level));
  std::signal(SIGPIPE, SIG_IGN);  // a peer gone mid-write is an EPIPE for its session only
  raise_descriptor_limit();
  try {
    Server server(config, ServerOptions{options.config_path, options.log_level.has_value()});
    server.open();
    log::info("spliceproxy {} started with {}", SPLICEPROXY_VERSION, options.config_path);
    server.run();
    log::info("stats: {}", server.stats().summary());
  } catch (const std::exception& error) {
    log::error("{}", error.what());
    return 1;
  }
  log::info("stopped");
  return 0;
}
