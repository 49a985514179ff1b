// The example Function manifests stay in step with the sources the build compiles.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ExampleManifest : public ::testing::TestWithParam<const char*> {};

TEST_P(ExampleManifest, DescribesItsSource) {
  const std::string name = GetParam();
  const std::string dir = std::string(KUBEFN_EXAMPLES_DIR) + "/" + name;
  YAML::Node fn = YAML::LoadFile(dir + "/function.yaml");
  EXPECT_EQ(fn["apiVersion"].as<std::string>(), "kubefn.dev/v1alpha1");
  EXPECT_EQ(fn["kind"].as<std::string>(), "Function");
  EXPECT_EQ(fn["metadata"]["name"].as<std::string>(), name);
  const std::string handler = fn["spec"]["handler"].as<std::string>();
  EXPECT_EQ(handler.substr(0, handler.find('.')), name);
  const std::string source = slurp(dir + "/" + name + ".cpp");
  EXPECT_EQ(fn["spec"]["source"]["inline"].as<std::string>(), source)
      << "function.yaml's inline source differs from " << name << ".cpp";
  EXPECT_NE(source.find("KUBEFN_HANDLER(" + handler.substr(handler.find('.') + 1) + ")"),
            std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(All, ExampleManifest, ::testing::Values("hello", "echo", "report"));

}  // namespace
