// The mirror keys of proxy.yaml: what loads, and where each mistake is reported.
#include <string>

#include <gtest/gtest.h>

#include "config/config.hpp"
#include "test/unit/config/config_test_util.hpp"

namespace spliceproxy::config {
namespace {

using test::error_of;
using test::kMinimal;

// kMinimal whose listener feeds `refs` (lines from 6 on), followed by `mirrors` (from line 12
// on when `refs` is one line).
std::string with_mirrors(const std::string& refs, const std::string& mirrors) {
  std::string yaml = kMinimal;
  yaml.insert(yaml.find("backends:"), "    mirrors:\n" + refs);
  return yaml + "mirrors:\n" + mirrors;
}

const std::string kCapture = "  - {name: cap, type: pcapng_file, path: /tmp/c.pcapng}\n";

TEST(MirrorSchema, MirrorsAndReferencesLoadWithDefaults) {
  const Config config = load_config_string(
      with_mirrors("      - {mirror: cap, sample: 0.25}\n      - {mirror: twin}\n",
                   kCapture + "  - {name: twin, type: shadow, address: 127.0.0.1:9001}\n"),
      "test.yaml");
  ASSERT_EQ(config.mirrors.size(), 2u);
  EXPECT_EQ(config.mirrors[0].max_size, 0u);
  EXPECT_EQ(config.mirrors[0].keep, 5u);
  EXPECT_EQ(config.mirrors[1].address, (Address{"127.0.0.1", 9001}));
  const auto& refs = config.listeners[0].mirrors;
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[0], (MirrorRef{"cap", MirrorDirection::both, 0.25}));
  EXPECT_EQ(refs[1], (MirrorRef{"twin", MirrorDirection::both, 1.0}));
  EXPECT_EQ(load_config_string(to_yaml(config), "test.yaml"), config);
}

TEST(MirrorSchema, UnknownMirrorNameListsTheKnownOnes) {
  const ConfigError e = error_of(with_mirrors("      - {mirror: nope}\n", kCapture));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:6:18: listeners[0].mirrors[0].mirror: expected the name of a mirror (one "
            "of: cap), got \"nope\"");
}

TEST(MirrorSchema, SampleOutsideZeroToOneIsRefused) {
  const ConfigError e = error_of(with_mirrors("      - {mirror: cap, sample: 1.5}\n", kCapture));
  EXPECT_EQ(e.line(), 6);
  EXPECT_EQ(e.path(), "listeners[0].mirrors[0].sample");
  EXPECT_NE(std::string(e.what()).find("expected a fraction from 0.0 to 1.0, got \"1.5\""),
            std::string::npos);
}

TEST(MirrorSchema, KeyOfAnotherTypeIsAnUnknownKey) {
  const ConfigError e =
      error_of(with_mirrors("      - {mirror: twin}\n",
                            "  - {name: twin, type: shadow, address: 127.0.0.1:1, keep: 2}\n"));
  EXPECT_EQ(e.line(), 12);
  EXPECT_NE(std::string(e.what()).find("unknown key 'keep'"), std::string::npos);
}

TEST(MirrorSchema, DuplicateMirrorNamePointsAtTheSecondOne) {
  const ConfigError e = error_of(with_mirrors("      - {mirror: cap}\n", kCapture + kCapture));
  EXPECT_EQ(e.line(), 13);
  EXPECT_NE(std::string(e.what()).find("duplicate mirror name \"cap\", first defined at line 12"),
            std::string::npos);
}

TEST(MirrorSchema, SmallRotationSizeIsRefused) {
  const ConfigError e = error_of(
      with_mirrors("      - {mirror: cap}\n",
                   "  - {name: cap, type: pcapng_file, path: /tmp/c.pcapng, max_size: 1KiB}\n"));
  EXPECT_EQ(e.path(), "mirrors[0].max_size");
  EXPECT_NE(std::string(e.what()).find("expected 0 or a size of at least 64KiB, got \"1KiB\""),
            std::string::npos);
}

}  // namespace
}  // namespace spliceproxy::config
