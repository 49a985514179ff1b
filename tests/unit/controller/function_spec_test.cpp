#include "kubefn/controller/function_spec.hpp"

#include <gtest/gtest.h>

namespace kubefn::controller {
namespace {

using nlohmann::json;

json function_with(json spec) {
  return {{"apiVersion", "kubefn.dev/v1alpha1"},
          {"kind", "Function"},
          {"metadata",
           {{"name", "hello"}, {"namespace", "default"}, {"uid", "u-1"}, {"generation", 3}}},
          {"spec", std::move(spec)}};
}

json inline_spec() {
  return {{"handler", "hello.greet"}, {"source", {{"inline", "int x;"}}}};
}

struct BadSpec {
  const char* name;
  json function;
  const char* reason;
  const char* mentions;
};

json patched(json spec, const json& patch) {
  spec.merge_patch(patch);
  return function_with(spec);
}

class SpecRejects : public ::testing::TestWithParam<BadSpec> {};

TEST_P(SpecRejects, WithAReasonAndAnActionableMessage) {
  auto got = parse_function(GetParam().function);
  ASSERT_TRUE(std::holds_alternative<SpecError>(got)) << GetParam().function.dump();
  const auto& err = std::get<SpecError>(got);
  EXPECT_EQ(err.reason, GetParam().reason) << err.message;
  EXPECT_NE(err.message.find(GetParam().mentions), std::string::npos) << err.message;
}

INSTANTIATE_TEST_SUITE_P(
    Table, SpecRejects,
    ::testing::Values(
        BadSpec{"no_spec", json{{"metadata", {{"name", "a"}}}}, "InvalidSpec", "spec.handler"},
        BadSpec{"bad_name", json{{"metadata", {{"name", "Hello_World"}}}, {"spec", inline_spec()}},
                "InvalidName", "metadata.name"},
        BadSpec{"no_handler", function_with({{"source", {{"inline", "x"}}}}), "InvalidHandler",
                "<module>.<function>"},
        BadSpec{"handler_without_dot", patched(inline_spec(), {{"handler", "greet"}}),
                "InvalidHandler", "hello.greet"},
        BadSpec{"handler_not_identifier", patched(inline_spec(), {{"handler", "hello.gr-eet"}}),
                "InvalidHandler", "KUBEFN_HANDLER"},
        BadSpec{"unknown_runtime", patched(inline_spec(), {{"runtime", "python3.8"}}),
                "UnknownRuntime", "cpp20"},
        BadSpec{"no_source_no_image", function_with({{"handler", "hello.greet"}}), "MissingSource",
                "spec.image"},
        BadSpec{"empty_inline", patched(inline_spec(), {{"source", {{"inline", ""}}}}),
                "MissingSource", "inline"},
        BadSpec{"two_sources",
                patched(inline_spec(), {{"source", {{"configMapRef", {{"name", "c"}}}}}}),
                "ConflictingSource", "exactly one"},
        BadSpec{"image_and_source", patched(inline_spec(), {{"image", "r/x:1"}}),
                "ConflictingSource", "spec.image"},
        BadSpec{"url_without_sha",
                function_with({{"handler", "hello.greet"},
                               {"source", {{"url", "https://example.com/h.cpp"}}}}),
                "InvalidSource", "sha256"},
        BadSpec{"url_not_http",
                function_with({{"handler", "hello.greet"},
                               {"source",
                                {{"url", "ftp://x/h.cpp"}, {"sha256", std::string(64, 'a')}}}}),
                "InvalidSource", "http(s)"},
        BadSpec{"bad_dependency", patched(inline_spec(), {{"dependencies", {"Lib Z"}}}),
                "InvalidDependency", "Debian package"},
        BadSpec{"platform_env", patched(inline_spec(), {{"env", {{{"name", "FUNC_TIMEOUT"}}}}}),
                "InvalidEnv", "FUNC_TIMEOUT"},
        BadSpec{"timeout_range", patched(inline_spec(), {{"timeout", 0}}), "InvalidSpec",
                "spec.timeout"},
        BadSpec{"timeout_type", patched(inline_spec(), {{"timeout", "30s"}}), "InvalidSpec",
                "spec.timeout"},
        BadSpec{"min_over_max",
                patched(inline_spec(), {{"scaling", {{"minReplicas", 5}, {"maxReplicas", 2}}}}),
                "InvalidScaling", "minReplicas"},
        BadSpec{"target_over_concurrency",
                patched(inline_spec(), {{"concurrency", 10}, {"scaling", {{"target", 50}}}}),
                "InvalidScaling", "spec.concurrency"},
        BadSpec{"short_stable_window", patched(inline_spec(), {{"scaling", {{"stableWindow", 2}}}}),
                "InvalidSpec", "spec.scaling.stableWindow"},
        BadSpec{"unknown_metric", patched(inline_spec(), {{"scaling", {{"metric", "cpu"}}}}),
                "InvalidScaling", "rps"},
        BadSpec{"relative_trigger_path",
                patched(inline_spec(), {{"triggers", {{"http", {{"path", "x"}}}}}}),
                "InvalidTrigger", "'/'"},
        BadSpec{"bad_access", patched(inline_spec(), {{"access", "open"}}), "InvalidSpec",
                "private or public"},
        BadSpec{"bad_secret", patched(inline_spec(), {{"secrets", {"Not_A_Name"}}}),
                "InvalidSecret", "Not_A_Name"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(FunctionSpec, DefaultsForAMinimalInlineFunction) {
  auto got = parse_function(function_with(inline_spec()));
  ASSERT_TRUE(std::holds_alternative<FunctionSpec>(got));
  const auto& s = std::get<FunctionSpec>(got);
  EXPECT_EQ(s.module, "hello");
  EXPECT_EQ(s.handler_name, "greet");
  EXPECT_EQ(s.runtime, "cpp20");
  EXPECT_EQ(s.source_kind, SourceKind::kInline);
  EXPECT_EQ(s.timeout_seconds, 180);
  EXPECT_EQ(s.concurrency, 100);
  EXPECT_EQ(s.min_replicas, 0);
  EXPECT_EQ(s.max_replicas, 10);
  EXPECT_EQ(s.access, Access::kPrivate);
  EXPECT_EQ(s.generation, 3);
  EXPECT_FALSE(s.replicas.has_value());
  EXPECT_FALSE(s.stable_window_seconds.has_value());
}

TEST(FunctionSpec, ScalingFieldsAreRead) {
  auto got = parse_function(patched(
      inline_spec(),
      {{"scaling",
        {{"minReplicas", 1}, {"stableWindow", 12}, {"keepAlive", "fixed"}, {"metric", "rps"}}}}));
  ASSERT_TRUE(std::holds_alternative<FunctionSpec>(got));
  const auto& s = std::get<FunctionSpec>(got);
  EXPECT_EQ(s.min_replicas, 1);
  EXPECT_EQ(s.stable_window_seconds, 12);
  EXPECT_FALSE(s.learned_keep_alive);
  EXPECT_EQ(s.metric, ScalingMetric::kRps);
}

TEST(FunctionSpec, ConfigMapSourceDefaultsItsKeyToTheModule) {
  auto got = parse_function(
      function_with({{"handler", "hello.greet"}, {"source", {{"configMapRef", {{"name", "c"}}}}}}));
  ASSERT_TRUE(std::holds_alternative<FunctionSpec>(got));
  EXPECT_EQ(std::get<FunctionSpec>(got).config_map_key, "hello.cpp");
}

TEST(FunctionSpec, PrebuiltImageNeedsNoSource) {
  auto got = parse_function(function_with({{"handler", "hello.greet"}, {"image", "r/h:1"}}));
  ASSERT_TRUE(std::holds_alternative<FunctionSpec>(got));
  EXPECT_EQ(std::get<FunctionSpec>(got).source_kind, SourceKind::kNone);
}

TEST(FunctionSpec, DuplicateDependenciesCollapse) {
  auto got =
      parse_function(patched(inline_spec(), {{"dependencies", {"zlib1g-dev", "zlib1g-dev"}}}));
  ASSERT_TRUE(std::holds_alternative<FunctionSpec>(got));
  EXPECT_EQ(std::get<FunctionSpec>(got).dependencies.size(), 1u);
}

}  // namespace
}  // namespace kubefn::controller
