#include "kubefn/controller/function_spec.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

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
        BadSpec{"bad_schedule",
                patched(inline_spec(),
                        {{"triggers",
                          {{"schedules", {{{"name", "nightly"}, {"schedule", "0 25 * * *"}}}}}}}),
                "InvalidTrigger", "spec.triggers.schedules[0]: hour field"},
        BadSpec{"nats_without_stream",
                patched(inline_spec(),
                        {{"triggers", {{"nats", {{{"name", "in"}, {"url", "nats://q:4222"}}}}}}}),
                "InvalidTrigger", "spec.triggers.nats[0].stream is required"},
        BadSpec{"bad_access", patched(inline_spec(), {{"access", "open"}}), "InvalidSpec",
                "private or public"},
        BadSpec{"bad_secret", patched(inline_spec(), {{"secrets", {"Not_A_Name"}}}),
                "InvalidSecret", "Not_A_Name"}),
    [](const auto& info) { return std::string(info.param.name); });

json with_resources(json resources) {
  return patched(inline_spec(), {{"resources", std::move(resources)}});
}

json with_env(json env) {
  return patched(inline_spec(), {{"env", std::move(env)}});
}

json with_value_from(json value_from) {
  return with_env(json::array({{{"name", "A"}, {"valueFrom", std::move(value_from)}}}));
}

json with_env_from(json env_from) {
  return patched(inline_spec(), {{"envFrom", std::move(env_from)}});
}

json with_image(const std::string& image) {
  return function_with({{"handler", "hello.greet"}, {"image", image}});
}

json with_url(const std::string& url) {
  return function_with(
      {{"handler", "hello.greet"}, {"source", {{"url", url}, {"sha256", std::string(64, 'a')}}}});
}

// Every field the platform hands on, checked as its consumer (the API server's Deployment
// validation, the container runtime, the builder) would check it.
INSTANTIATE_TEST_SUITE_P(
    Consumers, SpecRejects,
    ::testing::Values(
        // Resources: quantities as resource.Quantity parses them, names as the API allows.
        BadSpec{"quantity_word", with_resources({{"limits", {{"memory", "lots"}}}}),
                "InvalidResources",
                "spec.resources.limits.memory: \"lots\" is not a quantity (for example 128Mi)"},
        BadSpec{"quantity_two_dots", with_resources({{"requests", {{"cpu", "1.2.3"}}}}),
                "InvalidResources",
                "spec.resources.requests.cpu: \"1.2.3\" is not a quantity (for example 500m)"},
        BadSpec{"quantity_bad_suffix", with_resources({{"limits", {{"memory", "1K"}}}}),
                "InvalidResources", "\"1K\" is not a quantity"},
        BadSpec{"quantity_digits_after_suffix", with_resources({{"limits", {{"memory", "1Mi5"}}}}),
                "InvalidResources", "\"1Mi5\" is not a quantity"},
        BadSpec{"quantity_bare_exponent", with_resources({{"limits", {{"cpu", "1e"}}}}),
                "InvalidResources", "\"1e\" is not a quantity"},
        BadSpec{"quantity_no_digit", with_resources({{"limits", {{"memory", "Mi"}}}}),
                "InvalidResources", "\"Mi\" is not a quantity"},
        BadSpec{"quantity_inner_space", with_resources({{"limits", {{"memory", "1 Gi"}}}}),
                "InvalidResources", "\"1 Gi\" is not a quantity"},
        BadSpec{"quantity_not_a_string", with_resources({{"limits", {{"cpu", true}}}}),
                "InvalidResources", "spec.resources.limits.cpu: true is not a quantity"},
        BadSpec{"quantity_too_large", with_resources({{"limits", {{"cpu", "1e400"}}}}),
                "InvalidResources", "spec.resources.limits.cpu: \"1e400\" is too large"},
        BadSpec{"quantity_beyond_the_cap", with_resources({{"limits", {{"memory", "8Ei"}}}}),
                "InvalidResources", "\"8Ei\" is too large"},
        BadSpec{"quantity_negative", with_resources({{"requests", {{"cpu", "-1"}}}}),
                "InvalidResources", "spec.resources.requests.cpu: \"-1\" is negative"},
        BadSpec{"memory_fraction_of_a_byte", with_resources({{"limits", {{"memory", 1.5}}}}),
                "InvalidResources",
                "spec.resources.limits.memory: 1.5 is not a whole number of bytes"},
        BadSpec{
            "request_above_limit",
            with_resources({{"requests", {{"memory", "1025Mi"}}}, {"limits", {{"memory", "1Gi"}}}}),
            "InvalidResources",
            "spec.resources.requests.memory (\"1025Mi\") is above "
            "spec.resources.limits.memory (\"1Gi\")"},
        BadSpec{"cpu_request_above_limit",
                with_resources({{"requests", {{"cpu", "0.2"}}}, {"limits", {{"cpu", "100m"}}}}),
                "InvalidResources", "spec.resources.requests.cpu (\"0.2\") is above"},
        BadSpec{"unknown_resource", with_resources({{"limits", {{"gpu", "1"}}}}),
                "InvalidResources",
                "spec.resources.limits.gpu: \"gpu\" is not a resource a container can ask for"},
        BadSpec{"pods_resource", with_resources({{"limits", {{"pods", "1"}}}}), "InvalidResources",
                "\"pods\" is not a resource"},
        BadSpec{"kubernetes_io_resource", with_resources({{"limits", {{"kubernetes.io/x", "1"}}}}),
                "InvalidResources", "\"kubernetes.io/x\" is not a resource"},
        BadSpec{"upper_case_resource_domain",
                with_resources({{"limits", {{"Example.com/gpu", "1"}}}}), "InvalidResources",
                "\"Example.com/gpu\" is not a resource"},
        BadSpec{"extended_fraction", with_resources({{"limits", {{"example.com/gpu", "1.5"}}}}),
                "InvalidResources", "is not a whole number: example.com/gpu is counted in units"},
        BadSpec{"extended_request_without_limit",
                with_resources({{"requests", {{"example.com/gpu", "1"}}}}), "InvalidResources",
                "spec.resources.requests.example.com/gpu is set without "
                "spec.resources.limits.example.com/gpu"},
        BadSpec{"extended_request_below_limit",
                with_resources({{"requests", {{"example.com/gpu", "1"}}},
                                {"limits", {{"example.com/gpu", "2"}}}}),
                "InvalidResources", "cannot be overcommitted, so make them equal"},
        BadSpec{"hugepages_not_whole_pages",
                with_resources({{"limits", {{"hugepages-2Mi", "3Mi"}, {"memory", "1Gi"}}}}),
                "InvalidResources", "\"3Mi\" is not a whole number of 2Mi pages"},
        BadSpec{"hugepages_bad_size",
                with_resources({{"limits", {{"hugepages-x", "2Mi"}, {"memory", "1Gi"}}}}),
                "InvalidResources", "\"x\" is not a page size"},
        BadSpec{"hugepages_without_cpu_or_memory",
                with_resources({{"requests", {{"hugepages-2Mi", "2Mi"}}},
                                {"limits", {{"hugepages-2Mi", "2Mi"}}}}),
                "InvalidResources", "huge pages without cpu or memory"},
        BadSpec{"resource_claims", with_resources({{"claims", {{{"name", "x"}}}}}),
                "InvalidResources", "spec.resources.claims is not supported"},
        BadSpec{"resources_typo", with_resources({{"limts", {{"cpu", "1"}}}}), "InvalidResources",
                "spec.resources: unknown field \"limts\""},
        BadSpec{"limits_not_a_map", with_resources({{"limits", "1Gi"}}), "InvalidResources",
                "spec.resources.limits must be a map"},
        // Environment: v1.34's names, string values, the valueFrom and envFrom shapes.
        BadSpec{"env_name_with_equals", with_env({{{"name", "A=B"}, {"value", "x"}}}), "InvalidEnv",
                "spec.env[0].name: \"A=B\" is not an environment variable name: use printable "
                "ASCII without '='"},
        BadSpec{"env_name_not_ascii", with_env({{{"name", "caf\u00e9"}, {"value", "x"}}}),
                "InvalidEnv", "is not an environment variable name"},
        BadSpec{"env_name_with_tab", with_env({{{"name", "A\tB"}, {"value", "x"}}}), "InvalidEnv",
                "spec.env[0].name"},
        BadSpec{"env_name_missing", with_env({{{"value", "x"}}}), "InvalidEnv",
                "spec.env[0].name is missing"},
        BadSpec{"env_second_entry",
                with_env({{{"name", "OK"}, {"value", "x"}}, {{"name", ""}, {"value", "y"}}}),
                "InvalidEnv", "spec.env[1].name is missing"},
        BadSpec{"env_value_number", with_env({{{"name", "PORT"}, {"value", 8080}}}), "InvalidEnv",
                "spec.env[0].value: 8080 is not a string: quote it (\"8080\")"},
        BadSpec{"env_value_typo", with_env({{{"name", "A"}, {"vaule", "x"}}}), "InvalidEnv",
                "spec.env[0]: unknown field \"vaule\""},
        BadSpec{"env_not_an_object", with_env({"A=B"}), "InvalidEnv",
                "spec.env[0] must be an object"},
        BadSpec{"env_pod_name_is_the_platforms", with_env({{{"name", "POD_NAME"}, {"value", "x"}}}),
                "InvalidEnv", "spec.env sets POD_NAME, which the platform owns"},
        BadSpec{"env_value_and_value_from",
                with_env({{{"name", "A"},
                           {"value", "x"},
                           {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}}}),
                "InvalidEnv", "spec.env[0] sets both value and valueFrom"},
        BadSpec{"value_from_empty", with_value_from(json::object()), "InvalidEnv",
                "spec.env[0].valueFrom must set exactly one of"},
        BadSpec{"value_from_two_sources",
                with_value_from({{"secretKeyRef", {{"name", "s"}, {"key", "k"}}},
                                 {"configMapKeyRef", {{"name", "c"}, {"key", "k"}}}}),
                "InvalidEnv", "must set exactly one of"},
        BadSpec{"value_from_file_key_ref",
                with_value_from({{"fileKeyRef", {{"volumeName", "tmp"}, {"key", "k"}}}}),
                "InvalidEnv", "spec.env[0].valueFrom: unknown field \"fileKeyRef\""},
        BadSpec{"field_ref_unknown_path",
                with_value_from({{"fieldRef", {{"fieldPath", "metadata.nam"}}}}), "InvalidEnv",
                "spec.env[0].valueFrom.fieldRef.fieldPath: \"metadata.nam\" is not a pod field"},
        BadSpec{"field_ref_label_key",
                with_value_from({{"fieldRef", {{"fieldPath", "metadata.labels['bad key']"}}}}),
                "InvalidEnv", "is not a pod field"},
        BadSpec{
            "field_ref_api_version",
            with_value_from({{"fieldRef", {{"fieldPath", "status.podIP"}, {"apiVersion", "v2"}}}}),
            "InvalidEnv", "fieldRef.apiVersion: \"v2\" is not supported"},
        BadSpec{"resource_field_ref_unknown",
                with_value_from({{"resourceFieldRef", {{"resource", "limits.mem"}}}}), "InvalidEnv",
                "spec.env[0].valueFrom.resourceFieldRef.resource: \"limits.mem\" is not a "
                "container resource"},
        BadSpec{"resource_field_ref_other_container",
                with_value_from({{"resourceFieldRef",
                                  {{"resource", "limits.memory"}, {"containerName", "sidecar"}}}}),
                "InvalidEnv", "containerName: \"sidecar\" is not the function's container"},
        BadSpec{"resource_field_ref_divisor",
                with_value_from({{"resourceFieldRef",
                                  {{"resource", "limits.cpu"}, {"divisor", "2m"}}}}),
                "InvalidEnv", "divisor: \"2m\" is not a divisor for limits.cpu: use 1 or 1m"},
        BadSpec{"config_map_key_ref_name",
                with_value_from({{"configMapKeyRef", {{"name", "Bad_Name"}, {"key", "k"}}}}),
                "InvalidEnv",
                "spec.env[0].valueFrom.configMapKeyRef.name: \"Bad_Name\" is not a ConfigMap "
                "name"},
        BadSpec{"config_map_key_ref_key",
                with_value_from({{"configMapKeyRef", {{"name", "c"}, {"key", "bad/key"}}}}),
                "InvalidEnv", "configMapKeyRef.key: \"bad/key\" is not a key"},
        BadSpec{"secret_key_ref_dot_dot",
                with_value_from({{"secretKeyRef", {{"name", "s"}, {"key", "..a"}}}}), "InvalidEnv",
                "secretKeyRef.key: \"..a\" is not a key"},
        BadSpec{"secret_key_ref_without_key", with_value_from({{"secretKeyRef", {{"name", "s"}}}}),
                "InvalidEnv", "spec.env[0].valueFrom.secretKeyRef.key is missing"},
        BadSpec{"env_from_no_source", with_env_from({{{"prefix", "P_"}}}), "InvalidEnv",
                "spec.envFrom[0] must set exactly one of configMapRef and secretRef"},
        BadSpec{"env_from_bad_prefix",
                with_env_from({{{"prefix", "A="}, {"configMapRef", {{"name", "c"}}}}}),
                "InvalidEnv", "spec.envFrom[0].prefix: \"A=\" is not an environment variable"},
        BadSpec{"env_from_bad_secret_name", with_env_from({{{"secretRef", {{"name", "Y"}}}}}),
                "InvalidEnv", "spec.envFrom[0].secretRef.name: \"Y\" is not a Secret name"},
        BadSpec{"env_from_secret_without_name", with_env_from({{{"secretRef", json::object()}}}),
                "InvalidEnv", "spec.envFrom[0].secretRef.name is missing"},
        BadSpec{"env_from_typo", with_env_from({{{"configMapref", {{"name", "c"}}}}}), "InvalidEnv",
                "spec.envFrom[0]: unknown field \"configMapref\""},
        // Images: the reference grammar the container runtime parses.
        BadSpec{"image_upper_case", with_image("Registry.local/Hello:1"), "InvalidImage",
                "spec.image: \"Registry.local/Hello:1\" is not an image reference"},
        BadSpec{"image_space", with_image("registry.local/hello :1"), "InvalidImage",
                "is not an image reference"},
        BadSpec{"image_empty_tag", with_image("registry.local/hello:"), "InvalidImage",
                "is not an image reference"},
        BadSpec{"image_short_digest", with_image("registry.local/hello@sha256:abc"), "InvalidImage",
                "is not an image reference"},
        BadSpec{"image_unknown_digest",
                with_image("registry.local/hello@md5:" + std::string(32, 'a')), "InvalidImage",
                "is not an image reference"},
        BadSpec{"image_double_slash", with_image("registry.local//hello"), "InvalidImage",
                "is not an image reference"},
        BadSpec{"image_leading_dash", with_image("-registry/hello"), "InvalidImage",
                "is not an image reference"},
        // The builder: file names, symbols, package names.
        BadSpec{"handler_keyword", patched(inline_spec(), {{"handler", "hello.int"}}),
                "InvalidHandler", "not a keyword"},
        BadSpec{"handler_module_path", patched(inline_spec(), {{"handler", "../x.run"}}),
                "InvalidHandler", "spec.handler \"../x.run\" must be <module>.<function>"},
        BadSpec{"handler_module_slash", patched(inline_spec(), {{"handler", "a/b.run"}}),
                "InvalidHandler", "module \"a/b\""},
        BadSpec{"handler_module_option", patched(inline_spec(), {{"handler", "-o.run"}}),
                "InvalidHandler", "module \"-o\""},
        BadSpec{"handler_too_long",
                patched(inline_spec(), {{"handler", std::string(250, 'm') + ".run"}}),
                "InvalidHandler", "spec.handler is too long"},
        BadSpec{"dependency_option", patched(inline_spec(), {{"dependencies", {"-oAPT::x=1"}}}),
                "InvalidDependency",
                "spec.dependencies[0]: \"-oAPT::x=1\" is not a Debian package name"},
        BadSpec{"dependency_upper_case",
                patched(inline_spec(), {{"dependencies", {"zlib1g-dev", "Zlib"}}}),
                "InvalidDependency", "spec.dependencies[1]: \"Zlib\""},
        BadSpec{"dependency_not_a_string", patched(inline_spec(), {{"dependencies", {7}}}),
                "InvalidDependency", "spec.dependencies[0]: 7"},
        BadSpec{"dependency_too_long",
                patched(inline_spec(), {{"dependencies", {std::string(129, 'a')}}}),
                "InvalidDependency", "at most 128"},
        BadSpec{
            "dependencies_too_many",
            patched(inline_spec(), {{"dependencies", std::vector<std::string>(65, "zlib1g-dev")}}),
            "InvalidDependency", "spec.dependencies lists 65 packages: at most 64"},
        // Sources.
        BadSpec{"url_credentials", with_url("https://user:pw@example.com/h.cpp"), "InvalidSource",
                "spec.source.url carries credentials"},
        BadSpec{"url_upper_scheme", with_url("HTTPS://example.com/h.cpp"), "InvalidSource",
                "is not an http(s) URL"},
        BadSpec{"url_no_host", with_url("https:///h.cpp"), "InvalidSource",
                "is not an http(s) URL"},
        BadSpec{"url_too_long", with_url("https://example.com/" + std::string(2100, 'a')),
                "InvalidSource", "spec.source.url is 2120 characters: at most 2048"},
        BadSpec{"url_credentials_any_scheme", with_url("ftp://user:pw@example.com/h.cpp"),
                "InvalidSource", "carries credentials"},
        BadSpec{"sha256_upper_case",
                function_with({{"handler", "hello.greet"},
                               {"source",
                                {{"url", "https://example.com/h.cpp"},
                                 {"sha256", std::string(64, 'A')}}}}),
                "InvalidSource", "64 lower-case hex digits"},
        BadSpec{"sha256_without_url",
                patched(inline_spec(), {{"source", {{"sha256", std::string(64, 'a')}}}}),
                "InvalidSource", "spec.source.sha256 is set without spec.source.url"},
        BadSpec{"inline_too_large",
                patched(inline_spec(), {{"source", {{"inline", std::string((1 << 20) + 1, 'x')}}}}),
                "InvalidSource", "more than the 1 MiB a ConfigMap holds"},
        BadSpec{
            "config_map_key_syntax",
            function_with({{"handler", "hello.greet"},
                           {"source", {{"configMapRef", {{"name", "c"}, {"key", "a/b.cpp"}}}}}}),
            "InvalidSource", "spec.source.configMapRef.key \"a/b.cpp\" is not a ConfigMap key"},
        BadSpec{"config_map_key_dot_dot",
                function_with({{"handler", "hello.greet"},
                               {"source", {{"configMapRef", {{"name", "c"}, {"key", "..data"}}}}}}),
                "InvalidSource", "is not a ConfigMap key"},
        BadSpec{"config_map_ref_not_an_object",
                function_with({{"handler", "hello.greet"}, {"source", {{"configMapRef", "c"}}}}),
                "InvalidSpec", "spec.source.configMapRef must be {name, key}"},
        // Names and bounds.
        BadSpec{"name_too_long",
                json{{"metadata", {{"name", std::string(53, 'a')}}}, {"spec", inline_spec()}},
                "InvalidName", "at most 52"},
        BadSpec{"name_with_dot", json{{"metadata", {{"name", "a.b"}}}, {"spec", inline_spec()}},
                "InvalidName", "metadata.name \"a.b\""},
        BadSpec{"name_starts_with_digit",
                json{{"metadata", {{"name", "1a"}}}, {"spec", inline_spec()}}, "InvalidName",
                "starting with a letter"},
        BadSpec{"secret_too_long", patched(inline_spec(), {{"secrets", {std::string(254, 'a')}}}),
                "InvalidSecret", "spec.secrets[0]"},
        BadSpec{"replicas_range", patched(inline_spec(), {{"replicas", -1}}), "InvalidSpec",
                "spec.replicas is -1"},
        BadSpec{"concurrency_range", patched(inline_spec(), {{"concurrency", 10001}}),
                "InvalidSpec", "spec.concurrency is 10001"},
        BadSpec{"max_replicas_zero", patched(inline_spec(), {{"scaling", {{"maxReplicas", 0}}}}),
                "InvalidSpec", "spec.scaling.maxReplicas is 0"},
        BadSpec{"grace_range",
                patched(inline_spec(), {{"scaling", {{"scaleToZeroGracePeriod", 86401}}}}),
                "InvalidSpec", "spec.scaling.scaleToZeroGracePeriod is 86401"},
        BadSpec{"target_zero", patched(inline_spec(), {{"scaling", {{"target", 0}}}}),
                "InvalidScaling", "above 0"},
        BadSpec{"unknown_keep_alive", patched(inline_spec(), {{"scaling", {{"keepAlive", "x"}}}}),
                "InvalidScaling", "learned or fixed"},
        // The price of a cold start: replica-seconds, 0 to a day.
        BadSpec{"cold_start_cost_negative",
                patched(inline_spec(), {{"scaling", {{"coldStartCost", -1}}}}), "InvalidScaling",
                "spec.scaling.coldStartCost is -1; it must be a number of replica-seconds from 0"},
        BadSpec{"cold_start_cost_nan",
                patched(inline_spec(), {{"scaling", {{"coldStartCost", std::nan("")}}}}),
                "InvalidScaling", "spec.scaling.coldStartCost is NaN"},
        BadSpec{
            "cold_start_cost_infinite",
            patched(inline_spec(),
                    {{"scaling", {{"coldStartCost", std::numeric_limits<double>::infinity()}}}}),
            "InvalidScaling", "spec.scaling.coldStartCost is infinite"},
        BadSpec{"cold_start_cost_above_a_day",
                patched(inline_spec(), {{"scaling", {{"coldStartCost", 86400.5}}}}),
                "InvalidScaling", "from 0 to 86400"},
        BadSpec{"cold_start_cost_string",
                patched(inline_spec(), {{"scaling", {{"coldStartCost", "60"}}}}), "InvalidScaling",
                "spec.scaling.coldStartCost is \"60\""}),
    [](const auto& info) { return std::string(info.param.name); });

struct GoodSpec {
  const char* name;
  json function;
};

class SpecAccepts : public ::testing::TestWithParam<GoodSpec> {};

TEST_P(SpecAccepts, WhatItsConsumersAccept) {
  auto got = parse_function(GetParam().function);
  if (auto* err = std::get_if<SpecError>(&got)) {
    ADD_FAILURE() << err->reason << ": " << err->message;
  }
}

// Edge cases that are valid for the API server, the runtime and the builder, and stay valid.
INSTANTIATE_TEST_SUITE_P(
    EdgeCases, SpecAccepts,
    ::testing::Values(
        GoodSpec{
            "quantities",
            with_resources(
                {{"requests",
                  {{"cpu", "0.1"}, {"memory", "1073741824"}, {"ephemeral-storage", "1.5Gi"}}},
                 {"limits", {{"cpu", "100m"}, {"memory", "1Gi"}, {"ephemeral-storage", "2e9"}}}})},
        GoodSpec{"quantity_numbers", with_resources({{"limits", {{"cpu", 2}, {"memory", 1e9}}}})},
        GoodSpec{"quantity_forms", with_resources({{"limits",
                                                    {{"cpu", " 1.5 "},
                                                     {"memory", "+128Mi"},
                                                     {"ephemeral-storage", "1.Gi"},
                                                     {"example.com/fpga", "1E"}}},
                                                   {"requests", {{"example.com/fpga", "1e18"}}}})},
        GoodSpec{"tiny_cpu", with_resources({{"limits", {{"cpu", "1e-20"}}}})},
        GoodSpec{"large_memory", with_resources({{"limits", {{"memory", "7Ei"}}}})},
        GoodSpec{"extended_and_hugepages",
                 with_resources({{"requests", {{"example.com/gpu", "2"}, {"hugepages-2Mi", "4Mi"}}},
                                 {"limits",
                                  {{"example.com/gpu", "2"},
                                   {"hugepages-2Mi", "4Mi"},
                                   {"memory", "1Gi"},
                                   {"example.com/a_b", 1}}}})},
        GoodSpec{"limit_below_default_request", with_resources({{"limits", {{"memory", "16Mi"}}}})},
        GoodSpec{"request_above_default_limit",
                 with_resources({{"requests", {{"memory", "1Gi"}}}})},
        GoodSpec{"null_requests", with_resources({{"requests", nullptr}})},
        GoodSpec{"relaxed_env_names", with_env({{{"name", "my var"}, {"value", "x"}},
                                                {{"name", "1abc"}, {"value", ""}},
                                                {{"name", "a.b-c"}},
                                                {{"name", "A"}, {"value", "1"}},
                                                {{"name", "A"}, {"value", "2"}}})},
        GoodSpec{
            "value_from_every_source",
            with_env({{{"name", "A"},
                       {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.labels['app']"}}}}}},
                      {{"name", "B"},
                       {"valueFrom",
                        {{"fieldRef",
                          {{"fieldPath", "metadata.annotations['example.com/x']"},
                           {"apiVersion", "v1"}}}}}},
                      {{"name", "C"},
                       {"valueFrom", {{"fieldRef", {{"fieldPath", "status.hostIPs"}}}}}},
                      {{"name", "D"},
                       {"value", ""},
                       {"valueFrom",
                        {{"resourceFieldRef",
                          {{"resource", "limits.memory"},
                           {"containerName", "function"},
                           {"divisor", "1Mi"}}}}}},
                      {{"name", "E"},
                       {"valueFrom",
                        {{"resourceFieldRef", {{"resource", "requests.cpu"}, {"divisor", "1m"}}}}}},
                      {{"name", "F"},
                       {"valueFrom",
                        {{"configMapKeyRef",
                          {{"name", "my.config"}, {"key", "KEY_name.x"}, {"optional", true}}}}}},
                      {{"name", "G"},
                       {"valueFrom", {{"secretKeyRef", {{"name", "db"}, {"key", ".hidden"}}}}}}})},
        GoodSpec{"env_from", with_env_from({{{"configMapRef", {{"name", "c"}}}},
                                            {{"prefix", "1 x"},
                                             {"secretRef", {{"name", "s"}, {"optional", false}}}},
                                            {{"prefix", ""}, {"configMapRef", {{"name", "d"}}}}})},
        GoodSpec{"images", function_with({{"handler", "hello.greet"}, {"image", "hello"}})},
        GoodSpec{
            "image_with_port_and_digest",
            with_image("localhost:5000/team/hello_world:v1.0-rc.1@sha256:" + std::string(64, 'a'))},
        GoodSpec{"image_ipv6_registry", with_image("[::1]:5000/a/b.c__d--e:latest")},
        GoodSpec{"image_domain_case", with_image("Registry.Example.com/hello")},
        GoodSpec{"image_digest_only",
                 with_image("registry.local/x@sha512:" + std::string(128, 'f'))},
        GoodSpec{"handler_forms", patched(inline_spec(), {{"handler", "my-module_2._greet3"}})},
        GoodSpec{"handler_longest",
                 patched(inline_spec(), {{"handler", std::string(249, 'm') + ".run"}})},
        GoodSpec{
            "dependencies",
            patched(inline_spec(), {{"dependencies", {"zlib1g-dev", "libc++-dev", "g++-12"}}})},
        GoodSpec{"secrets_with_dots_and_duplicates",
                 patched(inline_spec(), {{"secrets", {"db.credentials", "db.credentials", "a"}}})},
        GoodSpec{"config_map_key",
                 function_with({{"handler", "hello.greet"},
                                {"source",
                                 {{"configMapRef", {{"name", "c.d"}, {"key", "src_1.cpp"}}}}}})},
        GoodSpec{"url_with_port_query_fragment",
                 with_url("http://127.0.0.1:8080/a/h.cpp?x=1&y=@2#frag")},
        GoodSpec{"inline_at_the_limit",
                 patched(inline_spec(), {{"source", {{"inline", std::string(1 << 20, 'x')}}}})},
        GoodSpec{"name_longest",
                 json{{"metadata", {{"name", std::string(52, 'a')}}}, {"spec", inline_spec()}}},
        GoodSpec{"bounds", patched(inline_spec(), {{"replicas", 0},
                                                   {"timeout", 3600},
                                                   {"concurrency", 1},
                                                   {"scaling",
                                                    {{"minReplicas", 100000},
                                                     {"maxReplicas", 100000},
                                                     {"target", 0.5},
                                                     {"scaleToZeroGracePeriod", 0}}}})}),
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
  EXPECT_FALSE(s.cold_start_cost.has_value());  // unset: the autoscaler's default
}

TEST(FunctionSpec, ColdStartCostIsReplicaSeconds) {
  for (const double cost : {0.0, 12.5, 86400.0}) {
    auto got = parse_function(patched(inline_spec(), {{"scaling", {{"coldStartCost", cost}}}}));
    ASSERT_TRUE(std::holds_alternative<FunctionSpec>(got)) << std::get<SpecError>(got).message;
    EXPECT_EQ(std::get<FunctionSpec>(got).cold_start_cost, cost);
  }
  auto integer = parse_function(patched(inline_spec(), {{"scaling", {{"coldStartCost", 300}}}}));
  ASSERT_TRUE(std::holds_alternative<FunctionSpec>(integer));
  EXPECT_EQ(std::get<FunctionSpec>(integer).cold_start_cost, 300.0);
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

TEST(FunctionSpec, DuplicateSecretsCollapse) {
  auto got = parse_function(patched(inline_spec(), {{"secrets", {"db", "db"}}}));
  ASSERT_TRUE(std::holds_alternative<FunctionSpec>(got));
  EXPECT_EQ(std::get<FunctionSpec>(got).secrets, std::vector<std::string>{"db"});
}

TEST(FunctionSpec, DuplicateDependenciesCollapse) {
  auto got =
      parse_function(patched(inline_spec(), {{"dependencies", {"zlib1g-dev", "zlib1g-dev"}}}));
  ASSERT_TRUE(std::holds_alternative<FunctionSpec>(got));
  EXPECT_EQ(std::get<FunctionSpec>(got).dependencies.size(), 1u);
}

}  // namespace
}  // namespace kubefn::controller
