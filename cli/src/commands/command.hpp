// What the commands of the kubefn CLI share: their streams and global flags, the platform a
// command talks to (resolved and connected when first needed), failure and output helpers, and
// each command's options and entry point (one file per command in this folder).
#pragma once

#include <chrono>
#include <iosfwd>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "kubefn/cli/app.hpp"
#include "kubefn/cli/target.hpp"
#include "kubefn/kube/clock.hpp"
#include "kubefn/kube/rest_kube_client.hpp"

namespace kubefn::cli::commands {

using Clock = std::chrono::steady_clock;

struct Io {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
};

struct Globals {
  TargetFlags flags;
  std::string output = "table";
};

// A command's failure: prints the message and returns the exit code.
int fail(Io& io, const std::string& message, int code = kExitError);

// A 404 that is about the resource type, not about one Function: the server has no
// kubefn.dev group at all (kube-apiserver answers a plain "404 page not found", no Status
// body, so no reason) or the group lacks the functions resource ("the server could not find
// the requested resource").
bool function_crd_missing(const kube::Status& status);

// The target plus a connected client, made when a command first needs them.
class Session {
 public:
  Session(const Globals& globals, Io& io) : globals_(globals), io_(io) {}

  // Prints the error and returns false when no platform can be reached.
  bool resolve(bool quiet = false) {
    if (target_) return true;
    auto target = select_target(globals_.flags, process_target_environment());
    if (!target.ok()) {
      if (!quiet) fail(io_, target.status().message());
      return false;
    }
    target_ = std::move(target).value();
    return true;
  }

  bool connect() {
    if (client_) return true;
    if (!resolve()) return false;
    kube::RestClientOptions options;
    options.user_agent = "kubefn-cli/" + version();
    options.request_timeout = std::chrono::seconds(30);
    options.retry.max_attempts = 3;
    auto client = kube::make_rest_kube_client(target_->api, clock_, options);
    if (!client.ok()) {
      fail(io_, "cannot use " + target_->described + ": " + client.status().message());
      return false;
    }
    client_ = std::move(client).value();
    return true;
  }

  const Target& target() const { return *target_; }
  kube::KubeClient& client() { return *client_; }
  const std::string& ns() const { return target_->ns; }

  // An API error in words, with what to do about it.
  std::string explain(const kube::Status& status, const std::string& what) const {
    std::string text = what + ": " + status.message();
    if (status.code() == kube::StatusCode::kNetworkError) {
      text += target_ && target_->kind == Target::Kind::kLocal
                  ? " (is `kubefn up` still running?)"
                  : " (check the cluster is reachable: kubectl cluster-info)";
    } else if (function_crd_missing(status)) {
      text += " (the Function CRD is not installed: kubectl apply -f crds/function.yaml)";
    } else if (status.is_unauthorized()) {
      text += " (check the credentials of your kubeconfig context)";
    }
    return text;
  }

 private:
  const Globals& globals_;
  Io& io_;
  kube::RealClock clock_;
  std::optional<Target> target_;
  std::unique_ptr<kube::KubeClient> client_;
};

bool output_is(const Globals& g, const char* what);
// Objects as -o json or -o yaml print them: one object, or a v1 List.
void print_objects(Io& io, const Globals& g, std::vector<nlohmann::json> objects, bool as_list);
// "function.kubefn.dev/NAME", as kubectl names what it changed.
std::string qualified(const std::string& name);
kube::ObjectRef function_ref(const std::string& ns, const std::string& name);
// Every Function in `ns` ("" for all), following continue tokens, in namespace/name order.
kube::Result<std::vector<nlohmann::json>> list_functions(Session& session, const std::string& ns);

// ---- The commands: options as the command table fills them, and what runs them. ----------

struct ApplyOptions {
  std::vector<std::string> files;
  bool wait = false;
  int timeout_seconds = 300;
  bool force_conflicts = false;
  bool recursive = false;
};
int cmd_apply(Io& io, const Globals& g, Session& session, const ApplyOptions& o);

int cmd_list(Io& io, const Globals& g, Session& session, bool all);

int cmd_describe(Io& io, const Globals& g, Session& session, const std::string& name);

struct DeleteOptions {
  std::vector<std::string> names;
  std::vector<std::string> files;
  bool wait = false;
  int timeout_seconds = 120;
};
int cmd_delete(Io& io, const Globals& g, Session& session, const DeleteOptions& o);

struct InvokeOptions {
  std::string name;
  std::optional<std::string> data;
  std::optional<std::string> data_file;
  std::string method;
  std::vector<std::string> headers;
  std::string path;
  std::string token;
  int timeout_seconds = 300;
  bool include_headers = false;
  bool async = false;
  std::string callback;
  std::string call;
};
int cmd_invoke(Io& io, const Globals& g, Session& session, const InvokeOptions& o);

struct LogsOptions {
  std::string name;
  bool follow = false;
  long tail = -1;
  bool no_prefix = false;
};
int cmd_logs(Io& io, const Globals& g, Session& session, const LogsOptions& o);

struct TopOptions {
  double interval = 2;
  bool all = false;
  std::string metrics_url;
};
int cmd_top(Io& io, const Globals& g, Session& session, const TopOptions& o);

struct CostOptions {
  std::string name;  // one function; empty: all in the namespace
  std::string since = "1h";
  bool all = false;
  std::string prometheus;  // on a cluster: the Prometheus that scrapes kubefn
};
int cmd_cost(Io& io, const Globals& g, Session& session, const CostOptions& o);

}  // namespace kubefn::cli::commands
