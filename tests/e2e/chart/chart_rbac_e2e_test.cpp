// The chart's RBAC is all the operator and the gateway need, and no more: on the real cluster
// (RBAC enforced), helm installs the chart's ServiceAccounts, ClusterRoles and bindings; each
// program gets a token of its ServiceAccount from the TokenRequest API and runs here, with the
// chart's own arguments, against the API with that token only. A user then drives it with
// kubectl: Functions from an image and from source (the test plays the build pod's kubelet),
// kubectl scale both ways, a scale from zero through the gateway, calls through the gateway,
// deletes. Neither program logs a refused request, so a missing permission shows as work not
// done: each step's failure message says what the API refused, checked with `kubectl auth
// can-i` against the code's needs (and what the chart must not grant).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "kubefn/testing/command.hpp"
#include "kubefn/testing/free_port.hpp"
#include "kubefn/testing/http_client.hpp"
#include "kubefn/testing/metrics_text.hpp"
#include "kubefn/testing/process.hpp"
#include "kubefn/testing/source_server.hpp"
#include "kubefn/testing/temp_dir.hpp"
#include "kubefn/testing/test_api.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kChart = std::string(KUBEFN_SOURCE_DIR) + "/charts/kubefn";

std::string helm_path() {
  const char* env = std::getenv("KUBEFN_HELM");
  return env != nullptr && *env != '\0' ? env : KUBEFN_DEFAULT_HELM;
}

std::string kubectl_path() {
  return test_kubectl(KUBEFN_DEFAULT_KUBECTL);
}

std::string trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.pop_back();
  return s;
}

std::string lower(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string tail(const std::string& text, std::size_t lines) {
  std::size_t at = text.size();
  for (std::size_t n = 0; n <= lines && at > 0; ++n) {
    at = text.rfind('\n', at - 1);
    if (at == std::string::npos) return text;
  }
  return text.substr(at + 1);
}

// One request a program makes of the API, for `kubectl auth can-i`.
struct Access {
  std::string verb;
  std::string resource;  // TYPE or TYPE/NAME
  std::string subresource;
  std::string ns;   // empty: in every namespace (or cluster-scoped)
  std::string why;  // what the code does with it, or why the chart must not grant it
};

struct RbacCase {
  const char* name;
  // The chart's watchNamespaces: RoleBindings in the Functions' namespace, not
  // ClusterRoleBindings.
  bool watch_namespaces;
};

void PrintTo(const RbacCase& c, std::ostream* os) {
  *os << c.name;
}

class ChartRbac : public ::testing::TestWithParam<RbacCase> {
 protected:
  void SetUp() override {
    if (access(helm_path().c_str(), X_OK) != 0) {
      GTEST_SKIP() << "helm not found at " << helm_path()
                   << " (run scripts/setup or set KUBEFN_HELM)";
    }
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    api_ = std::make_unique<TestApi>(ApiKind::kCluster, "", dir_.path().string(),
                                     std::string(info->test_suite_name()) + "-" + info->name(),
                                     kubectl_path());
    ASSERT_TRUE(api_->error().empty()) << api_->error();
    release_ns_ = api_->ns();
    release_ = "kubefn-" + release_ns_.substr(release_ns_.size() - 5);
    op_sa_ = release_ + "-operator";
    gw_sa_ = release_ + "-gateway";
    keys_ = gw_sa_ + "-keys";
    // The Functions live apart from the release, as with a kubefn-system namespace.
    fn_ns_ = release_ns_ + "-fn";
    auto made = admin({"create", "namespace", fn_ns_});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    fn_ns_made_ = true;

    std::vector<std::string> install = {
        "install", release_, kChart, "--namespace", release_ns_, "--wait", "--timeout", "120s",
        // This test runs the two programs in the Deployments' place.
        "--set", "operator.replicas=0", "--set", "gateway.replicas=0",
        // Builds on, so the operator gets the chart's build arguments.
        "--set", "registry.repository=registry.local/kubefn"};
    if (GetParam().watch_namespaces) {
      install.insert(install.end(), {"--set", "watchNamespaces={" + fn_ns_ + "}"});
    }
    auto r = helm(install);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    installed_ = true;

    op_kubeconfig_ = kubeconfig_for_service_account(op_sa_);
    gw_kubeconfig_ = kubeconfig_for_service_account(gw_sa_);
    ASSERT_FALSE(op_kubeconfig_.empty());
    ASSERT_FALSE(gw_kubeconfig_.empty());
  }

  void TearDown() override {
    // (A reaped child's pid may be someone else's by now: signal only running ones.)
    for (auto* p : {gateway_.get(), operator_.get()}) {
      if (p != nullptr && p->running()) p->signal(SIGTERM);
    }
    for (auto* p : {gateway_.get(), operator_.get()}) {
      if (p != nullptr) p->wait_exit(seconds(10));
    }
    // Cluster-scoped ClusterRoles and bindings outlive the namespaces.
    if (installed_) {
      helm({"uninstall", release_, "--namespace", release_ns_, "--wait", "--timeout", "60s"});
    }
    if (fn_ns_made_) {
      // Pods kwok leaves alone would hold the namespace's deletion up: no kubelet confirms
      // their end.
      fn_kubectl({"delete", "pods", "-l", "kubefn.dev/build", "--grace-period=0", "--force"});
      admin({"delete", "namespace", fn_ns_, "--wait=false"});
    }
  }

  std::map<std::string, std::string> helm_env() const {
    return {{"HELM_CACHE_HOME", dir_.file("helm/cache")},
            {"HELM_CONFIG_HOME", dir_.file("helm/config")},
            {"HELM_DATA_HOME", dir_.file("helm/data")},
            {"KUBECONFIG", api_->admin_kubeconfig()}};
  }

  CommandResult helm(std::vector<std::string> args) {
    args.insert(args.begin(), helm_path());
    return run_command(args, helm_env(), seconds(180));
  }

  // kubectl as the cluster's admin (the user applying Functions), or with `kubeconfig`.
  CommandResult admin(std::vector<std::string> args, const std::string& stdin_text = {},
                      const std::string& kubeconfig = {}) {
    std::vector<std::string> argv = {kubectl_path(),
                                     "--kubeconfig",
                                     kubeconfig.empty() ? api_->admin_kubeconfig() : kubeconfig,
                                     "--cache-dir",
                                     dir_.file("kube-cache"),
                                     "--request-timeout=20s"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, {}, seconds(60), stdin_text);
  }

  // kubectl in the Functions' namespace.
  CommandResult fn_kubectl(std::vector<std::string> args, const std::string& stdin_text = {}) {
    args.insert(args.begin(), {"-n", fn_ns_});
    return admin(args, stdin_text);
  }

  std::string jsonpath(const std::string& what, const std::string& path,
                       const std::string& ns = {}) {
    std::vector<std::string> args;
    std::istringstream in(what);
    for (std::string word; in >> word;)
      args.push_back(word);
    args.insert(args.end(), {"-n", ns.empty() ? fn_ns_ : ns, "-o", "jsonpath=" + path});
    args.insert(args.begin(), "get");
    auto r = admin(args);
    return r.exit_code == 0 ? r.out : std::string();
  }

  bool eventually(const std::string& what, const std::string& path, const std::string& want,
                  seconds within = seconds(60), const std::string& ns = {}) {
    return wait_until([&] { return jsonpath(what, path, ns) == want; }, within, milliseconds(250));
  }

  // A token of the ServiceAccount from the TokenRequest API (POST serviceaccounts/<sa>/token)
  // in a kubeconfig of its own with the cluster's CA: what the pod's projected volume holds.
  std::string kubeconfig_for_service_account(const std::string& sa) {
    auto token = admin({"create", "token", sa, "-n", release_ns_, "--duration=2h"});
    EXPECT_EQ(token.exit_code, 0) << token.err;
    if (token.exit_code != 0) return {};
    const std::string path = dir_.file(sa + ".kubeconfig");
    write_file(path,
               "apiVersion: v1\nkind: Config\nclusters:\n- name: kubefn-test\n  cluster:\n"
               "    server: " +
                   api_->server() + "\n    certificate-authority: " + api_->cluster_dir() +
                   "/pki/ca.crt\nusers:\n- name: " + sa +
                   "\n  user:\n    token: " + trimmed(token.out) +
                   "\ncontexts:\n- name: kubefn-test\n  context:\n    cluster: kubefn-test\n"
                   "    user: " +
                   sa + "\n    namespace: " + release_ns_ + "\ncurrent-context: kubefn-test\n");
    std::filesystem::permissions(
        path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    // The API takes the token as the ServiceAccount.
    auto who = admin({"auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"}, {}, path);
    EXPECT_EQ(who.out, user(sa)) << who.err;
    return path;
  }

  std::string user(const std::string& sa) const {
    return "system:serviceaccount:" + release_ns_ + ":" + sa;
  }

  // `kubectl auth can-i` as the ServiceAccount: 1 yes, 0 no, -1 could not tell.
  int can(const std::string& sa, const Access& a) {
    std::vector<std::string> args = {"auth", "can-i", a.verb, a.resource, "--as=" + user(sa)};
    if (!a.subresource.empty()) args.push_back("--subresource=" + a.subresource);
    if (a.ns.empty()) {
      args.push_back("--all-namespaces");
    } else {
      args.insert(args.end(), {"-n", a.ns});
    }
    auto r = admin(args);
    if (r.exit_code == 0 && trimmed(r.out) == "yes") return 1;
    if (r.exit_code == 1 && trimmed(r.out) == "no") return 0;
    ADD_FAILURE() << "kubectl auth can-i " << a.verb << " " << a.resource << ": " << r.out << r.err;
    return -1;
  }

  static std::string describe(const Access& a) {
    return a.verb + " " + a.resource + (a.subresource.empty() ? "" : "/" + a.subresource) +
           (a.ns.empty() ? " in every namespace" : " in namespace " + a.ns);
  }

  void expect_allowed(const std::string& who, const std::string& sa,
                      const std::vector<Access>& needs) {
    for (const auto& a : needs) {
      EXPECT_EQ(can(sa, a), 1) << "the chart does not let the " << who << " (" << user(sa) << ") "
                               << describe(a) << ", which it needs: " << a.why;
    }
  }

  void expect_denied(const std::string& who, const std::string& sa,
                     const std::vector<Access>& not_needed) {
    for (const auto& a : not_needed) {
      EXPECT_EQ(can(sa, a), 0) << "the chart lets the " << who << " (" << user(sa) << ") "
                               << describe(a) << ", more than it needs: " << a.why;
    }
  }

  // The args the chart gives `deployment`'s container.
  std::vector<std::string> chart_args(const std::string& deployment) {
    auto r = admin({"get", "deployment", deployment, "-n", release_ns_, "-o",
                    "jsonpath={.spec.template.spec.containers[0].args}"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> out;
    const json args = json::parse(r.out, nullptr, false);
    if (args.is_array()) {
      for (const auto& a : args)
        out.push_back(a.get<std::string>());
    }
    return out;
  }

  // The chart's args without those naming where a pod listens, plus `extra`; --namespaces
  // added where the chart watches all of them (the cluster is shared).
  std::vector<std::string> program_args(const std::string& binary,
                                        const std::vector<std::string>& chart,
                                        const std::vector<std::string>& drop,
                                        const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {binary};
    bool namespaces = false;
    for (const auto& a : chart) {
      if (a.rfind("--namespaces=", 0) == 0) namespaces = true;
      const bool dropped = std::any_of(
          drop.begin(), drop.end(), [&](const std::string& d) { return a.rfind(d + "=", 0) == 0; });
      if (!dropped) argv.push_back(a);
    }
    if (!namespaces) argv.insert(argv.end(), {"--namespaces", fn_ns_});
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

  // The price sheet the chart mounts into both pods (its prices ConfigMap), as a file here:
  // it replaces the chart's --prices, a path inside the pod.
  std::string prices_file() {
    auto r = admin({"get", "configmap", release_ + "-prices", "-n", release_ns_, "-o",
                    "jsonpath={.data.prices\\.yaml}"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("cpuCoreHour"), std::string::npos) << r.out;
    return dir_.write("prices.yaml", r.out).string();
  }

  std::string log(const std::string& name) { return read_file(dir_.file(name + ".err")); }

  // What to look at when a step did not happen: most likely the API refused a request, which
  // neither program logs.
  std::string explain() {
    std::string out = "\n--- Functions' conditions:\n" +
                      jsonpath("functions",
                               "{range .items[*]}{.metadata.name}:{range .status.conditions[*]} "
                               "{.type}={.status} {.reason} {.message};{end}{\"\\n\"}{end}") +
                      "--- events in " + fn_ns_ + ":\n" +
                      jsonpath("events",
                               "{range .items[*]}{.involvedObject.name} {.reason}: "
                               "{.message}{\"\\n\"}{end}");
    out += "--- operator log (tail):\n" + tail(log("operator"), 30);
    out += "--- gateway log (tail):\n" + tail(log("gateway"), 15);
    out +=
        "--- (neither program logs a request the API refused: a missing permission shows as "
        "work not done; `kubectl auth can-i VERB RESOURCE --as=" +
        user(op_sa_) + "` tells)\n";
    return out;
  }

  // Starts the operator with the chart's arguments; sets metrics_port_ (0: it did not start).
  void start_operator(const std::string& identity) {
    stats_port_ = free_port();
    const auto argv = program_args(
        KUBEFN_OPERATOR_BIN, chart_args(op_sa_), {"--metrics-port", "--stats-port", "--prices"},
        {"--kubeconfig", op_kubeconfig_, "--metrics-port", "0", "--bind-address", "127.0.0.1",
         "--prices=" + prices_file(), "--stats-port", std::to_string(stats_port_), "--identity",
         identity,
         // In a pod, POD_NAMESPACE: the release's namespace, where the chart's Role is.
         "--lease-namespace", release_ns_});
    operator_ =
        std::make_unique<ChildProcess>(argv, std::map<std::string, std::string>{},
                                       dir_.file("operator.out"), dir_.file("operator.err"));
    static const std::regex re("metrics on 127\\.0\\.0\\.1:([0-9]+)");
    wait_until(
        [&] {
          std::smatch m;
          const std::string err = log("operator");
          if (std::regex_search(err, m, re)) {
            metrics_port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
            return true;
          }
          return !operator_->running();
        },
        seconds(10));
  }

  // Starts the gateway with the chart's arguments; sets gateway_port_ (0: it did not start).
  void start_gateway() {
    const auto argv = program_args(
        KUBEFN_GATEWAY_BIN, chart_args(gw_sa_),
        {"--bind-address", "--port", "--metrics-bind-address", "--metrics-port", "--stats-address",
         "--prices"},
        {"--kubeconfig", gw_kubeconfig_, "--bind-address", "127.0.0.1", "--port", "0",
         "--prices=" + prices_file(), "--metrics-bind-address", "127.0.0.1", "--metrics-port", "0",
         "--stats-address", "127.0.0.1:" + std::to_string(stats_port_)});
    gateway_ = std::make_unique<ChildProcess>(
        argv, std::map<std::string, std::string>{{"POD_NAME", "gateway-under-test"}},
        dir_.file("gateway.out"), dir_.file("gateway.err"));
    static const std::regex re("\"msg\":\"listening\",\"port\":([0-9]+)");
    wait_until(
        [&] {
          std::smatch m;
          const std::string err = log("gateway");
          if (std::regex_search(err, m, re)) {
            gateway_port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
            return true;
          }
          return !gateway_->running();
        },
        seconds(10));
  }

  // A call through the gateway: its status (0: no answer).
  int call(const std::string& target, const std::string& token = {},
           milliseconds timeout = seconds(10), std::string* body = nullptr) {
    std::map<std::string, std::string> headers;
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    auto r = http_request(gateway_port_, "GET", target, "", headers, timeout);
    if (r && body != nullptr) *body = r->body;
    return r ? r->status : 0;
  }

  std::string metrics() {
    auto r = http_request(metrics_port_, "GET", "/metrics");
    return r ? r->body : std::string();
  }

  std::string function_yaml(const std::string& name, const std::string& spec) const {
    return "apiVersion: kubefn.dev/v1alpha1\nkind: Function\nmetadata:\n  name: " + name +
           "\n  namespace: " + fn_ns_ + "\nspec:\n" + spec;
  }

  // The reasons of the Events about Function `name`, space-separated.
  std::string event_reasons(const std::string& name) {
    return jsonpath("events",
                    "{range .items[?(@.involvedObject.name==\"" + name + "\")]}{.reason} {end}");
  }

  // The build Job of Function `fn` other than `not_named`, once the operator made it.
  json build_job(const std::string& fn, const std::string& not_named = {}) {
    json job;
    wait_until(
        [&] {
          auto r = fn_kubectl({"get", "jobs", "-l", "kubefn.dev/function=" + fn, "-o", "json"});
          if (r.exit_code != 0) return false;
          for (const auto& j : json::parse(r.out, nullptr, false).value("items", json::array())) {
            if (j["metadata"].value("name", "") != not_named) job = j;
          }
          return !job.is_null();
        },
        seconds(60), milliseconds(250));
    return job;
  }

  // The kubelet's part for a build pod (kwok leaves those alone): the Job controller made the
  // pod; it "ran" and reported `image` in its termination message, as kubefn-build does. The
  // Job controller then completes the Job.
  void finish_build(const json& job, const std::string& image) {
    const std::string name = job["metadata"]["name"];
    std::string pod;
    ASSERT_TRUE(wait_until(
        [&] {
          pod =
              jsonpath("pods -l batch.kubernetes.io/job-name=" + name, "{.items[0].metadata.name}");
          return !pod.empty();
        },
        seconds(60), milliseconds(250)))
        << "the Job controller made no pod for " << name;
    const std::string now = "2026-01-01T00:00:00Z";
    const json status = {
        {"status",
         {{"phase", "Succeeded"},
          {"containerStatuses",
           json::array({{{"name", "build"},
                         {"image", job["spec"]["template"]["spec"]["containers"][0]["image"]},
                         {"imageID", ""},
                         {"ready", false},
                         {"restartCount", 0},
                         {"state",
                          {{"terminated",
                            {{"exitCode", 0},
                             {"reason", "Completed"},
                             {"message", json{{"image", image}}.dump()},
                             {"startedAt", now},
                             {"finishedAt", now}}}}}}})}}}};
    auto patched = fn_kubectl(
        {"patch", "pod", pod, "--subresource=status", "--type=merge", "-p", status.dump()});
    ASSERT_EQ(patched.exit_code, 0) << patched.err;
  }

  // The image a build of `job` reports: its repository (the Job's --image), a digest of ours.
  static std::string built_image(const json& job, char digit) {
    const auto& args = job["spec"]["template"]["spec"]["containers"][0]["args"];
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == "--image")
        return args[i + 1].get<std::string>() + "@sha256:" + std::string(64, digit);
    }
    return {};
  }

  TempDir dir_;
  std::unique_ptr<TestApi> api_;
  std::string release_ns_;
  std::string fn_ns_;
  std::string release_;
  std::string op_sa_;
  std::string gw_sa_;
  std::string keys_;
  std::string op_kubeconfig_;
  std::string gw_kubeconfig_;
  bool installed_ = false;
  bool fn_ns_made_ = false;
  std::unique_ptr<ChildProcess> operator_;
  std::unique_ptr<ChildProcess> gateway_;
  std::uint16_t metrics_port_ = 0;
  std::uint16_t stats_port_ = 0;
  std::uint16_t gateway_port_ = 0;
};

TEST_P(ChartRbac, OperatorAndGatewayWorkWithTheChartsPermissionsOnly) {
  const bool all = !GetParam().watch_namespaces;
  const std::string fn = fn_ns_;
  const std::string rel = release_ns_;
  const std::string lease = op_sa_;  // the chart's --lease-name, the one its Role names

  // 1. What the code asks of the API (operator/controller, operator/autoscaler, the leader
  // elector; gateway/src/kubernetes_source.cpp), granted; what it never asks, refused.
  std::vector<Access> op_needs;
  auto need = [&](std::vector<Access>& list, std::initializer_list<const char*> verbs,
                  const std::string& resource, const std::string& sub, const std::string& ns,
                  const std::string& why) {
    for (const char* v : verbs)
      list.push_back({v, resource, sub, ns, why});
  };
  need(op_needs, {"get", "list", "watch"}, "functions.kubefn.dev", "", fn, "reconciles them");
  need(op_needs, {"update", "patch"}, "functions.kubefn.dev", "status", fn,
       "writes status (the reconciler updates it, the autoscaler patches status.scaling)");
  need(op_needs, {"update"}, "functions.kubefn.dev", "finalizers", fn,
       "owner references with blockOwnerDeletion, where OwnerReferencesPermissionEnforcement "
       "is on");
  need(op_needs, {"get", "list", "watch", "create", "delete"}, "configmaps", "", fn,
       "stores sources; deletes those no replica uses");
  need(op_needs, {"get", "list", "watch", "create", "update"}, "services", "", fn,
       "a Service per Function");
  need(op_needs, {"get", "list", "watch"}, "pods", "", fn,
       "reads build pods' termination messages and why pods do not run; the autoscaler counts "
       "ready replicas");
  need(op_needs, {"get"}, "pods", "log", fn,
       "reads the last log lines of a crashed replica for its Function's Ready condition");
  need(op_needs, {"create"}, "events", "", fn, "records Events on Functions");
  need(op_needs, {"get", "list", "watch", "create", "update"}, "deployments.apps", "", fn,
       "a Deployment per Function");
  need(op_needs, {"patch"}, "deployments.apps", "scale", fn, "the autoscaler's scale writes");
  need(op_needs, {"get", "list", "watch", "create"}, "jobs.batch", "", fn, "build Jobs");
  need(op_needs, {"create"}, "leases.coordination.k8s.io", "", rel, "takes the leader Lease");
  need(op_needs, {"get", "update"}, "leases.coordination.k8s.io/" + lease, "", rel,
       "holds and renews the leader Lease");
  if (all) {
    need(op_needs, {"list", "watch"}, "functions.kubefn.dev", "", "",
         "without --namespaces it watches every namespace (the chart's default)");
  }
  std::vector<Access> op_denied;
  need(op_denied, {"get", "list"}, "secrets", "", fn,
       "the operator reads no Secret (Functions mount theirs by name)");
  need(op_denied, {"list"}, "secrets", "", "", "the operator reads no Secret");
  need(op_denied, {"delete", "create"}, "namespaces", "", "", "namespaces are the user's");
  need(op_denied, {"create", "delete"}, "pods", "", fn, "Jobs and Deployments make pods");
  need(op_denied, {"delete"}, "deployments.apps", "", fn,
       "the garbage collector removes what a deleted Function owned");
  need(op_denied, {"delete"}, "services", "", fn, "the garbage collector does");
  need(op_denied, {"update", "patch", "delete"}, "functions.kubefn.dev", "", fn,
       "a Function's spec is the user's");
  need(op_denied, {"list"}, "leases.coordination.k8s.io", "", rel, "it reads its Lease by name");
  need(op_denied, {"update"}, "leases.coordination.k8s.io/someone-else", "", rel,
       "other Leases are not its own");
  need(op_denied, {"create"}, "clusterrolebindings.rbac.authorization.k8s.io", "", "",
       "no escalation");
  need(op_denied, {"impersonate"}, "serviceaccounts", "", "", "no escalation");
  if (!all) {
    need(op_denied, {"list"}, "functions.kubefn.dev", "", "",
         "with watchNamespaces it is bound in those namespaces only");
    need(op_denied, {"create"}, "deployments.apps", "", rel,
         "with watchNamespaces it is bound in those namespaces only");
  }
  std::vector<Access> gw_needs;
  need(gw_needs, {"get", "list", "watch"}, "functions.kubefn.dev", "", fn, "its routes");
  need(gw_needs, {"get", "list", "watch"}, "pods", "", fn, "its endpoints");
  need(gw_needs, {"get", "list", "watch"}, "secrets/" + keys_, "", rel,
       "the keys Secret, watched by name (a metadata.name field selector)");
  std::vector<Access> gw_denied;
  need(gw_denied, {"list", "get"}, "secrets", "", rel, "only its keys Secret");
  need(gw_denied, {"get"}, "secrets", "", fn, "only its keys Secret");
  need(gw_denied, {"create", "update", "patch", "delete"}, "functions.kubefn.dev", "", fn,
       "the gateway only reads");
  need(gw_denied, {"create", "delete"}, "pods", "", fn, "the gateway only reads");
  need(gw_denied, {"list"}, "deployments.apps", "", fn, "the gateway reads no Deployment");
  need(gw_denied, {"create"}, "events", "", fn, "the gateway records no Event");
  need(gw_denied, {"create"}, "leases.coordination.k8s.io", "", rel, "the gateway elects no one");
  expect_allowed("operator", op_sa_, op_needs);
  expect_denied("operator", op_sa_, op_denied);
  expect_allowed("gateway", gw_sa_, gw_needs);
  expect_denied("gateway", gw_sa_, gw_denied);

  // 2. The operator: it takes the Lease, becomes the leader, its informers list (/readyz).
  const std::string identity = "operator-under-test";
  start_operator(identity);
  ASSERT_NE(metrics_port_, 0) << "the operator did not start: " << log("operator");
  EXPECT_TRUE(eventually("lease " + lease, "{.spec.holderIdentity}", identity, seconds(30), rel))
      << "the operator does not hold the Lease " << rel << "/" << lease << explain();
  const bool ready = wait_until(
      [&] {
        auto r = http_request(metrics_port_, "GET", "/readyz");
        return r && r->status == 200 &&
               metric_value(metrics(), "leader_election_master_status{name=\"" + lease + "\"}") ==
                   1;
      },
      seconds(30), milliseconds(200));
  ASSERT_TRUE(ready) << "the operator never led with synced informers (a refused list keeps "
                        "/readyz at 503; a refused watch does not show there)"
                     << explain();
  EXPECT_NE(log("operator").find("autoscaler on"), std::string::npos) << explain();
  const std::string renewed = jsonpath("lease " + lease, "{.spec.renewTime}", rel);

  // 3. The gateway.
  start_gateway();
  ASSERT_NE(gateway_port_, 0) << "the gateway did not start: " << log("gateway");
  const std::string token = trimmed(jsonpath("secret " + keys_, "{.data.token}", rel));  // base64
  auto decoded = run_command({"base64", "-d"}, {}, seconds(5), token);
  const std::string key = decoded.out;
  ASSERT_GE(key.size(), 40u);

  // 4. A Function from an image: Deployment and Service made, status written, Events
  // recorded; the autoscaler sees its replica; the gateway learns the route.
  ASSERT_EQ(fn_kubectl({"apply", "-f", "-"}, function_yaml("hello",
                                                           "  handler: hello.greet\n"
                                                           "  image: registry.local/hello:1\n"))
                .exit_code,
            0);
  ASSERT_TRUE(eventually("fn hello", "{.status.conditions[?(@.type==\"Ready\")].status}", "True"))
      << "Function hello is not Ready" << explain();
  EXPECT_EQ(jsonpath("deploy hello", "{.metadata.ownerReferences[0].kind}"), "Function");
  EXPECT_EQ(jsonpath("svc hello", "{.metadata.ownerReferences[0].kind}"), "Function");
  EXPECT_TRUE(wait_until(
      [&] { return event_reasons("hello").find("DeploymentCreated") != std::string::npos; },
      seconds(30), milliseconds(250)))
      << "no DeploymentCreated Event (events create refused?)" << explain();
  const std::string actual =
      "kubefn_autoscaler_actual_replicas{function=\"hello\",namespace=\"" + fn + "\"}";
  EXPECT_TRUE(wait_until([&] { return metric_value(metrics(), actual) == 1; }, seconds(30),
                         milliseconds(250)))
      << "the autoscaler never saw hello's ready replica (its watches of Functions, "
         "Deployments and Pods)\n"
      << metrics() << explain();
  const std::string route = "/" + fn + "/hello/hi";
  EXPECT_TRUE(wait_until([&] { return call(route) == 401; }, seconds(30), milliseconds(200)))
      << "the gateway has no route for the private Function hello: " << call(route) << explain();
  EXPECT_EQ(call(route, "not-the-key"), 403);

  // 5. kubectl scale on the Function, up and down to zero.
  ASSERT_EQ(fn_kubectl({"scale", "fn", "hello", "--replicas=2"}).exit_code, 0);
  EXPECT_TRUE(eventually("fn hello", "{.status.readyReplicas}", "2"))
      << "hello did not scale to 2" << explain();
  ASSERT_EQ(fn_kubectl({"scale", "fn", "hello", "--replicas=0"}).exit_code, 0);
  EXPECT_TRUE(
      eventually("fn hello", "{.status.conditions[?(@.type==\"Ready\")].reason}", "ScaledToZero"))
      << explain();
  EXPECT_TRUE(wait_until(
      [&] {
        return jsonpath("pods -l kubefn.dev/function=hello", "{.items[*].metadata.name}").empty();
      },
      seconds(60), milliseconds(250)));
  EXPECT_NE(event_reasons("hello").find("DeploymentUpdated"), std::string::npos) << explain();

  // 6. A replica of hello the gateway can reach: a pod the test plays the kubelet of (the
  // kubefn.dev/build label keeps kwok off it), Ready at 127.0.0.1. The call goes through
  // with the key from the keys Secret the gateway watches. (The EndpointSlice controller
  // refuses the loopback address for hello's Service and says so in an Event: harmless.)
  SourceServer replica;
  ASSERT_TRUE(replica.ok());
  replica.set("/hi", {200, "hello from the replica\n", {}, false, false});
  const std::string node = jsonpath("nodes", "{.items[0].metadata.name}");
  const json pod = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", "hello-here"},
        {"namespace", fn},
        {"labels", {{"kubefn.dev/function", "hello"}, {"kubefn.dev/build", "not-a-build"}}}}},
      {"spec",
       {{"nodeName", node},
        {"containers",
         json::array({{{"name", "function"},
                       {"image", "registry.local/hello:1"},
                       {"ports", json::array({{{"name", "http"},
                                               {"containerPort", replica.port()}}})}}})}}}};
  auto created = fn_kubectl({"create", "-f", "-"}, pod.dump());
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const json running = {{"status",
                         {{"phase", "Running"},
                          {"podIP", "127.0.0.1"},
                          {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
  auto patched = fn_kubectl(
      {"patch", "pod", "hello-here", "--subresource=status", "--type=merge", "-p", running.dump()});
  ASSERT_EQ(patched.exit_code, 0) << patched.err;
  std::string body;
  EXPECT_TRUE(wait_until([&] { return call(route, key, seconds(10), &body) == 200; }, seconds(30),
                         milliseconds(200)))
      << "the gateway did not route to the ready replica with the key (pods watch, keys "
         "Secret watch): "
      << call(route, key) << explain();
  EXPECT_EQ(body, "hello from the replica\n");
  // (No kubelet confirms its end: it goes at once.)
  ASSERT_EQ(fn_kubectl({"delete", "pod", "hello-here", "--grace-period=0", "--force"}).exit_code,
            0);

  // 7. A scale from zero: a call waits in the gateway, which tells the operator's stats stream;
  // the autoscaler scales the Deployment (deployments/scale), records the Event and
  // status.scaling. (The Deployment is at zero as the autoscaler would leave it after a quiet
  // spell; kwok replicas report no load, so the test puts it there.)
  ASSERT_EQ(fn_kubectl({"apply", "-f", "-"}, function_yaml("lazy",
                                                           "  handler: lazy.run\n"
                                                           "  image: registry.local/lazy:1\n"
                                                           "  timeout: 2\n"
                                                           "  scaling: {minReplicas: 0}\n"))
                .exit_code,
            0);
  ASSERT_TRUE(eventually("fn lazy", "{.status.conditions[?(@.type==\"Ready\")].status}", "True"))
      << explain();
  ASSERT_EQ(fn_kubectl({"scale", "deployment", "lazy", "--replicas=0"}).exit_code, 0);
  EXPECT_TRUE(
      eventually("fn lazy", "{.status.conditions[?(@.type==\"Ready\")].reason}", "ScaledToZero"))
      << explain();
  EXPECT_TRUE(wait_until(
      [&] {
        return jsonpath("pods -l kubefn.dev/function=lazy", "{.items[*].metadata.name}").empty();
      },
      seconds(60), milliseconds(250)));
  // (Its replica's address is kwok's, which nothing answers: the call itself ends in an error.)
  const int lazy_status = call("/" + fn + "/lazy/", key, seconds(45));
  EXPECT_TRUE(eventually("deploy lazy", "{.spec.replicas}", "1", seconds(30)))
      << "no scale from zero (the call got " << lazy_status << ")" << explain();
  EXPECT_TRUE(
      wait_until([&] { return event_reasons("lazy").find("ScaledFromZero") != std::string::npos; },
                 seconds(30), milliseconds(250)))
      << explain();
  EXPECT_NE(jsonpath("fn lazy", "{.status.scaling.reason}"), "") << explain();

  // 8. A Function from source: its source ConfigMap and build Job; the test reports the build;
  // the Deployment runs the image. An edit builds again, and the old ConfigMap goes.
  ASSERT_EQ(fn_kubectl({"apply", "-f", "-"}, function_yaml("built",
                                                           "  handler: built.run\n"
                                                           "  source:\n"
                                                           "    inline: \"// first\\n\"\n"))
                .exit_code,
            0);
  const json first = build_job("built");
  ASSERT_FALSE(first.is_null()) << "no build Job" << explain();
  const std::string first_cm =
      jsonpath("cm -l kubefn.dev/function=built", "{.items[*].metadata.name}");
  EXPECT_EQ(first_cm.rfind("built-src-", 0), 0u) << first_cm;
  const std::string image = built_image(first, 'a');
  ASSERT_FALSE(image.empty()) << first.dump();
  finish_build(first, image);
  ASSERT_TRUE(eventually("fn built", "{.status.image}", image))
      << "the operator did not take the build's image; the Job's conditions: "
      << jsonpath("job " + first["metadata"]["name"].get<std::string>(),
                  "{.status.conditions[*].type}")
      << " (a Complete Job unseen: jobs watch refused?)" << explain();
  EXPECT_TRUE(eventually("deploy built", "{.spec.template.spec.containers[0].image}", image))
      << explain();
  EXPECT_TRUE(eventually("fn built", "{.status.conditions[?(@.type==\"Ready\")].status}", "True"))
      << explain();
  ASSERT_EQ(fn_kubectl({"patch", "fn", "built", "--type", "merge", "-p",
                        R"({"spec":{"source":{"inline":"// second\n"}}})"})
                .exit_code,
            0);
  const json second = build_job("built", first["metadata"]["name"]);
  ASSERT_FALSE(second.is_null()) << "no second build Job" << explain();
  const std::string image2 = built_image(second, 'b');
  finish_build(second, image2);
  EXPECT_TRUE(eventually("deploy built", "{.spec.template.spec.containers[0].image}", image2))
      << explain();
  std::string cms;
  EXPECT_TRUE(wait_until(
      [&] {
        cms = jsonpath("cm -l kubefn.dev/function=built", "{.items[*].metadata.name}");
        return !cms.empty() && cms.find(' ') == std::string::npos && cms != first_cm;
      },
      seconds(60), milliseconds(250)))
      << "the old source ConfigMap stays (configmaps delete refused?): " << cms << explain();
  const std::string built_events = event_reasons("built");
  EXPECT_NE(built_events.find("BuildStarted"), std::string::npos) << built_events;
  EXPECT_NE(built_events.find("Built"), std::string::npos) << built_events;

  // 9. Deletes: the garbage collector takes what they owned; the gateway forgets the routes.
  ASSERT_EQ(fn_kubectl({"delete", "fn", "hello", "lazy", "built"}).exit_code, 0);
  EXPECT_TRUE(wait_until([&] { return call(route) == 404; }, seconds(30), milliseconds(200)))
      << explain();
  EXPECT_TRUE(wait_until(
      [&] {
        return jsonpath("deploy,svc,cm,jobs -l kubefn.dev/function", "{.items[*].metadata.name}")
            .empty();
      },
      seconds(60), milliseconds(250)));

  // 10. All the while the operator led and renewed its Lease (update), and nothing was logged
  // as refused.
  EXPECT_EQ(jsonpath("lease " + lease, "{.spec.holderIdentity}", rel), identity);
  EXPECT_NE(jsonpath("lease " + lease, "{.spec.renewTime}", rel), renewed)
      << "the Lease was never renewed";
  EXPECT_TRUE(operator_->running()) << log("operator");
  EXPECT_TRUE(gateway_->running()) << log("gateway");
  for (const char* name : {"operator", "gateway"}) {
    EXPECT_EQ(lower(log(name)).find("forbidden"), std::string::npos)
        << "the API refused the " << name << ":\n"
        << log(name);
  }
  operator_->signal(SIGTERM);
  // (Not its exit code: a leader stopped by SIGTERM exits 1, logging a lost lease.)
  EXPECT_TRUE(operator_->wait_exit(seconds(20)).has_value()) << log("operator");
  // Stopping, it gave the Lease up (an update): the next leader need not wait it out.
  EXPECT_TRUE(eventually("lease " + lease, "{.spec.holderIdentity}", "", seconds(10), rel))
      << jsonpath("lease " + lease, "{.spec}", rel);
  gateway_->signal(SIGTERM);
  EXPECT_EQ(gateway_->wait_exit(seconds(20)), 0) << log("gateway");
}

INSTANTIATE_TEST_SUITE_P(Cluster, ChartRbac,
                         ::testing::Values(RbacCase{"AllNamespaces", false},
                                           RbacCase{"WatchedNamespaces", true}),
                         [](const ::testing::TestParamInfo<RbacCase>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace kubefn::testing
