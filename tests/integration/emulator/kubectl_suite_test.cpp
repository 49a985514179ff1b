// Drives the real kubectl v1.34 binary against the emulator: each test gets its own emulator,
// kubeconfig and discovery cache directory.

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <memory>

#include "emulator_fixture.hpp"
#include "kubefn/testing/command.hpp"
#include "kubefn/testing/temp_dir.hpp"

namespace kubefn::emulator::testing {
namespace {

using kubefn::testing::BackgroundCommand;
using kubefn::testing::CommandResult;
using kubefn::testing::run_command;
using kubefn::testing::TempDir;
using std::chrono::seconds;

const char kCrdYaml[] = R"(apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.emulator.kubefn.dev
spec:
  group: emulator.kubefn.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas, labelSelectorPath: .status.selector}
    additionalPrinterColumns:
    - {name: Color, type: string, jsonPath: .spec.color}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
)";

// A Function kind with a structural schema, as crds/function.yaml declares it (trimmed).
const char kFunctionCrdYaml[] = R"(apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: functions.kubefn.dev
spec:
  group: kubefn.dev
  scope: Namespaced
  names: {plural: functions, singular: function, kind: Function, shortNames: [fn]}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [handler]
            properties:
              handler: {type: string, pattern: '^[A-Za-z_][A-Za-z0-9_-]*\.[A-Za-z_][A-Za-z0-9_]*$'}
              timeout: {type: integer, minimum: 1, maximum: 3600, default: 180}
)";

std::string function_yaml(const std::string& spec_extra) {
  return "apiVersion: kubefn.dev/v1alpha1\nkind: Function\nmetadata:\n  name: hello\n"
         "spec:\n  handler: hello.greet\n" +
         spec_extra;
}

std::string widget_yaml(const std::string& color) {
  return "apiVersion: emulator.kubefn.dev/v1\nkind: Widget\nmetadata:\n  name: blue\n"
         "  labels: {app: blue}\nspec:\n  color: " +
         color + "\n  replicas: 1\n";
}

std::string deployment_yaml(const std::string& image) {
  return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, labels: {app: web}}\n"
         "spec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n"
         "    metadata: {labels: {app: web}}\n    spec:\n      containers:\n"
         "      - {name: web, image: \"" +
         image + "\"}\n      - {name: side, image: \"busybox:1\"}\n";
}

std::string kubectl_binary() {
  if (const char* env = std::getenv("KUBEFN_KUBECTL"); env != nullptr && *env != '\0') return env;
  return KUBEFN_DEFAULT_KUBECTL;
}

class KubectlSuite : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kubectl_binary().c_str(), X_OK) != 0) {
      GTEST_SKIP() << "kubectl not found at " << kubectl_binary() << " (set KUBEFN_KUBECTL)";
    }
  }

  // Writes a kubeconfig for `emu` (and the CA when it serves TLS).
  void use(const KubeEmulator& emu, const std::string& token = "") {
    std::string cluster = "server: \"" + emu.url() + "\"";
    if (!emu.ca_pem().empty()) {
      std::ofstream(dir_.path() / "ca.pem") << emu.ca_pem();
      cluster += ", certificate-authority: \"" + (dir_.path() / "ca.pem").string() + "\"";
    }
    std::ofstream(dir_.path() / "kubeconfig")
        << "apiVersion: v1\nkind: Config\n"
        << "clusters: [{name: emu, cluster: {" << cluster << "}}]\n"
        << "contexts: [{name: emu, context: {cluster: emu, user: emu, namespace: default}}]\n"
        << "current-context: emu\n"
        << "users: [{name: emu, user: {" << (token.empty() ? "" : "token: " + token) << "}}]\n";
    std::filesystem::remove_all(dir_.path() / "cache");
  }

  std::vector<std::string> argv(const std::vector<std::string>& args) const {
    std::vector<std::string> v = {kubectl_binary(),
                                  "--kubeconfig",
                                  (dir_.path() / "kubeconfig").string(),
                                  "--cache-dir",
                                  (dir_.path() / "cache").string(),
                                  "--request-timeout=20s"};
    v.insert(v.end(), args.begin(), args.end());
    return v;
  }

  CommandResult kubectl(const std::vector<std::string>& args, const std::string& stdin_data = "") {
    return run_command(argv(args), {}, seconds(30), stdin_data);
  }

  std::unique_ptr<BackgroundCommand> kubectl_background(const std::vector<std::string>& args) {
    return std::make_unique<BackgroundCommand>(argv(args));
  }

  // Applies `yaml` via stdin and expects success.
  void apply(const std::string& yaml, const std::string& expect,
             const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"apply", "-f", "-"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = kubectl(args, yaml);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find(expect), std::string::npos) << r.out;
  }

  void install_crd() {
    apply(kCrdYaml,
          "customresourcedefinition.apiextensions.k8s.io/widgets.emulator.kubefn.dev created");
    auto r = kubectl({"wait", "--for", "condition=established", "crd/widgets.emulator.kubefn.dev",
                      "--timeout=20s"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("condition met"), std::string::npos);
  }

  TempDir dir_;
};

TEST_F(KubectlSuite, CustomResourceLifecycle) {
  KubeEmulator emu;
  use(emu);
  install_crd();
  apply(widget_yaml("blue"), "widget.emulator.kubefn.dev/blue created");
  apply(widget_yaml("navy"), "widget.emulator.kubefn.dev/blue configured");

  auto r = kubectl({"get", "widgets"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("NAME   COLOR   REPLICAS   AGE", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("blue   navy"), std::string::npos) << r.out;

  {
    auto watch = kubectl_background({"get", "widgets", "-w"});
    ASSERT_TRUE(watch->wait_for_output("navy", seconds(20))) << watch->out();
    r = kubectl({"patch", "widget", "blue", "--type=merge", "-p", R"({"spec":{"color":"red"}})"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(watch->wait_for_output("red", seconds(20))) << watch->out();
  }

  r = kubectl({"scale", "widget", "blue", "--replicas=3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("scaled"), std::string::npos);
  EXPECT_EQ((*emu.get(std::string(kWidgets) + "/blue"))["spec"]["replicas"], 3);

  r = kubectl({"describe", "widget", "blue"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Kind:         Widget"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Replicas:  3"), std::string::npos) << r.out;

  apply(widget_yaml("green"), "widget.emulator.kubefn.dev/blue serverside-applied",
        {"--server-side"});
  const auto applied = *emu.get(std::string(kWidgets) + "/blue");
  EXPECT_EQ(applied["spec"]["color"], "green");
  bool kubectl_manager = false;
  for (const auto& m : applied["metadata"]["managedFields"])
    kubectl_manager |= m["manager"] == "kubectl";
  EXPECT_TRUE(kubectl_manager) << applied.dump();

  r = kubectl({"patch", "widget", "blue", "--type=merge", "-p",
               R"({"metadata":{"finalizers":["emulator.kubefn.dev/hold"]}})"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  {
    auto deletion = kubectl_background({"delete", "widget", "blue", "--timeout=30s"});
    ASSERT_TRUE(wait_until(
        [&] {
          auto w = emu.get(std::string(kWidgets) + "/blue");
          return w && (*w)["metadata"].contains("deletionTimestamp");
        },
        seconds(20)));
    r = kubectl({"get", "widget", "blue", "-o", "jsonpath={.metadata.deletionTimestamp}"});
    EXPECT_FALSE(r.out.empty()) << "deletion is pending while the finalizer stays";
    r = kubectl({"patch", "widget", "blue", "--type=json", "-p",
                 R"([{"op":"remove","path":"/metadata/finalizers"}])"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto done = deletion->wait(seconds(30));
    EXPECT_EQ(done.exit_code, 0) << done.err;
    EXPECT_NE(done.out.find("widget.emulator.kubefn.dev \"blue\" deleted"), std::string::npos)
        << done.out;
  }
  r = kubectl({"get", "widget", "blue"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("NotFound"), std::string::npos) << r.err;
}

// kubectl sends fieldValidation=Strict unless told otherwise; the answers are the real server's.
TEST_F(KubectlSuite, ApplyFollowsFieldValidation) {
  KubeEmulator emu;
  use(emu);
  apply(kFunctionCrdYaml,
        "customresourcedefinition.apiextensions.k8s.io/functions.kubefn.dev created");
  const std::string unknown = function_yaml("  foo: 1\n");

  auto r = kubectl({"apply", "-f", "-"}, unknown);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("Error from server (BadRequest): error when creating \"STDIN\": Function in "
                       "version \"v1alpha1\" cannot be handled as a Function: strict decoding "
                       "error: unknown field \"spec.foo\""),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(emu.get("/apis/kubefn.dev/v1alpha1/namespaces/default/functions/hello"));

  r = kubectl({"apply", "--validate=warn", "-f", "-"}, unknown);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("Warning: unknown field \"spec.foo\""), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("function.kubefn.dev/hello created"), std::string::npos) << r.out;
  const auto stored = emu.get("/apis/kubefn.dev/v1alpha1/namespaces/default/functions/hello");
  ASSERT_TRUE(stored);
  EXPECT_EQ((*stored)["spec"], nlohmann::json::parse(R"({"handler":"hello.greet","timeout":180})"));

  // Applying it again patches: a Strict patch quotes the patched object.
  r = kubectl({"apply", "-f", "-"}, unknown);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err.rfind("The request is invalid: patch: Invalid value: \"{", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("\": strict decoding error: unknown field \"spec.foo\""), std::string::npos)
      << r.err;

  r = kubectl({"apply", "--validate=false", "-f", "-"}, unknown);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("Warning"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("function.kubefn.dev/hello configured"), std::string::npos) << r.out;

  r = kubectl({"apply", "--server-side", "-f", "-"}, unknown);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("Error from server: failed to create typed patch object (default/hello; "
                       "kubefn.dev/v1alpha1, Kind=Function): .spec.foo: field not declared in "
                       "schema"),
            std::string::npos)
      << r.err;

  // Values the schema forbids are refused whatever the validation mode.
  r = kubectl({"apply", "--validate=false", "-f", "-"}, function_yaml("  timeout: \"x\"\n"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("spec.timeout: Invalid value: \"string\": spec.timeout in body must be of "
                       "type integer: \"string\""),
            std::string::npos)
      << r.err;
}

TEST_F(KubectlSuite, LabelsSelectorsReplaceAndEvents) {
  KubeEmulator emu;
  use(emu);
  install_crd();
  apply(widget_yaml("blue"), "created");
  auto r = kubectl({"label", "widget", "blue", "tier=gold"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = kubectl({"get", "widgets", "-A", "--show-labels", "-l", "tier=gold", "--field-selector",
               "metadata.name=blue"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("NAMESPACE"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("app=blue,tier=gold"), std::string::npos) << r.out;
  r = kubectl({"get", "widgets", "-l", "tier=silver"});
  EXPECT_NE(r.err.find("No resources found"), std::string::npos) << r.err;

  // replace with a stale resourceVersion is refused.
  auto live = *emu.get(std::string(kWidgets) + "/blue");
  const std::string stale = rv_of(live);
  r = kubectl({"patch", "widget", "blue", "--type=merge", "-p", R"({"spec":{"color":"teal"}})"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  live["spec"]["color"] = "pink";
  live["metadata"]["resourceVersion"] = stale;
  r = kubectl({"replace", "-f", "-"}, live.dump());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("the object has been modified"), std::string::npos) << r.err;

  // describe lists the events recorded for the object.
  const auto uid = live["metadata"]["uid"].get<std::string>();
  auto ev = emu.call("POST", "/api/v1/namespaces/default/events",
                     {{"metadata", {{"name", "blue.1"}}},
                      {"involvedObject",
                       {{"apiVersion", "emulator.kubefn.dev/v1"},
                        {"kind", "Widget"},
                        {"name", "blue"},
                        {"namespace", "default"},
                        {"uid", uid}}},
                      {"reason", "Painted"},
                      {"message", "painted teal"},
                      {"type", "Normal"},
                      {"count", 1},
                      {"source", {{"component", "painter"}}}});
  ASSERT_EQ(ev.status, 201) << ev.body.dump();
  r = kubectl({"describe", "widget", "blue"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("painted teal"), std::string::npos) << r.out;
}

TEST_F(KubectlSuite, WaitSurvivesAnExpiredWatch) {
  KubeEmulator emu;
  use(emu);
  install_crd();
  apply(widget_yaml("blue"), "created");
  emu.expire_next_watches(1);
  auto waiter = kubectl_background(
      {"wait", "--for=jsonpath={.status.phase}=Ready", "widget/blue", "--timeout=30s"});
  ASSERT_TRUE(wait_until([&] { return emu.open_watches() > 0; }, seconds(20)));
  auto r = kubectl({"patch", "widget", "blue", "--subresource=status", "--type=merge", "-p",
                    R"({"status":{"phase":"Ready"}})"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto done = waiter->wait(seconds(30));
  EXPECT_EQ(done.exit_code, 0) << done.err;
  EXPECT_NE(done.out.find("condition met"), std::string::npos) << done.out;
}

TEST_F(KubectlSuite, DeploymentApplyScaleAndRollout) {
  KubeEmulator emu;
  use(emu);
  apply(deployment_yaml("nginx:1.27"), "deployment.apps/web created");
  apply(deployment_yaml("nginx:1.28"), "deployment.apps/web configured");
  const auto d = *emu.get(std::string(kDeployments) + "/web");
  const auto& containers = d["spec"]["template"]["spec"]["containers"];
  ASSERT_EQ(containers.size(), 2u);
  EXPECT_EQ(containers[0]["image"], "nginx:1.28");
  auto r = kubectl({"scale", "deployment", "web", "--replicas=2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = kubectl({"rollout", "status", "deployment/web", "--timeout=20s"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("successfully rolled out"), std::string::npos) << r.out;
  r = kubectl({"get", "deployments"});
  EXPECT_NE(r.out.find("web    2/2     2            2"), std::string::npos) << r.out;
  // Imperative generators send protobuf; the client-side dry-run route is JSON.
  auto cm = kubectl(
      {"create", "configmap", "settings", "--from-literal=a=b", "--dry-run=client", "-o", "yaml"});
  ASSERT_EQ(cm.exit_code, 0) << cm.err;
  apply(cm.out, "configmap/settings created");
}

const char kRbacYaml[] = R"(apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
rules:
- {apiGroups: [""], resources: [pods], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}
subjects: [{kind: ServiceAccount, name: app, namespace: default}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: lease, namespace: default}
rules:
- {apiGroups: [coordination.k8s.io], resources: [leases], resourceNames: [one], verbs: [get, update]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: lease, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: lease}
subjects: [{kind: ServiceAccount, name: app, namespace: default}]
)";

TEST_F(KubectlSuite, RbacKindsAreStoredAndServed) {
  KubeEmulator emu;
  use(emu);
  auto r = kubectl({"apply", "-f", "-"}, kRbacYaml);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("clusterrole.rbac.authorization.k8s.io/reader created"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("clusterrolebinding.rbac.authorization.k8s.io/reader created"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("role.rbac.authorization.k8s.io/lease created"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rolebinding.rbac.authorization.k8s.io/lease created"), std::string::npos)
      << r.out;
  r = kubectl({"get", "clusterrole", "reader", "-o", "jsonpath={.rules[0].verbs}"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, R"(["get","list","watch"])");
  r = kubectl({"get", "clusterrolebinding", "reader", "-o",
               "jsonpath={.roleRef.name}/{.subjects[0].namespace}/{.subjects[0].name}"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "reader/default/app");
  r = kubectl(
      {"get", "role", "lease", "-n", "default", "-o", "jsonpath={.rules[0].resourceNames}"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, R"(["one"])");
  r = kubectl({"get", "rolebindings", "-n", "default", "-o", "name"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "rolebinding.rbac.authorization.k8s.io/lease\n");
  // Cluster-scoped kinds have no namespace; a second apply changes nothing.
  r = kubectl({"get", "clusterroles", "-A", "-o", "name"});
  EXPECT_EQ(r.out, "clusterrole.rbac.authorization.k8s.io/reader\n") << r.err;
  r = kubectl({"apply", "-f", "-"}, kRbacYaml);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("clusterrole.rbac.authorization.k8s.io/reader unchanged"), std::string::npos)
      << r.out;
  r = kubectl({"delete", "clusterrolebinding", "reader"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = kubectl({"get", "clusterrolebinding", "reader"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("NotFound"), std::string::npos) << r.err;
}

// What helm --wait looks at: a ReplicaSet controlled by each Deployment, for its current
// template and as ready as the Deployment, and a clusterIP on every Service.
TEST_F(KubectlSuite, DeploymentsGetAReplicaSetAndServicesAClusterIp) {
  KubeEmulator emu;
  use(emu);
  apply(deployment_yaml("nginx:1.27"), "deployment.apps/web created");
  const std::string uid = (*emu.get(std::string(kDeployments) + "/web"))["metadata"]["uid"];
  const std::string fields =
      "jsonpath={range .items[*]}{.metadata.ownerReferences[0].uid} "
      "{.spec.template.spec.containers[0].image} {.status.readyReplicas} "
      "{.status.observedGeneration}={.metadata.generation}{\"\\n\"}{end}";
  auto sets = [&] { return kubectl({"get", "replicasets", "-l", "app=web", "-o", fields}).out; };
  EXPECT_TRUE(wait_until([&] { return sets() == uid + " nginx:1.27 1 1=1\n"; }, seconds(20)))
      << sets();
  apply(deployment_yaml("nginx:1.28"), "deployment.apps/web configured");
  auto r = kubectl({"scale", "deployment", "web", "--replicas=3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(wait_until([&] { return sets().find(uid + " nginx:1.28 3 ") == 0; }, seconds(20)))
      << sets();
  const std::string now = sets();
  EXPECT_EQ(std::count(now.begin(), now.end(), '\n'), 1) << now;
  r = kubectl({"get", "rs", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.labels}"});
  EXPECT_NE(r.out.find("pod-template-hash"), std::string::npos) << r.out;
  r = kubectl({"delete", "deployment", "web"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(wait_until([&] { return sets().empty(); }, seconds(20))) << sets();

  apply(
      "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n"
      "  ports: [{port: 80}]\n",
      "service/web created");
  r = kubectl({"get", "service", "web", "-o", "jsonpath={.spec.type} {.spec.clusterIP}"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.rfind("ClusterIP 10.96.", 0) == 0) << r.out;
}

// Typed clients (kubectl's generators, helm's release storage) send Secrets and ConfigMaps as
// protobuf; other kinds still get 415.
TEST_F(KubectlSuite, ProtobufSecretsAndConfigMapsAreAccepted) {
  KubeEmulator emu;
  use(emu);
  auto r = kubectl({"create", "secret", "generic", "keys", "--from-literal=token=abc",
                    "--from-literal=other=x y"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "secret/keys created\n");
  r = kubectl({"get", "secret", "keys", "-o", "jsonpath={.type} {.data.token} {.data.other}"});
  EXPECT_EQ(r.out, "Opaque YWJj eCB5") << r.err;
  r = kubectl({"create", "configmap", "settings", "--from-literal=a=b"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = kubectl({"get", "configmap", "settings", "-o", "jsonpath={.data.a}"});
  EXPECT_EQ(r.out, "b") << r.err;
  r = kubectl({"create", "deployment", "web", "--image=nginx:1.27"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("unknown format"), std::string::npos) << r.err;
  r = kubectl({"delete", "secret", "keys"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(kubectl({"get", "secret", "keys"}).exit_code, 0);
}

TEST_F(KubectlSuite, StandaloneBinaryPrintsItsUrl) {
  BackgroundCommand server({KUBEFN_EMULATOR_BINARY, "--port", "0", "--tls", "--token", "t0k3n",
                            "--ca-out", (dir_.path() / "ca.pem").string()});
  ASSERT_TRUE(server.wait_for_output("\n", seconds(20))) << server.out();
  const std::string url = server.out().substr(0, server.out().find('\n'));
  ASSERT_EQ(url.rfind("https://127.0.0.1:", 0), 0u) << url;
  std::ofstream(dir_.path() / "kubeconfig")
      << "apiVersion: v1\nkind: Config\n"
      << "clusters: [{name: emu, cluster: {server: \"" << url << "\", certificate-authority: \""
      << (dir_.path() / "ca.pem").string() << "\"}}]\n"
      << "contexts: [{name: emu, context: {cluster: emu, user: emu, namespace: default}}]\n"
      << "current-context: emu\nusers: [{name: emu, user: {token: t0k3n}}]\n";
  auto r = kubectl({"get", "namespace", "default"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Active"), std::string::npos) << r.out;
}

TEST_F(KubectlSuite, TlsWithBearerToken) {
  EmulatorOptions o;
  o.tls = true;
  o.token = "s3cret";
  KubeEmulator emu(o);
  use(emu, "s3cret");
  auto r = kubectl({"get", "namespaces"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("kube-system"), std::string::npos);
  use(emu, "wrong");
  r = kubectl({"get", "namespaces"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("provide credentials"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace kubefn::emulator::testing
