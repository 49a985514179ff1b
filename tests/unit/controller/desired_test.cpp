// Golden tests of the desired-state builders. Set KUBEFN_UPDATE_GOLDEN=1 to rewrite the
// golden files after an intended change, then review the diff.
#include "kubefn/platform/kubernetes/desired.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "kubefn/controller/source_digest.hpp"

namespace kubefn::platform::kubernetes {
namespace {

using controller::FunctionSpec;
using controller::parse_function;
using controller::source_digest;
using controller::SpecError;
using nlohmann::json;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void expect_golden(const json& got, const std::string& name) {
  const std::string path = std::string(KUBEFN_GOLDEN_DIR) + "/" + name;
  const std::string text = got.dump(2) + "\n";
  if (std::getenv("KUBEFN_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path) << text;
    return;
  }
  EXPECT_EQ(text, slurp(path)) << "golden file " << name << " differs";
}

// The example manifest as the API server would hand it over (YAML -> JSON, plus metadata).
json example_function(const std::string& name) {
  YAML::Node y = YAML::LoadFile(std::string(KUBEFN_EXAMPLES_DIR) + "/" + name + "/function.yaml");
  json spec = {{"handler", y["spec"]["handler"].as<std::string>()},
               {"runtime", y["spec"]["runtime"].as<std::string>()},
               {"timeout", y["spec"]["timeout"].as<int>()},
               {"source", {{"inline", y["spec"]["source"]["inline"].as<std::string>()}}},
               {"scaling",
                {{"minReplicas", y["spec"]["scaling"]["minReplicas"].as<int>()},
                 {"maxReplicas", y["spec"]["scaling"]["maxReplicas"].as<int>()},
                 {"metric", y["spec"]["scaling"]["metric"].as<std::string>()},
                 {"target", y["spec"]["scaling"]["target"].as<int>()}}},
               {"triggers",
                {{"http", {{"path", y["spec"]["triggers"]["http"]["path"].as<std::string>()}}}}}};
  if (y["spec"]["access"]) spec["access"] = y["spec"]["access"].as<std::string>();
  return {{"apiVersion", "kubefn.dev/v1alpha1"},
          {"kind", "Function"},
          {"metadata",
           {{"name", name}, {"namespace", "default"}, {"uid", "uid-" + name}, {"generation", 1}}},
          {"spec", spec}};
}

FunctionSpec parsed(const json& fn) {
  auto got = parse_function(fn);
  if (auto* err = std::get_if<SpecError>(&got)) ADD_FAILURE() << err->message;
  return std::get<FunctionSpec>(got);
}

TEST(Desired, HelloObjectsMatchGolden) {
  FunctionSpec spec = parsed(example_function("hello"));
  const std::string digest = source_digest(spec, spec.inline_source);
  json cm = make_source_config_map(spec, spec.inline_source, digest);
  json dep = make_deployment(spec, {"registry.local/kubefn/hello@sha256:" + std::string(64, '0'),
                                    cm["metadata"]["name"], digest, 1, ""});
  expect_golden(cm, "hello-configmap.json");
  expect_golden(dep, "hello-deployment.json");
  expect_golden(make_service(spec), "hello-service.json");
  BuildJobInputs job{cm["metadata"]["name"],
                     digest,
                     "registry.local/kubefn/default/hello",
                     "registry.local/kubefn/runtime:1",
                     "registry.local/kubefn/builder:1",
                     "push-creds",
                     true,
                     600};
  expect_golden(make_build_job(spec, job), "hello-build-job.json");
}

TEST(Desired, ReplicasReportLoadOnlyWhenAStatsAddressIsGiven) {
  FunctionSpec spec = parsed(example_function("hello"));
  auto env_of = [&](const std::string& stats) {
    DeploymentInputs in{"r/x:1", "", "", 1, stats};
    return make_deployment(spec, in)["spec"]["template"]["spec"]["containers"][0]["env"].dump();
  };
  EXPECT_EQ(env_of("").find("KUBEFN_STATS_ADDRESS"), std::string::npos);
  EXPECT_NE(env_of("").find("\"POD_NAME\""), std::string::npos);
  EXPECT_NE(env_of("kubefn-operator.kubefn-system.svc:9091")
                .find("kubefn-operator.kubefn-system.svc:9091"),
            std::string::npos);
}

// A build installs nothing: dependencies are the builder image's, so even a build that
// declares some runs as the builder's non-root user, with no capability.
TEST(Desired, BuildJobRunsAsNonRootAndInstallsNothingEvenWithDependencies) {
  FunctionSpec spec = parsed(example_function("hello"));
  BuildJobInputs in{"cm", std::string(64, 'a'), "r/x", "r/base", "r/builder", "", false, 60};
  json plain = make_build_job(spec, in)["spec"]["template"]["spec"];
  EXPECT_EQ(plain["securityContext"]["runAsNonRoot"], true);
  EXPECT_EQ(plain["volumes"].size(), 2u) << "no registry Secret asked for";
  spec.dependencies = {"zlib1g-dev"};
  json deps = make_build_job(spec, in)["spec"]["template"]["spec"];
  EXPECT_EQ(deps["securityContext"], plain["securityContext"]);
  EXPECT_EQ(deps["securityContext"]["runAsUser"], 65532);
  EXPECT_EQ(deps["containers"][0]["securityContext"], plain["containers"][0]["securityContext"]);
  EXPECT_FALSE(deps["containers"][0]["securityContext"]["capabilities"].contains("add"));
  EXPECT_EQ(deps["containers"][0]["securityContext"]["allowPrivilegeEscalation"], false);
  const std::string args = deps["containers"][0]["args"].dump();
  EXPECT_NE(args.find("\"--dependency\",\"zlib1g-dev\""), std::string::npos) << args;
  EXPECT_EQ(args.find("--install-dependencies"), std::string::npos) << args;
  EXPECT_EQ(build_job_name(spec, in.source_digest), "hello-build-aaaaaaaaaa");
  spec.name = std::string(60, 'n');
  EXPECT_LE(build_job_name(spec, in.source_digest).size(), 63u);
}

TEST(Desired, DigestFollowsEveryBuildInputAndNothingElse) {
  FunctionSpec a = parsed(example_function("hello"));
  FunctionSpec b = a;
  EXPECT_EQ(source_digest(a, "x"), source_digest(b, "x"));
  b.timeout_seconds = 5;  // not a build input
  EXPECT_EQ(source_digest(a, "x"), source_digest(b, "x"));
  EXPECT_NE(source_digest(a, "x"), source_digest(a, "y"));
  b.dependencies = {"zlib1g-dev"};
  EXPECT_NE(source_digest(a, "x"), source_digest(b, "x"));
  b = a;
  b.handler_name = "other";
  EXPECT_NE(source_digest(a, "x"), source_digest(b, "x"));
  EXPECT_EQ(source_config_map_name(a, source_digest(a, "x")).rfind("hello-src-", 0), 0u);
}

TEST(Desired, DeploymentLeavesReplicasToTheScaleOwnerWhenUnset) {
  FunctionSpec spec = parsed(example_function("echo"));
  json dep = make_deployment(spec, {"img", "", "", std::nullopt, ""});
  EXPECT_FALSE(dep["spec"].contains("replicas"));
  // No source ConfigMap for a prebuilt image: only /tmp is mounted.
  EXPECT_EQ(dep["spec"]["template"]["spec"]["volumes"].size(), 1u);
}

TEST(Desired, DeploymentIsRestrictedAndScrapable) {
  FunctionSpec spec = parsed(example_function("echo"));
  spec.secrets = {"db"};
  spec.env = json::array({{{"name", "MODE"}, {"value", "fast"}}});
  json dep = make_deployment(spec, {"img", "echo-src-1", "d", 2, ""});
  const json& pod = dep["spec"]["template"]["spec"];
  const json& c = pod["containers"][0];
  EXPECT_EQ(pod["securityContext"]["runAsNonRoot"], true);
  EXPECT_EQ(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
  EXPECT_EQ(c["securityContext"]["readOnlyRootFilesystem"], true);
  EXPECT_EQ(c["securityContext"]["allowPrivilegeEscalation"], false);
  EXPECT_EQ(c["securityContext"]["capabilities"]["drop"][0], "ALL");
  EXPECT_EQ(dep["spec"]["template"]["metadata"]["annotations"]["prometheus.io/scrape"], "true");
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"], "/readyz");
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"], "/healthz");
  EXPECT_EQ(c["env"].back()["name"], "MODE");
  bool secret_mounted = false;
  for (const auto& m : c["volumeMounts"]) {
    if (m["mountPath"] == "/var/run/secrets/kubefn/db") secret_mounted = m["readOnly"] == true;
  }
  EXPECT_TRUE(secret_mounted);
  EXPECT_EQ(dep["metadata"]["ownerReferences"][0]["controller"], true);
  EXPECT_EQ(dep["metadata"]["ownerReferences"][0]["uid"], "uid-echo");
}

// Every valid Secret name makes valid volume names: a label, unique per Secret.
TEST(Desired, SecretVolumesAreNamedAsLabelsWhateverTheSecretName) {
  FunctionSpec spec = parsed(example_function("echo"));
  spec.secrets = {"db", "db.credentials", std::string(60, 's'), std::string(61, 's')};
  json dep = make_deployment(spec, {"img", "", "", 1, ""});
  const json& pod = dep["spec"]["template"]["spec"];
  std::set<std::string> names;
  static const std::regex label("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");
  for (const auto& v : pod["volumes"]) {
    const std::string n = v["name"];
    EXPECT_LE(n.size(), 63u) << n;
    EXPECT_TRUE(std::regex_match(n, label)) << n;
    EXPECT_TRUE(names.insert(n).second) << "two volumes named " << n;
  }
  EXPECT_EQ(pod["volumes"][1]["name"], "secret-db");  // as before for names that fit
  EXPECT_EQ(pod["volumes"][2]["secret"]["secretName"], "db.credentials");
  std::set<std::string> mounted;
  for (const auto& m : pod["containers"][0]["volumeMounts"])
    mounted.insert(m["name"].get<std::string>());
  EXPECT_EQ(mounted, names);
  EXPECT_EQ(pod["containers"][0]["volumeMounts"][2]["mountPath"],
            "/var/run/secrets/kubefn/db.credentials");
}

json resources_of(const json& resources) {
  FunctionSpec spec = parsed(example_function("echo"));
  spec.resources = resources;
  return make_deployment(
      spec, {"img", "", "", 1, ""})["spec"]["template"]["spec"]["containers"][0]["resources"];
}

TEST(Desired, ResourceDefaultsNeverContradictWhatTheFunctionSets) {
  EXPECT_EQ(resources_of(json::object()), json({{"requests", {{"cpu", "50m"}, {"memory", "32Mi"}}},
                                                {"limits", {{"memory", "128Mi"}}}}));
  // A limit below a default request lowers that request to it.
  EXPECT_EQ(resources_of({{"limits", {{"memory", "16Mi"}, {"cpu", "10m"}}}}),
            json({{"requests", {{"cpu", "10m"}, {"memory", "16Mi"}}},
                  {"limits", {{"memory", "16Mi"}, {"cpu", "10m"}}}}));
  // A request above the default limit raises that limit to it.
  EXPECT_EQ(resources_of({{"requests", {{"memory", "1Gi"}}}}),
            json({{"requests", {{"memory", "1Gi"}}}, {"limits", {{"memory", "1Gi"}}}}));
  // What the Function sets is kept as it is.
  EXPECT_EQ(resources_of({{"requests", {{"cpu", "1"}}}, {"limits", {{"cpu", 2}}}}),
            json({{"requests", {{"cpu", "1"}}}, {"limits", {{"cpu", 2}}}}));
}

}  // namespace
}  // namespace kubefn::platform::kubernetes
