// The Helm chart (charts/kubefn) with a real helm: lint, what it renders with default values
// and with a values file, and a release's install, upgrade and uninstall against the API
// emulator and against the real control plane, looked at with a real kubectl.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kubefn/emulator/yaml_to_json.hpp"
#include "kubefn/testing/command.hpp"
#include "kubefn/testing/process.hpp"
#include "kubefn/testing/temp_dir.hpp"
#include "kubefn/testing/test_api.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

const std::string kChart = std::string(KUBEFN_SOURCE_DIR) + "/charts/kubefn";
const char kNamespace[] = "kubefn-system";

std::string tool_path(const char* env_name, const char* fallback) {
  const char* env = std::getenv(env_name);
  return env != nullptr && *env != '\0' ? env : fallback;
}

std::string helm_path() {
  return tool_path("KUBEFN_HELM", KUBEFN_DEFAULT_HELM);
}

std::string kubectl_path() {
  return tool_path("KUBEFN_KUBECTL", KUBEFN_DEFAULT_KUBECTL);
}

struct Manifest {
  std::vector<json> objects;

  // The object of `kind` named `name` (in `ns` when given), or null.
  json find(const std::string& kind, const std::string& name, const std::string& ns = "") const {
    for (const auto& o : objects) {
      if (o.value("kind", "") != kind) continue;
      const auto& meta = o["metadata"];
      if (meta.value("name", "") != name) continue;
      if (!ns.empty() && meta.value("namespace", "") != ns) continue;
      return o;
    }
    return nullptr;
  }
  std::vector<json> all(const std::string& kind) const {
    std::vector<json> out;
    for (const auto& o : objects) {
      if (o.value("kind", "") == kind) out.push_back(o);
    }
    return out;
  }
};

// What helm rendered, as the API server gets it from kubectl: ports and replicas are numbers,
// securityContext flags booleans, so a value the chart quoted by mistake fails the test.
Manifest parse_manifest(const std::string& text) {
  Manifest m;
  emulator::YamlError error;
  auto docs = emulator::yaml_documents_to_json(text, &error);
  if (!docs) {
    ADD_FAILURE() << "document " << error.document << " (line " << error.line + 1
                  << "): " << error.message << "\n"
                  << text;
    return m;
  }
  for (auto& doc : *docs) {
    if (doc.value.is_object()) m.objects.push_back(std::move(doc.value));
  }
  return m;
}

// One YAML document (a ConfigMap's data entry) as JSON; null when it does not parse.
json yaml_to_json(const std::string& text) {
  emulator::YamlError error;
  auto docs = emulator::yaml_documents_to_json(text, &error);
  if (!docs || docs->empty()) {
    ADD_FAILURE() << "line " << error.line + 1 << ": " << error.message << "\n" << text;
    return nullptr;
  }
  return (*docs)[0].value;
}

std::vector<std::string> container_args(const json& deployment) {
  std::vector<std::string> out;
  for (const auto& a : deployment["spec"]["template"]["spec"]["containers"][0]["args"])
    out.push_back(a.get<std::string>());
  return out;
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// The value of "--flag=value" in args, or "" when absent.
std::string flag(const std::vector<std::string>& args, const std::string& name) {
  const std::string prefix = name + "=";
  for (const auto& a : args) {
    if (a.rfind(prefix, 0) == 0) return a.substr(prefix.size());
  }
  return "";
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v)
    out += s + " ";
  return out;
}

// The verbs of the rule of `role` that names `resource` (in `group`), or empty.
std::vector<std::string> verbs_for(const json& role, const std::string& group,
                                   const std::string& resource) {
  for (const auto& rule : role["rules"]) {
    const auto groups = rule.value("apiGroups", json::array());
    const auto resources = rule.value("resources", json::array());
    if (std::find(groups.begin(), groups.end(), group) == groups.end()) continue;
    if (std::find(resources.begin(), resources.end(), resource) == resources.end()) continue;
    std::vector<std::string> verbs;
    for (const auto& v : rule["verbs"])
      verbs.push_back(v.get<std::string>());
    return verbs;
  }
  return {};
}

// helm with its own cache, config and data folders; render() needs no API. `Base` is
// ::testing::Test, or TestWithParam<ApiKind> for the suites that run against both APIs.
template <typename Base>
class ChartFixture : public Base {
 protected:
  void SetUp() override {
    if (access(helm_path().c_str(), X_OK) != 0) {
      GTEST_SKIP() << "helm not found at " << helm_path()
                   << " (run scripts/setup or set KUBEFN_HELM)";
    }
  }

  std::map<std::string, std::string> helm_env() const {
    return {{"HELM_CACHE_HOME", dir_.file("helm/cache")},
            {"HELM_CONFIG_HOME", dir_.file("helm/config")},
            {"HELM_DATA_HOME", dir_.file("helm/data")},
            {"KUBECONFIG", kubeconfig_.empty() ? dir_.file("kubeconfig") : kubeconfig_}};
  }

  CommandResult helm(std::vector<std::string> args) {
    args.insert(args.begin(), helm_path());
    return run_command(args, helm_env(), seconds(180));
  }

  Manifest render(std::vector<std::string> extra = {}, const std::string& release = "kubefn") {
    std::vector<std::string> args = {"template", release, kChart, "--namespace", kNamespace};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = helm(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return parse_manifest(r.out);
  }

  TempDir dir_;
  std::string kubeconfig_;  // what helm talks to (empty: none)
};

using ChartTest = ChartFixture<::testing::Test>;

TEST(ChartCrd, CopyInTheChartIsCrdsFunctionYaml) {
  // Helm installs what charts/kubefn/crds holds; it must be the CRD kubectl users apply.
  const std::string canonical = read_file(std::string(KUBEFN_SOURCE_DIR) + "/crds/function.yaml");
  const std::string in_chart = read_file(kChart + "/crds/function.yaml");
  ASSERT_FALSE(canonical.empty());
  EXPECT_EQ(in_chart, canonical)
      << "charts/kubefn/crds/function.yaml differs from crds/function.yaml; copy it over";
}

TEST_F(ChartTest, LintsClean) {
  auto r = helm({"lint", "--strict", kChart});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("1 chart(s) linted, 0 chart(s) failed"), std::string::npos) << r.out;
  // (lint reports a template's fail() as information; rendering refuses.)
  r = helm({"template", "kubefn", kChart, "--set", "operator.replicas=2", "--set",
            "operator.leaderElection.enabled=false"});
  EXPECT_NE(r.exit_code, 0) << "several replicas without leader election must be refused";
  EXPECT_NE(r.err.find("needs operator.leaderElection.enabled"), std::string::npos) << r.err;
}

TEST_F(ChartTest, DefaultValuesRender) {
  const Manifest m = render();
  const json op = m.find("Deployment", "kubefn-operator", kNamespace);
  const json gw = m.find("Deployment", "kubefn-gateway", kNamespace);
  ASSERT_FALSE(op.is_null());
  ASSERT_FALSE(gw.is_null());

  const auto op_args = container_args(op);
  EXPECT_TRUE(has(op_args, "--leader-elect")) << joined(op_args);
  EXPECT_EQ(flag(op_args, "--lease-name"), "kubefn-operator");
  EXPECT_EQ(flag(op_args, "--metrics-port"), "8080");
  EXPECT_EQ(flag(op_args, "--stats-port"), "9090");
  EXPECT_EQ(flag(op_args, "--registry"), "") << "builds are off without a registry";
  EXPECT_EQ(flag(op_args, "--namespaces"), "") << "all namespaces by default";
  EXPECT_EQ(op["spec"]["template"]["spec"]["containers"][0]["image"], "kubefn/operator:0.1.0");

  // --stats-address names the operator's own Service, whose stats port reaches the pods.
  const std::string stats = flag(op_args, "--stats-address");
  EXPECT_EQ(stats, "kubefn-operator.kubefn-system.svc.cluster.local:9090");
  const std::string svc_name = stats.substr(0, stats.find('.'));
  const json svc = m.find("Service", svc_name, kNamespace);
  ASSERT_FALSE(svc.is_null()) << "no Service " << svc_name;
  EXPECT_EQ(svc["spec"]["selector"], op["spec"]["template"]["metadata"]["labels"]);
  bool stats_port = false;
  for (const auto& p : svc["spec"]["ports"]) {
    if (p.value("port", 0) == 9090 && p.value("targetPort", "") == "stats") stats_port = true;
  }
  EXPECT_TRUE(stats_port) << svc.dump();

  const auto gw_args = container_args(gw);
  EXPECT_TRUE(has(gw_args, "--kubernetes")) << joined(gw_args);
  // Reachable on the pod's address, not only inside it (the gateway binds 127.0.0.1 by default).
  EXPECT_EQ(flag(gw_args, "--bind-address"), "0.0.0.0") << joined(gw_args);
  EXPECT_EQ(flag(gw_args, "--keys-secret"), "kubefn-system/kubefn-gateway-keys");
  EXPECT_EQ(flag(gw_args, "--stats-address"), stats);
  EXPECT_EQ(flag(gw_args, "--activation-timeout"), "30");
  EXPECT_EQ(flag(gw_args, "--queue-timeout"), "10");
  EXPECT_EQ(flag(gw_args, "--queue-limit"), "1000");
  // Metrics on a listener of their own, reachable on the pod's address, not in the Service.
  EXPECT_EQ(flag(gw_args, "--metrics-port"), "9090");
  EXPECT_EQ(flag(gw_args, "--metrics-bind-address"), "0.0.0.0");
  const json& gw_ports = gw["spec"]["template"]["spec"]["containers"][0]["ports"];
  ASSERT_EQ(gw_ports.size(), 2u) << gw_ports.dump();
  EXPECT_EQ(gw_ports[1]["name"], "metrics");
  EXPECT_EQ(gw_ports[1]["containerPort"], 9090);
  const json gw_svc = m.find("Service", "kubefn-gateway", kNamespace);
  ASSERT_FALSE(gw_svc.is_null());
  EXPECT_EQ(gw_svc["spec"]["type"], "ClusterIP");
  EXPECT_EQ(gw_svc["spec"]["ports"][0]["port"], 80);
  EXPECT_EQ(gw_svc["spec"]["ports"].size(), 1u) << "the Service exposes calls only";

  // Probes and the locked-down security context on both.
  for (const json* d : {&op, &gw}) {
    const json& pod = (*d)["spec"]["template"]["spec"];
    const json& c = pod["containers"][0];
    EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    EXPECT_EQ(pod["securityContext"]["runAsNonRoot"], true);
    EXPECT_EQ(c["securityContext"]["readOnlyRootFilesystem"], true);
    EXPECT_EQ(c["securityContext"]["allowPrivilegeEscalation"], false);
    EXPECT_EQ(c["securityContext"]["capabilities"]["drop"], json::array({"ALL"}));
  }
  EXPECT_EQ(op["spec"]["template"]["spec"]["serviceAccountName"], "kubefn-operator");
  EXPECT_EQ(gw["spec"]["template"]["spec"]["serviceAccountName"], "kubefn-gateway");

  // RBAC: what each component's code uses, no more.
  const json op_role = m.find("ClusterRole", "kubefn-operator");
  ASSERT_FALSE(op_role.is_null());
  EXPECT_EQ(verbs_for(op_role, "kubefn.dev", "functions"),
            (std::vector<std::string>{"get", "list", "watch"}));
  EXPECT_EQ(verbs_for(op_role, "kubefn.dev", "functions/status"),
            (std::vector<std::string>{"get", "update", "patch"}));
  EXPECT_EQ(verbs_for(op_role, "apps", "deployments/scale"), (std::vector<std::string>{"patch"}));
  EXPECT_EQ(verbs_for(op_role, "", "events"), (std::vector<std::string>{"create"}));
  EXPECT_EQ(verbs_for(op_role, "", "pods"), (std::vector<std::string>{"get", "list", "watch"}));
  EXPECT_EQ(verbs_for(op_role, "", "pods/log"), (std::vector<std::string>{"get"}))
      << "the last log lines of a crashed replica, for its Function's Ready condition";
  EXPECT_TRUE(verbs_for(op_role, "", "secrets").empty()) << "the operator reads no Secret";
  EXPECT_FALSE(verbs_for(op_role, "batch", "jobs").empty());
  for (const auto& rule : op_role["rules"]) {
    for (const auto& v : rule["verbs"])
      EXPECT_NE(v, "*") << rule.dump();
  }
  const json gw_role = m.find("ClusterRole", "kubefn-gateway");
  ASSERT_FALSE(gw_role.is_null());
  for (const auto& rule : gw_role["rules"]) {
    EXPECT_EQ(rule["verbs"], json::array({"get", "list", "watch"})) << "the gateway only reads";
  }
  EXPECT_TRUE(verbs_for(gw_role, "", "secrets").empty()) << "keys: a Role on one Secret";
  const json keys_role = m.find("Role", "kubefn-gateway-keys", kNamespace);
  ASSERT_FALSE(keys_role.is_null());
  EXPECT_EQ(keys_role["rules"][0]["resourceNames"], json::array({"kubefn-gateway-keys"}));
  const json lease_role = m.find("Role", "kubefn-operator-leader-election", kNamespace);
  ASSERT_FALSE(lease_role.is_null());
  EXPECT_EQ(verbs_for(lease_role, "coordination.k8s.io", "leases").size(), 1u);
  for (const char* name : {"kubefn-operator", "kubefn-gateway"}) {
    const json b = m.find("ClusterRoleBinding", name);
    ASSERT_FALSE(b.is_null()) << name;
    EXPECT_EQ(b["roleRef"]["name"], name);
    EXPECT_EQ(b["subjects"][0]["name"], name);
    EXPECT_EQ(b["subjects"][0]["namespace"], kNamespace);
  }
  const json metering_role = m.find("Role", "kubefn-operator-metering", kNamespace);
  ASSERT_FALSE(metering_role.is_null());
  EXPECT_EQ(metering_role["rules"][1]["resourceNames"], json::array({"kubefn-metering"}))
      << "get and update: the metering checkpoint only";
  EXPECT_TRUE(m.all("RoleBinding").size() == 3u) << "only the Lease, keys and metering bindings";

  const json secret = m.find("Secret", "kubefn-gateway-keys", kNamespace);
  ASSERT_FALSE(secret.is_null());
  EXPECT_GE(secret["data"].value("token", "").size(), 40u);
}

// Cost accounting with default values: the price sheet (the built-in one) in a ConfigMap
// that both components mount and read with --prices; the dashboard ConfigMap labelled for
// Grafana's sidecar; the rules ConfigMap; no Prometheus Operator objects.
TEST_F(ChartTest, DefaultValuesRenderCostAccounting) {
  const Manifest m = render();
  const json prices = m.find("ConfigMap", "kubefn-prices", kNamespace);
  ASSERT_FALSE(prices.is_null());
  const json sheet = yaml_to_json(prices["data"].value("prices.yaml", ""));
  // The defaults of metering::PriceSheet, under the names parse_price_sheet reads.
  EXPECT_EQ(sheet, json::parse(R"({"currency": "USD", "granularity": "1ms",
      "cpuCoreHour": 0.031611, "memoryGBHour": 0.004237, "requestsPerMillion": 0,
      "lambda": {"requestsPerMillion": 0.2, "gbSecond": 0.0000166667},
      "defaultMemory": "128Mi"})"))
      << prices.dump(2);
  for (const char* name : {"kubefn-operator", "kubefn-gateway"}) {
    const json d = m.find("Deployment", name, kNamespace);
    ASSERT_FALSE(d.is_null()) << name;
    const json& pod = d["spec"]["template"]["spec"];
    EXPECT_EQ(flag(container_args(d), "--prices"), "/etc/kubefn/prices/prices.yaml") << name;
    ASSERT_EQ(pod["volumes"].size(), 1u) << name << ": " << pod["volumes"].dump();
    EXPECT_EQ(pod["volumes"][0]["name"], "prices");
    EXPECT_EQ(pod["volumes"][0]["configMap"]["name"], "kubefn-prices");
    const json& mounts = pod["containers"][0]["volumeMounts"];
    ASSERT_EQ(mounts.size(), 1u) << name << ": " << mounts.dump();
    EXPECT_EQ(mounts[0]["name"], "prices");
    EXPECT_EQ(mounts[0]["mountPath"], "/etc/kubefn/prices");
    EXPECT_EQ(mounts[0]["readOnly"], true);
    // A subPath mount is never updated: the file must follow the ConfigMap.
    EXPECT_FALSE(mounts[0].contains("subPath"));
  }

  const json dash = m.find("ConfigMap", "kubefn-dashboard", kNamespace);
  ASSERT_FALSE(dash.is_null());
  EXPECT_EQ(dash["metadata"]["labels"]["grafana_dashboard"], "1");
  const std::string dash_text = dash["data"].value("kubefn-cost.json", "");
  EXPECT_EQ(dash_text, read_file(kChart + "/files/dashboard.json"));
  const json board = json::parse(dash_text, nullptr, false);
  ASSERT_TRUE(board.is_object()) << "the dashboard is not JSON";
  EXPECT_EQ(board["uid"], "kubefn-cost");
  EXPECT_GE(board.value("schemaVersion", 0), 39);

  const json rules = m.find("ConfigMap", "kubefn-recording-rules", kNamespace);
  ASSERT_FALSE(rules.is_null());
  const std::string rules_text = rules["data"].value("kubefn.rules.yaml", "");
  EXPECT_EQ(rules_text, read_file(kChart + "/files/recording-rules.yaml"));
  const json groups = yaml_to_json(rules_text);
  ASSERT_TRUE(groups.contains("groups")) << rules_text;
  EXPECT_GE(groups["groups"].size(), 1u);

  for (const char* kind : {"PodMonitor", "ServiceMonitor", "PrometheusRule"}) {
    EXPECT_TRUE(m.all(kind).empty()) << kind << " is off by default";
  }
  EXPECT_TRUE(m.find("Service", "kubefn-gateway-metrics", kNamespace).is_null());
}

TEST_F(ChartTest, PricesComeFromValues) {
  const auto values = dir_.write("values.yaml", R"(prices:
  currency: EUR
  granularity: 100ms
  cpuCoreHour: 0.05
  memoryGBHour: 0.006
  requestsPerMillion: 0.1
  lambda: {requestsPerMillion: 0.25, gbSecond: 0.00002}
  defaultMemory: 256Mi
)");
  const Manifest m = render({"-f", values.string()}, "edge");
  const json prices = m.find("ConfigMap", "edge-kubefn-prices", kNamespace);
  ASSERT_FALSE(prices.is_null());
  EXPECT_EQ(yaml_to_json(prices["data"].value("prices.yaml", "")),
            json::parse(R"({"currency": "EUR", "granularity": "100ms", "cpuCoreHour": 0.05,
                "memoryGBHour": 0.006, "requestsPerMillion": 0.1,
                "lambda": {"requestsPerMillion": 0.25, "gbSecond": 0.00002},
                "defaultMemory": "256Mi"})"))
      << prices.dump(2);
  for (const char* name : {"edge-kubefn-operator", "edge-kubefn-gateway"}) {
    const json d = m.find("Deployment", name, kNamespace);
    ASSERT_FALSE(d.is_null()) << name;
    EXPECT_EQ(d["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"],
              "edge-kubefn-prices");
  }
  // One field left out keeps the binaries' default; a name the sheet lacks is refused.
  const Manifest some = render({"--set", "prices.lambda=null"});
  const json sheet = yaml_to_json(
      some.find("ConfigMap", "kubefn-prices", kNamespace)["data"].value("prices.yaml", ""));
  EXPECT_FALSE(sheet.contains("lambda")) << sheet.dump();
  EXPECT_EQ(sheet["cpuCoreHour"], 0.031611);
  // helm --set makes strings of decimals: they are written as numbers all the same.
  const Manifest set = render({"--set", "prices.cpuCoreHour=0.05", "--set",
                               "prices.lambda.gbSecond=1e-5", "--set", "prices.granularity=10ms"});
  const json set_sheet = yaml_to_json(
      set.find("ConfigMap", "kubefn-prices", kNamespace)["data"].value("prices.yaml", ""));
  EXPECT_EQ(set_sheet["cpuCoreHour"], 0.05) << set_sheet.dump();
  EXPECT_EQ(set_sheet["lambda"]["gbSecond"], 1e-5) << set_sheet.dump();
  EXPECT_EQ(set_sheet["granularity"], "10ms") << set_sheet.dump();
  auto r = helm({"template", "kubefn", kChart, "--set", "prices.memoryGBHour=abc"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("prices.memoryGBHour: \"abc\" is not a number >= 0"), std::string::npos)
      << r.err;
  r = helm({"template", "kubefn", kChart, "--set", "prices.cpuCorehour=1"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("prices.cpuCorehour is not a field of the price sheet"), std::string::npos)
      << r.err;
  r = helm({"template", "kubefn", kChart, "--set", "prices.lambda.gbsecond=1"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("prices.lambda.gbsecond is not a field"), std::string::npos) << r.err;
}

TEST_F(ChartTest, DashboardAndRulesValues) {
  const Manifest m =
      render({"--set", "metrics.dashboard.labelValue=kubefn", "--set",
              "metrics.dashboard.label=dashboards", "--set", "metrics.dashboard.namespace=grafana",
              "--set", "metrics.dashboard.annotations.grafana_folder=kubefn", "--set",
              "metrics.rules.labels.role=rules"});
  const json dash = m.find("ConfigMap", "kubefn-dashboard", "grafana");
  ASSERT_FALSE(dash.is_null());
  EXPECT_EQ(dash["metadata"]["labels"]["dashboards"], "kubefn");
  EXPECT_FALSE(dash["metadata"]["labels"].contains("grafana_dashboard"));
  EXPECT_EQ(dash["metadata"]["annotations"]["grafana_folder"], "kubefn");
  const json rules = m.find("ConfigMap", "kubefn-recording-rules", kNamespace);
  ASSERT_FALSE(rules.is_null());
  EXPECT_EQ(rules["metadata"]["labels"]["role"], "rules");

  const Manifest off =
      render({"--set", "metrics.dashboard.enabled=false", "--set", "metrics.rules.enabled=false"});
  EXPECT_TRUE(off.find("ConfigMap", "kubefn-dashboard").is_null());
  EXPECT_TRUE(off.find("ConfigMap", "kubefn-recording-rules").is_null());
  EXPECT_FALSE(off.find("ConfigMap", "kubefn-prices", kNamespace).is_null())
      << "the price sheet is always there: both components read it";
}

// The Prometheus Operator's objects: only when enabled, and only where the API exists (helm
// template: --api-versions).
TEST_F(ChartTest, MonitorsAndPrometheusRuleOnlyWhenEnabled) {
  const std::vector<std::string> enabled = {"--set", "metrics.podMonitor.enabled=true",
                                            "--set", "metrics.serviceMonitor.enabled=true",
                                            "--set", "metrics.prometheusRule.enabled=true",
                                            "--set", "metrics.prometheusRule.labels.release=prom",
                                            "--set", "metrics.podMonitor.labels.release=prom",
                                            "--set", "metrics.podMonitor.interval=15s"};
  // Without the API: nothing (NOTES.txt warns).
  const Manifest no_api = render(enabled);
  for (const char* kind : {"PodMonitor", "ServiceMonitor", "PrometheusRule"}) {
    EXPECT_TRUE(no_api.all(kind).empty()) << kind << " without monitoring.coreos.com/v1";
  }
  // With the API but not enabled: nothing either.
  const Manifest off = render({"--api-versions", "monitoring.coreos.com/v1"});
  for (const char* kind : {"PodMonitor", "ServiceMonitor", "PrometheusRule"}) {
    EXPECT_TRUE(off.all(kind).empty()) << kind << " is off by default";
  }

  std::vector<std::string> args = enabled;
  args.insert(args.end(), {"--api-versions", "monitoring.coreos.com/v1"});
  const Manifest m = render(args);
  const json op = m.find("Deployment", "kubefn-operator", kNamespace);
  const json gw = m.find("Deployment", "kubefn-gateway", kNamespace);
  ASSERT_FALSE(op.is_null());
  ASSERT_FALSE(gw.is_null());

  // The PodMonitor selects both components' pods and scrapes their port named metrics,
  // keeping the metrics' own namespace label.
  const json pm = m.find("PodMonitor", "kubefn", kNamespace);
  ASSERT_FALSE(pm.is_null());
  EXPECT_EQ(pm["metadata"]["labels"]["release"], "prom");
  const json& sel = pm["spec"]["selector"];
  auto selects = [&](const json& labels) {
    for (const auto& [k, v] : sel["matchLabels"].items()) {
      if (labels.value(k, "") != v) return false;
    }
    for (const auto& e : sel["matchExpressions"]) {
      const std::string have = labels.value(e["key"].get<std::string>(), "");
      const auto& values = e["values"];
      if (e["operator"] != "In" || std::find(values.begin(), values.end(), have) == values.end())
        return false;
    }
    return true;
  };
  for (const json* d : {&op, &gw}) {
    EXPECT_TRUE(selects((*d)["spec"]["template"]["metadata"]["labels"])) << sel.dump();
    bool port = false;
    for (const auto& p : (*d)["spec"]["template"]["spec"]["containers"][0]["ports"]) {
      if (p["name"] == "metrics") port = true;
    }
    EXPECT_TRUE(port) << (*d)["metadata"]["name"] << " has no port named metrics";
  }
  EXPECT_EQ(pm["spec"]["namespaceSelector"]["matchNames"], json::array({kNamespace}));
  const json& ep = pm["spec"]["podMetricsEndpoints"][0];
  EXPECT_EQ(ep["port"], "metrics");
  EXPECT_EQ(ep["path"], "/metrics");
  EXPECT_EQ(ep["honorLabels"], true);
  EXPECT_EQ(ep["interval"], "15s");

  // The ServiceMonitor: the operator's Service has the metrics port; the gateway's metrics get
  // a headless Service of their own (the gateway Service stays calls only).
  const json sm = m.find("ServiceMonitor", "kubefn", kNamespace);
  ASSERT_FALSE(sm.is_null());
  EXPECT_EQ(sm["spec"]["endpoints"][0]["port"], "metrics");
  EXPECT_EQ(sm["spec"]["endpoints"][0]["honorLabels"], true);
  EXPECT_EQ(sm["spec"]["selector"], sel);
  const json gw_metrics = m.find("Service", "kubefn-gateway-metrics", kNamespace);
  ASSERT_FALSE(gw_metrics.is_null());
  EXPECT_EQ(gw_metrics["spec"]["clusterIP"], "None");
  EXPECT_EQ(gw_metrics["spec"]["selector"], gw["spec"]["template"]["metadata"]["labels"]);
  EXPECT_EQ(gw_metrics["spec"]["ports"][0]["name"], "metrics");
  EXPECT_EQ(gw_metrics["spec"]["ports"][0]["port"], 9090);
  EXPECT_EQ(gw_metrics["spec"]["ports"][0]["targetPort"], "metrics");
  EXPECT_TRUE(selects(gw_metrics["metadata"]["labels"]));
  const json op_svc = m.find("Service", "kubefn-operator", kNamespace);
  EXPECT_TRUE(selects(op_svc["metadata"]["labels"]));
  EXPECT_EQ(m.find("Service", "kubefn-gateway", kNamespace)["spec"]["ports"].size(), 1u);

  // The PrometheusRule holds the rules file's groups.
  const json pr = m.find("PrometheusRule", "kubefn", kNamespace);
  ASSERT_FALSE(pr.is_null());
  EXPECT_EQ(pr["metadata"]["labels"]["release"], "prom");
  const json file = yaml_to_json(read_file(kChart + "/files/recording-rules.yaml"));
  EXPECT_EQ(pr["spec"]["groups"], file["groups"]);
}

TEST_F(ChartTest, ValuesFileRenders) {
  const auto values = dir_.write("values.yaml", R"(watchNamespaces: [team-a, team-b]
images:
  operator: {repository: registry.example/kubefn/operator, tag: "1.2.3", pullPolicy: Always}
  gateway: {repository: registry.example/kubefn/gateway, tag: "1.2.3"}
  runtimeBase: {repository: registry.example/kubefn/runtime-cpp, tag: "1.2.3"}
  builder: {repository: registry.example/kubefn/builder, tag: "1.2.3"}
registry:
  repository: registry.example:5000/fn
  plainHTTP: true
  secret: push-creds
  buildTimeoutSeconds: 600
operator:
  replicas: 2
  statsPort: 7000
  nodeSelector: {pool: system}
gateway:
  service: {type: NodePort, port: 8080, nodePort: 30080}
  activationTimeoutSeconds: 5
  queueTimeoutSeconds: 2
  queueLimit: 50
  keys: {token: fixed-token}
)");
  const Manifest m = render({"-f", values.string()}, "edge");
  const json op = m.find("Deployment", "edge-kubefn-operator", kNamespace);
  const json gw = m.find("Deployment", "edge-kubefn-gateway", kNamespace);
  ASSERT_FALSE(op.is_null());
  ASSERT_FALSE(gw.is_null());
  EXPECT_EQ(op["spec"]["replicas"], 2);
  const json& c = op["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(c["image"], "registry.example/kubefn/operator:1.2.3");
  EXPECT_EQ(c["imagePullPolicy"], "Always");
  EXPECT_EQ(op["spec"]["template"]["spec"]["nodeSelector"]["pool"], "system");

  const auto op_args = container_args(op);
  EXPECT_EQ(flag(op_args, "--namespaces"), "team-a,team-b");
  EXPECT_EQ(flag(op_args, "--registry"), "registry.example:5000/fn");
  EXPECT_EQ(flag(op_args, "--base-image"), "registry.example/kubefn/runtime-cpp:1.2.3");
  EXPECT_EQ(flag(op_args, "--builder-image"), "registry.example/kubefn/builder:1.2.3");
  EXPECT_EQ(flag(op_args, "--registry-secret"), "push-creds");
  EXPECT_EQ(flag(op_args, "--build-timeout"), "600");
  EXPECT_TRUE(has(op_args, "--registry-plain-http")) << joined(op_args);
  EXPECT_EQ(flag(op_args, "--stats-port"), "7000");
  const std::string stats = flag(op_args, "--stats-address");
  EXPECT_EQ(stats, "edge-kubefn-operator.kubefn-system.svc.cluster.local:7000");
  const json svc = m.find("Service", "edge-kubefn-operator", kNamespace);
  ASSERT_FALSE(svc.is_null());
  EXPECT_EQ(svc["spec"]["ports"][1]["port"], 7000);

  const auto gw_args = container_args(gw);
  EXPECT_EQ(flag(gw_args, "--namespaces"), "team-a,team-b");
  EXPECT_EQ(flag(gw_args, "--activation-timeout"), "5");
  EXPECT_EQ(flag(gw_args, "--queue-timeout"), "2");
  EXPECT_EQ(flag(gw_args, "--queue-limit"), "50");
  EXPECT_EQ(flag(gw_args, "--stats-address"), stats);
  EXPECT_EQ(flag(gw_args, "--keys-secret"), "kubefn-system/edge-kubefn-gateway-keys");
  const json gw_svc = m.find("Service", "edge-kubefn-gateway", kNamespace);
  EXPECT_EQ(gw_svc["spec"]["type"], "NodePort");
  EXPECT_EQ(gw_svc["spec"]["ports"][0]["nodePort"], 30080);
  const json secret = m.find("Secret", "edge-kubefn-gateway-keys", kNamespace);
  ASSERT_FALSE(secret.is_null());
  EXPECT_EQ(secret["data"]["token"], "Zml4ZWQtdG9rZW4=");  // base64 of fixed-token

  // Watched namespaces: the ClusterRoles are bound in those namespaces only.
  EXPECT_TRUE(m.all("ClusterRoleBinding").empty());
  for (const char* ns : {"team-a", "team-b"}) {
    for (const char* name : {"edge-kubefn-operator", "edge-kubefn-gateway"}) {
      const json b = m.find("RoleBinding", name, ns);
      ASSERT_FALSE(b.is_null()) << name << " in " << ns;
      EXPECT_EQ(b["roleRef"]["kind"], "ClusterRole");
      EXPECT_EQ(b["subjects"][0]["namespace"], kNamespace);
    }
  }
}

// A release installed, upgraded and uninstalled with helm --wait, looked at with kubectl: in the
// API emulator (release "kubefn" in kubefn-system; the whole API is the test's own) or on the
// real cluster, shared with tests running beside it: the release goes into the test's namespace
// under a name of its own, since the ClusterRoles and ClusterRoleBindings are named after it.
// The CRD is the cluster's one: helm creates it from crds/ unless it exists (then it skips it,
// so concurrent installs and kubectl applies of the same file agree) and never deletes it.
// Host triggers: the operator and the gateway get the same reserved names (the gateway
// Service's DNS names always) and allowances (none by default).
TEST_F(ChartTest, HostRulesGoToTheOperatorAndTheGatewayAlike) {
  auto values_of = [](const std::vector<std::string>& args, const std::string& name) {
    std::vector<std::string> out;
    for (const auto& a : args) {
      if (a.rfind(name + "=", 0) == 0) out.push_back(a.substr(name.size() + 1));
    }
    return out;
  };
  const Manifest defaults = render();
  for (const char* d : {"kubefn-operator", "kubefn-gateway"}) {
    const auto args = container_args(defaults.find("Deployment", d, kNamespace));
    EXPECT_EQ(values_of(args, "--reserved-host"),
              (std::vector<std::string>{"kubefn-gateway", "kubefn-gateway.kubefn-system",
                                        "kubefn-gateway.kubefn-system.svc",
                                        "kubefn-gateway.kubefn-system.svc.cluster.local"}))
        << d << ": " << joined(args);
    EXPECT_TRUE(values_of(args, "--allow-host").empty()) << d << ": " << joined(args);
  }
  const Manifest set = render({"--set", "hosts.reserved={fn.example.com}", "--set",
                               "hosts.allow={shop=*.shop.example.com,web=www.example.com}"});
  for (const char* d : {"kubefn-operator", "kubefn-gateway"}) {
    const auto args = container_args(set.find("Deployment", d, kNamespace));
    EXPECT_TRUE(has(args, "--reserved-host=fn.example.com")) << d << ": " << joined(args);
    EXPECT_EQ(values_of(args, "--allow-host"),
              (std::vector<std::string>{"shop=*.shop.example.com", "web=www.example.com"}))
        << d << ": " << joined(args);
  }
}

class ChartInstall : public ChartFixture<::testing::TestWithParam<ApiKind>> {
 protected:
  using Fixture = ChartFixture<::testing::TestWithParam<ApiKind>>;

  void SetUp() override {
    Fixture::SetUp();
    if (IsSkipped()) return;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    api_ = std::make_unique<TestApi>(GetParam(), KUBEFN_EMULATOR_BIN, dir_.path().string(),
                                     std::string(info->test_suite_name()) + "-" + info->name(),
                                     kubectl_path());
    ASSERT_TRUE(api_->error().empty()) << api_->error();
    kubeconfig_ = api_->kubeconfig();
    if (api_->real()) {
      ns_ = api_->ns();
      release_ = "kubefn-" + ns_.substr(ns_.size() - 5);  // the namespace's random suffix
    }
  }

  void TearDown() override {
    // The cluster-scoped objects outlive the namespace: a test that failed half-way uninstalls.
    if (api_ && api_->real() && installed_) {
      helm({"uninstall", release_, "--namespace", ns_, "--wait", "--timeout", "60s"});
    }
  }

  CommandResult kubectl(std::vector<std::string> args) {
    std::vector<std::string> argv = {kubectl_path(),          "--kubeconfig",
                                     api_->kubeconfig(),      "--cache-dir",
                                     dir_.file("kube-cache"), "--request-timeout=20s"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, {}, seconds(60));
  }

  // `jsonpath` of `what` in the release's namespace.
  std::string get(const std::string& what, const std::string& jsonpath) {
    auto r = kubectl({"get", what, "-n", ns_, "-o", "jsonpath=" + jsonpath});
    EXPECT_EQ(r.exit_code, 0) << what << ": " << r.err;
    return r.out;
  }
  // The same of a cluster-scoped object.
  std::string get_cluster(const std::string& what, const std::string& jsonpath) {
    auto r = kubectl({"get", what, "-o", "jsonpath=" + jsonpath});
    EXPECT_EQ(r.exit_code, 0) << what << ": " << r.err;
    return r.out;
  }
  // `jsonpath` over the release's pods of one component.
  std::string pods(const std::string& component, const std::string& jsonpath) {
    auto r = kubectl(
        {"get", "pods", "-n", ns_, "-l",
         "app.kubernetes.io/instance=" + release_ + ",app.kubernetes.io/component=" + component,
         "-o", "jsonpath=" + jsonpath});
    return r.exit_code == 0 ? r.out : "error: " + r.err;
  }

  std::string token() { return get("secret/" + release_ + "-gateway-keys", "{.data.token}"); }

  // Names of `kinds` (comma-separated) that belong to the release, in its namespace or (with
  // cluster_scoped) in the cluster.
  std::string left_over(const std::string& kinds, bool cluster_scoped) {
    std::vector<std::string> args = {"get", kinds, "-o", "name"};
    if (!cluster_scoped) args.insert(args.end(), {"-n", ns_});
    auto r = kubectl(args);
    if (r.exit_code != 0) return "error: " + r.err;
    std::string mine;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) {
      if (line.find("/" + release_ + "-") != std::string::npos ||
          line.find("." + release_ + ".") != std::string::npos) {  // helm's release Secret
        mine += line + "\n";
      }
    }
    return mine;
  }

  std::unique_ptr<TestApi> api_;
  std::string ns_ = kNamespace;
  std::string release_ = "kubefn";  // names are <release>-operator etc. (it holds "kubefn")
  bool installed_ = false;
};

TEST_P(ChartInstall, InstallUpgradeUninstall) {
  const std::string op = release_ + "-operator";
  const std::string gw = release_ + "-gateway";
  auto r = helm({"install", release_, kChart, "--namespace", ns_, "--create-namespace", "--wait",
                 "--timeout", "120s"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  installed_ = true;
  EXPECT_NE(r.out.find("STATUS: deployed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kubectl -n " + ns_ + " get secret " + gw + "-keys"), std::string::npos)
      << "NOTES.txt tells how to get the token:\n"
      << r.out;

  // The CRD from crds/ (or the one another test made first), Established.
  auto established =
      kubectl({"wait", "--for=condition=Established", "--timeout=30s", "crd/functions.kubefn.dev"});
  EXPECT_EQ(established.exit_code, 0) << established.out << established.err;
  // Both Deployments ready, their Services, the RBAC and the keys Secret.
  for (const std::string& d : {op, gw}) {
    EXPECT_EQ(get("deployment/" + d, "{.status.readyReplicas}"), "1") << d;
    EXPECT_EQ(get("service/" + d, "{.metadata.name}"), d);
    EXPECT_EQ(get("serviceaccount/" + d, "{.metadata.name}"), d);
    EXPECT_EQ(get_cluster("clusterrole/" + d, "{.metadata.name}"), d);
    EXPECT_EQ(get_cluster("clusterrolebinding/" + d, "{.subjects[0].name}"), d);
    EXPECT_EQ(get_cluster("clusterrolebinding/" + d, "{.subjects[0].namespace}"), ns_);
  }
  EXPECT_EQ(get("service/" + op, "{.spec.ports[?(@.name==\"stats\")].port}"), "9090");
  EXPECT_EQ(get("role/" + gw + "-keys", "{.rules[0].resourceNames[0]}"), gw + "-keys");
  EXPECT_NE(get("configmap/" + release_ + "-prices", "{.data.prices\\.yaml}")
                .find("cpuCoreHour: 0.031611"),
            std::string::npos);
  EXPECT_EQ(get("configmap/" + release_ + "-dashboard", "{.metadata.labels.grafana_dashboard}"),
            "1");
  EXPECT_EQ(get("rolebinding/" + op + "-leader-election", "{.roleRef.name}"),
            op + "-leader-election");
  // helm keeps the release in a Secret of its own type (sent as protobuf).
  EXPECT_EQ(get("secrets", "{.items[?(@.metadata.labels.owner==\"helm\")].type}"),
            "helm.sh/release.v1");
  const std::string installed = token();
  EXPECT_GE(installed.size(), 40u);
  if (api_->real()) {
    // Real pods, through admission: each under its ServiceAccount, which got it a projected
    // API token (the chart leaves automounting on: both talk to the API in-cluster), and
    // Running and Ready on a kwok node.
    for (const auto& [component, sa] : {std::pair{"operator", op}, std::pair{"gateway", gw}}) {
      EXPECT_EQ(pods(component, "{.items[*].spec.serviceAccountName}"), sa);
      EXPECT_EQ(pods(component, "{.items[*].status.phase}"), "Running");
      EXPECT_EQ(pods(component, "{.items[*].status.conditions[?(@.type==\"Ready\")].status}"),
                "True");
      EXPECT_EQ(pods(component,
                     "{.items[*].spec.volumes[*].projected.sources[*]"
                     ".serviceAccountToken.path}"),
                "token");
    }
  }

  // Upgrade with changed values: the Deployment follows, the price sheet too, the token stays.
  r = helm({"upgrade", release_, kChart, "--namespace", ns_, "--wait", "--timeout", "120s", "--set",
            "gateway.activationTimeoutSeconds=5", "--set", "prices.cpuCoreHour=0.05"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("REVISION: 2"), std::string::npos) << r.out;
  EXPECT_NE(get("deployment/" + gw, "{.spec.template.spec.containers[0].args}")
                .find("--activation-timeout=5"),
            std::string::npos);
  EXPECT_EQ(token(), installed) << "helm upgrade must keep the gateway token";
  EXPECT_NE(
      get("configmap/" + release_ + "-prices", "{.data.prices\\.yaml}").find("cpuCoreHour: 0.05"),
      std::string::npos);
  if (api_->real()) {
    // The Deployment controller rolled the change out: the pods left run the new arguments.
    auto rolled = kubectl({"rollout", "status", "-n", ns_, "deployment/" + gw, "--timeout=60s"});
    EXPECT_EQ(rolled.exit_code, 0) << rolled.out << rolled.err;
    const std::string args = "{.items[*].spec.containers[0].args}";
    EXPECT_TRUE(wait_until(
        [&] {
          const std::string now = pods("gateway", args);
          return now.find("--activation-timeout=5") != std::string::npos &&
                 now.find("--activation-timeout=30") == std::string::npos;
        },
        seconds(60), std::chrono::milliseconds(200)))
        << pods("gateway", args);
  }

  // Uninstall: everything of the release goes; the CRD stays, as helm leaves crds/ alone.
  r = helm({"uninstall", release_, "--namespace", ns_, "--wait", "--timeout", "120s"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  installed_ = false;
  // (The namespace's default ServiceAccount and root CA ConfigMap are not the release's.)
  std::string kinds = "deployments,services,secrets,serviceaccounts,roles,rolebindings";
  // On the cluster also what the release's objects made: the garbage collector removes those.
  if (api_->real()) kinds += ",replicasets,pods,endpointslices,configmaps";
  std::string left;
  EXPECT_TRUE(wait_until(
      [&] {
        left = left_over(kinds, false) + left_over("clusterroles,clusterrolebindings", true);
        return left.empty();
      },
      seconds(60), std::chrono::milliseconds(250)))
      << "left of the release:\n"
      << left;
  if (api_->real()) {
    auto labelled = kubectl({"get", "clusterroles,clusterrolebindings", "-o", "name", "-l",
                             "app.kubernetes.io/instance=" + release_});
    EXPECT_EQ(labelled.exit_code, 0) << labelled.err;
    EXPECT_EQ(labelled.out, "") << "cluster-scoped objects of the release left";
  }
  EXPECT_EQ(get_cluster("crd/functions.kubefn.dev", "{.metadata.name}"), "functions.kubefn.dev");
}

KUBEFN_ON_BOTH_APIS(ChartInstall);

}  // namespace
}  // namespace kubefn::testing
