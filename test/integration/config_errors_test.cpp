// Integration tests of `spliceproxy --check -c FILE`: bad files are refused with exit
// status 2 and a "FILE:LINE:COL: path: expected ..., got ..." line on stderr; a good
// file exits 0 and prints the effective configuration on stdout.
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test/integration/harness.hpp"

namespace spliceproxy::test {
namespace {

constexpr auto kCheckTimeout = std::chrono::seconds(20);

// A config file in the temp directory, removed when this goes out of scope.
class TempConfig {
 public:
  explicit TempConfig(const std::string& text) {
    path_ = testing::TempDir() + "spliceproxy-config-XXXXXX.yaml";
    const int fd = mkstemps(path_.data(), 5);
    EXPECT_GE(fd, 0) << path_;
    if (fd < 0) return;
    EXPECT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    close(fd);
  }
  ~TempConfig() { unlink(path_.c_str()); }
  TempConfig(const TempConfig&) = delete;
  TempConfig& operator=(const TempConfig&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

CommandResult check(const std::string& path) {
  return run_command({SPLICEPROXY_BINARY, "--check", "-c", path}, kCheckTimeout);
}

constexpr const char* kGood = R"(listeners:
  - name: web
    listen: 127.0.0.1:0
    backend: app
backends:
  - name: app
    servers:
      - address: 127.0.0.1:9000
)";

// kGood with `from` replaced by `to`.
std::string edited(const std::string& from, const std::string& to) {
  std::string yaml = kGood;
  return yaml.replace(yaml.find(from), from.size(), to);
}

struct BadFile {
  const char* name;  // the test's name
  std::string yaml;
  int line;
  int column;
  std::string message;  // a fragment of stderr, after "FILE:LINE:COL: "
};

const std::vector<BadFile> kBadFiles = {
    {"SyntaxError", "listeners: [web\n", 2, 1, "invalid YAML: end of sequence flow not found"},
    {"EmptyFile", "", 1, 1, "expected a map of settings, got an empty file"},
    {"UnknownKeySuggestsClosestName", edited("listen:", "lisen:"), 3, 5,
     "listeners[0]: unknown key 'lisen', did you mean 'listen'?"},
    {"UnknownTopLevelKey", std::string(kGood) + "stats: {}\n", 9, 1, "unknown key 'stats'"},
    {"MapExpectedGotScalar", "log: info\n" + std::string(kGood), 1, 6,
     "log: expected a map, got \"info\""},
    {"BadServerAddress", edited("127.0.0.1:9000", "x"), 8, 18,
     "backends[0].servers[0].address: expected host:port, got \"x\""},
    {"MalformedHostname", edited("127.0.0.1:0", "local_host:0"), 3, 13,
     "listeners[0].listen: expected host:port with a hostname made of letters, digits, '-' and "
     "'.'"},
    {"DuplicateListenerName",
     edited("backends:", "  - name: web\n    listen: 127.0.0.1:0\n    backend: app\nbackends:"), 5,
     11, "listeners[1].name: duplicate listener name \"web\", first defined at line 2"},
    {"MissingBackend", edited("backend: app", "backend: ap"), 4, 14,
     "listeners[0].backend: expected the name of a backend (one of: app), got \"ap\""},
    {"PipeSizeOutOfRange", "splice: {pipe_size: 2GiB}\n" + std::string(kGood), 1, 21,
     "splice.pipe_size: expected a size from 4KiB to 1GiB, got \"2GiB\""},
    {"DurationWithoutUnit", edited("backend: app", "backend: app\n    timeouts: {idle: 30}"), 5, 22,
     "listeners[0].timeouts.idle: expected a duration like 250ms, 5s, 2m or 1h, got \"30\""},
    {"MissingRequiredKey", edited("    listen: 127.0.0.1:0\n", ""), 2, 5,
     "listeners[0]: missing required key 'listen'"},
    {"EmptyServerList", edited("servers:\n      - address: 127.0.0.1:9000", "servers: []"), 7, 14,
     "backends[0].servers: expected at least one server, got an empty list"},
};

// Names the row in gtest's output instead of dumping its bytes.
void PrintTo(const BadFile& bad, std::ostream* out) {
  *out << bad.name;
}

class BadConfig : public testing::TestWithParam<BadFile> {};

TEST_P(BadConfig, ExitsWithStatus2AndNamesThePosition) {
  const BadFile& bad = GetParam();
  const TempConfig file(bad.yaml);
  const CommandResult result = check(file.path());
  EXPECT_EQ(result.exit_code, 2) << result.err;
  const std::string where =
      file.path() + ":" + std::to_string(bad.line) + ":" + std::to_string(bad.column) + ": ";
  EXPECT_NE(result.err.find(where + bad.message), std::string::npos)
      << "expected: " << where << bad.message << "\nstderr: " << result.err;
  EXPECT_EQ(result.out, "");
}

INSTANTIATE_TEST_SUITE_P(ConfigCheck, BadConfig, testing::ValuesIn(kBadFiles),
                         [](const testing::TestParamInfo<BadFile>& info) {
                           return std::string(info.param.name);
                         });

TEST(ConfigCheck, UnreadableFileExitsWithStatus2) {
  const std::string path = testing::TempDir() + "spliceproxy-no-such-config.yaml";
  const CommandResult result = check(path);
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find(path + ": cannot read: No such file or directory"), std::string::npos)
      << result.err;
}

TEST(ConfigCheck, GoodFilePrintsTheEffectiveConfig) {
  const TempConfig file(kGood);
  const CommandResult result = check(file.path());
  EXPECT_EQ(result.exit_code, 0) << result.err;
  for (const char* line :
       {"workers: 1\n", "  level: info\n", "  mode: auto\n", "  pipe_size: 1MiB\n",
        "    listen: 127.0.0.1:0\n", "      connect: 5s\n", "      idle: 5m\n",
        "      - address: 127.0.0.1:9000\n"}) {
    EXPECT_NE(result.out.find(line), std::string::npos) << "missing " << line << "in\n"
                                                        << result.out;
  }
}

TEST(ConfigCheck, EffectiveConfigPassesTheCheckAgain) {
  const TempConfig file(kGood);
  const CommandResult first = check(file.path());
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const TempConfig effective(first.out);
  const CommandResult second = check(effective.path());
  EXPECT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.out, first.out);
}

TEST(ConfigCheck, ExampleFilePasses) {
  const CommandResult result = check(SPLICEPROXY_SOURCE_DIR "/proxy.yaml.example");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("    listen: 127.0.0.1:8080\n"), std::string::npos) << result.out;
}

}  // namespace
}  // namespace spliceproxy::test
