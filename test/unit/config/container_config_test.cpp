// Unit tests of the container's config: the file the Dockerfile ships loads, and the
// Kubernetes sidecar manifest's ConfigMap carries that same file, byte for byte.
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "config/config.hpp"

namespace spliceproxy::config {
namespace {

const std::string kSource = SPLICEPROXY_SOURCE_DIR;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The block scalar under `  proxy.yaml: |` in the manifest, its 4-space indent removed.
std::string configmap_proxy_yaml(const std::string& manifest) {
  std::istringstream in(manifest);
  std::string line;
  std::string block;
  bool inside = false;
  while (std::getline(in, line)) {
    if (!inside) {
      inside = line == "  proxy.yaml: |";
      continue;
    }
    if (line.empty()) {
      block += '\n';
      continue;
    }
    if (line.rfind("    ", 0) != 0) break;
    block += line.substr(4) + '\n';
  }
  return block;
}

TEST(ContainerConfig, DockerfileConfigLoads) {
  const Config config = load_config_file(kSource + "/tools/container/proxy.yaml");
  ASSERT_EQ(config.listeners.size(), 1u);
  EXPECT_EQ(config.listeners[0].listen.port, 8080);
}

TEST(ContainerConfig, SidecarConfigMapIsTheDockerfileConfig) {
  const std::string file = read_file(kSource + "/tools/container/proxy.yaml");
  ASSERT_FALSE(file.empty());
  EXPECT_EQ(configmap_proxy_yaml(read_file(kSource + "/tools/k8s-sidecar.yaml")), file);
}

}  // namespace
}  // namespace spliceproxy::config
