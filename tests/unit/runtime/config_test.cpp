#include "config.hpp"

#include <gtest/gtest.h>

#include <map>

namespace kubefn::runtime {
namespace {

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& k) -> std::optional<std::string> {
    auto it = vars.find(k);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

struct BadEnv {
  const char* name;
  std::map<std::string, std::string> vars;
  const char* mentions;  // the variable the message must name
};

class ConfigRejects : public ::testing::TestWithParam<BadEnv> {};

TEST_P(ConfigRejects, NamingTheVariableToFix) {
  auto got = load_config(env_of(GetParam().vars));
  ASSERT_TRUE(std::holds_alternative<ConfigError>(got));
  EXPECT_NE(std::get<ConfigError>(got).message.find(GetParam().mentions), std::string::npos)
      << std::get<ConfigError>(got).message;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ConfigRejects,
    ::testing::Values(
        BadEnv{"no_handler", {}, "FUNC_HANDLER"},
        BadEnv{"handler_without_module", {{"FUNC_HANDLER", "greet"}}, "FUNC_HANDLER"},
        BadEnv{"handler_with_two_dots", {{"FUNC_HANDLER", "a.b.c"}}, "FUNC_HANDLER"},
        BadEnv{"handler_not_identifier", {{"FUNC_HANDLER", "m.gr-eet"}}, "KUBEFN_HANDLER"},
        BadEnv{"bad_timeout", {{"FUNC_HANDLER", "m.f"}, {"FUNC_TIMEOUT", "soon"}}, "FUNC_TIMEOUT"},
        BadEnv{"zero_timeout", {{"FUNC_HANDLER", "m.f"}, {"FUNC_TIMEOUT", "0"}}, "FUNC_TIMEOUT"},
        BadEnv{"bad_port", {{"FUNC_HANDLER", "m.f"}, {"FUNC_PORT", "70000"}}, "FUNC_PORT"},
        BadEnv{"bad_memory",
               {{"FUNC_HANDLER", "m.f"}, {"FUNC_MEMORY_LIMIT", "lots"}},
               "FUNC_MEMORY_LIMIT"},
        BadEnv{"bad_body_limit",
               {{"FUNC_HANDLER", "m.f"}, {"KUBEFN_MAX_BODY_BYTES", "x"}},
               "KUBEFN_MAX_BODY_BYTES"},
        BadEnv{"bad_threads", {{"FUNC_HANDLER", "m.f"}, {"KUBEFN_THREADS", "0"}}, "KUBEFN_THREADS"},
        BadEnv{"bad_read_timeout",
               {{"FUNC_HANDLER", "m.f"}, {"KUBEFN_READ_TIMEOUT_MS", "-5"}},
               "KUBEFN_READ_TIMEOUT_MS"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Config, KubelessStyleModuleAndHandler) {
  auto got = load_config(env_of({{"MOD_NAME", "hello"},
                                 {"FUNC_HANDLER", "greet"},
                                 {"FUNC_TIMEOUT", "0.25"},
                                 {"FUNC_PORT", "0"},
                                 {"FUNC_MEMORY_LIMIT", "128Mi"},
                                 {"FUNC_RUNTIME", "cpp20"},
                                 {"KUBEFN_FUNCTION_DIR", "/fn"}}));
  ASSERT_TRUE(std::holds_alternative<RuntimeConfig>(got));
  const auto& c = std::get<RuntimeConfig>(got);
  EXPECT_EQ(c.module, "hello");
  EXPECT_EQ(c.handler, "greet");
  EXPECT_EQ(c.function_name, "greet");
  EXPECT_EQ(c.library_path, "/fn/hello.so");
  EXPECT_EQ(c.timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(c.port, 0);
  EXPECT_EQ(c.memory_limit_bytes, 128u * 1024 * 1024);
}

TEST(Config, DottedHandlerAndDefaults) {
  auto got = load_config(env_of({{"FUNC_HANDLER", "hello.greet"}}));
  ASSERT_TRUE(std::holds_alternative<RuntimeConfig>(got));
  const auto& c = std::get<RuntimeConfig>(got);
  EXPECT_EQ(c.module, "hello");
  EXPECT_EQ(c.library_path, "/kubefn/hello.so");
  EXPECT_EQ(c.timeout, std::chrono::seconds(180));  // Kubeless's default
  EXPECT_EQ(c.port, 8080);
  EXPECT_TRUE(c.access_log);
  EXPECT_TRUE(c.execution_header);
  EXPECT_GE(c.min_threads, 1u);
  EXPECT_GE(c.max_threads, c.min_threads);
}

// KUBEFN_EXECUTION_HEADER=0 (bench/metering's metering-off side) leaves the header out.
TEST(Config, ExecutionHeaderSwitch) {
  for (const char* off : {"0", "off", "false"}) {
    auto got = load_config(env_of({{"FUNC_HANDLER", "m.f"}, {"KUBEFN_EXECUTION_HEADER", off}}));
    ASSERT_TRUE(std::holds_alternative<RuntimeConfig>(got));
    EXPECT_FALSE(std::get<RuntimeConfig>(got).execution_header) << off;
  }
  auto on = load_config(env_of({{"FUNC_HANDLER", "m.f"}, {"KUBEFN_EXECUTION_HEADER", "1"}}));
  ASSERT_TRUE(std::holds_alternative<RuntimeConfig>(on));
  EXPECT_TRUE(std::get<RuntimeConfig>(on).execution_header);
}

TEST(Config, Quantities) {
  EXPECT_EQ(parse_quantity("512"), 512u);
  EXPECT_EQ(parse_quantity("1Ki"), 1024u);
  EXPECT_EQ(parse_quantity("1.5Gi"), 1610612736u);
  EXPECT_EQ(parse_quantity("2M"), 2000000u);
  EXPECT_FALSE(parse_quantity(""));
  EXPECT_FALSE(parse_quantity("Mi"));
  EXPECT_FALSE(parse_quantity("-1Mi"));
}

}  // namespace
}  // namespace kubefn::runtime
