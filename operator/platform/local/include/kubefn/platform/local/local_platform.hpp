// The embedded local platform: the same reconcile core as on Kubernetes, with functions
// compiled natively (the build library kubefn-build uses, without an image) and each replica
// a local process of the runtime host, routed by the gateway.
#pragma once

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kubefn/controller/platform.hpp"
#include "kubefn/gateway/route_table.hpp"
#include "kubefn/platform/local/replica_supervisor.hpp"

namespace kubefn::builder {
class Cancellation;
}  // namespace kubefn::builder

namespace kubefn::platform::local {

struct LocalPlatformOptions {
  std::filesystem::path state_dir;  // builds/<source digest>/ live here
  std::string runtime_binary;       // the kubefn-runtime each replica runs
  std::string sdk_include;          // empty: the build library's default
  std::string gateway_url;          // where callers reach functions, for status.url
  int build_workers = 1;            // builds at once: the build threads there are, at most
  // Container mode: build images (pushed to `image_registry`/<ns>/<name>, on `base_image`)
  // and run each replica as a podman container of its image, instead of native processes.
  std::string image_registry;
  std::string base_image;
  bool plain_http = true;  // the registry speaks plain HTTP (always so for 127.0.0.1)
};

class LocalPlatform final : public controller::Platform {
 public:
  LocalPlatform(LocalPlatformOptions options, ReplicaSupervisor& replicas,
                gateway::RouteTable& routes);
  ~LocalPlatform() override;  // stop()
  LocalPlatform(const LocalPlatform&) = delete;
  LocalPlatform& operator=(const LocalPlatform&) = delete;

  // Called when something the platform runs changed (a build finished, a replica became
  // ready or crashed), so the controller looks at that Function again.
  void set_requeue(std::function<void(const std::string& ns, const std::string& name)> requeue);

  // Cancels the running builds (the compiler's process group is killed; nothing is recorded,
  // so the next start builds again), joins every build thread and calls back no more; build()
  // starts nothing after. Call it before what the requeue callback reaches goes away.
  void stop();

  controller::StepOutcome prepare(const controller::FunctionContext& ctx) override;
  controller::BuildOutcome build(const controller::FunctionContext& ctx) override;
  controller::WorkloadOutcome run(const controller::FunctionContext& ctx,
                                  const std::string& image) override;
  void forget(const std::string& ns, const std::string& name) override;
  kube::Status scale(const std::string& ns, const std::string& name,
                     std::int64_t replicas) override;

  // The replicas a Function wants now (what scale() or the first run set).
  std::optional<std::int64_t> replicas_wanted(const std::string& ns, const std::string& name) const;

  // The build threads alive: started as builds are queued, up to build_workers, and kept for
  // the next builds until stop() joins them.
  std::size_t build_threads() const;

  // "local/<ns>/<name>@sha256:<source digest>": what status.image says of a native build.
  static std::string artifact_name(const std::string& ns, const std::string& name,
                                   const std::string& digest);

 private:
  struct Build {
    enum class State { kRunning, kDone, kFailed } state = State::kRunning;
    std::string message;
    std::string image;  // container mode: the pushed image
    // While it runs: every Function waiting on it (the same source built once), requeued when
    // it ends.
    std::set<std::pair<std::string, std::string>> waiting;
  };
  bool containers() const { return !options_.image_registry.empty(); }
  struct Running {
    ReplicaTemplate tmpl;
    std::int64_t min = 0, max = 0;
    bool pinned = false;  // spec.replicas set: the user, not the autoscaler, owns the count
  };

  // A build waiting for a build thread.
  struct BuildJob {
    std::string digest, ns, name, handler, module, source_text;
    std::vector<std::string> deps;
  };
  void build_worker();  // a build thread: runs queued builds until stop()
  void compile(BuildJob job);
  void finish_build(const std::string& digest, Build result, const std::string& ns,
                    const std::string& name);
  void on_replicas_changed(const FunctionKey& key);
  void publish_endpoints(const FunctionKey& key);
  void notify(const std::string& ns, const std::string& name);
  std::filesystem::path build_dir(const std::string& digest) const;

  LocalPlatformOptions options_;
  ReplicaSupervisor& replicas_;
  gateway::RouteTable& routes_;

  mutable std::mutex mu_;
  std::condition_variable builds_cv_;    // a build was queued, or stopping
  std::map<std::string, Build> builds_;  // by source digest
  std::deque<BuildJob> build_queue_;
  std::vector<std::thread> build_threads_;  // at most build_workers
  std::map<FunctionKey, std::int64_t> wanted_;
  std::map<FunctionKey, Running> running_;
  std::function<void(const std::string&, const std::string&)> requeue_;
  bool stopping_ = false;
  std::unique_ptr<builder::Cancellation> cancel_;  // every compile's; stop() cancels it
};

}  // namespace kubefn::platform::local
