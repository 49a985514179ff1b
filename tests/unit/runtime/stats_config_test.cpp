// KUBEFN_STATS_ADDRESS and the identity the runtime reports under.
#include <gtest/gtest.h>

#include <map>

#include "config.hpp"

namespace kubefn::runtime {
namespace {

std::variant<RuntimeConfig, ConfigError> load(std::map<std::string, std::string> env) {
  env.emplace("FUNC_HANDLER", "fn.run");
  return load_config([&](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  });
}

TEST(StatsConfig, OffUnlessAnAddressIsGiven) {
  auto c = load({{"POD_NAME", "p"}});
  ASSERT_TRUE(std::holds_alternative<RuntimeConfig>(c));
  EXPECT_TRUE(std::get<RuntimeConfig>(c).stats_address.empty());
}

TEST(StatsConfig, AddressAndIdentityFromTheEnvironment) {
  auto c = load({{"KUBEFN_STATS_ADDRESS", "kubefn-operator.kubefn-system:9090"},
                 {"POD_NAMESPACE", "team"},
                 {"POD_NAME", "resize-5d8f-x2k"},
                 {"HOSTNAME", "other"}});
  ASSERT_TRUE(std::holds_alternative<RuntimeConfig>(c));
  const auto& rc = std::get<RuntimeConfig>(c);
  EXPECT_EQ(rc.stats_address, "kubefn-operator.kubefn-system:9090");
  EXPECT_EQ(rc.stats_namespace, "team");
  EXPECT_EQ(rc.stats_replica, "resize-5d8f-x2k");

  auto d = load({{"KUBEFN_STATS_ADDRESS", "[::1]:9090"}, {"HOSTNAME", "resize-abc"}});
  ASSERT_TRUE(std::holds_alternative<RuntimeConfig>(d));
  EXPECT_EQ(std::get<RuntimeConfig>(d).stats_namespace, "default");
  EXPECT_EQ(std::get<RuntimeConfig>(d).stats_replica, "resize-abc");
}

TEST(StatsConfig, RejectsAnAddressWithoutAPort) {
  for (const char* bad : {"operator", "operator:", "operator:http", ":9090", "operator:70000"}) {
    auto c = load({{"KUBEFN_STATS_ADDRESS", bad}});
    ASSERT_TRUE(std::holds_alternative<ConfigError>(c)) << bad;
    EXPECT_NE(std::get<ConfigError>(c).message.find("KUBEFN_STATS_ADDRESS"), std::string::npos);
  }
}

}  // namespace
}  // namespace kubefn::runtime
