#pragma once

// The local platform's replica supervisor: runs each function replica as a local process of
// the runtime host (or as a podman container), learns its port, probes it, restarts it when it
// crashes, replaces replicas of an old revision without a gap and drains the ones it stops.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kubefn::platform::local {

struct FunctionKey {
  std::string ns;
  std::string name;

  bool operator==(const FunctionKey&) const = default;
  auto operator<=>(const FunctionKey&) const = default;
  std::string str() const { return ns + "/" + name; }
};

struct FunctionKeyHash {
  std::size_t operator()(const FunctionKey& k) const noexcept;
};

// Run the function's built image with podman instead of a local process.
struct ContainerSpec {
  std::string image;
  std::vector<std::string> extra_args;  // inserted before the image
  std::uint16_t container_port = 8080;  // the port the runtime listens on inside
  std::string podman = "podman";        // the podman binary (found on PATH)

  bool operator==(const ContainerSpec&) const = default;
};

struct ReplicaTemplate {
  // Changes when the build or the environment changes: replicas of another revision are
  // replaced by replicas of this one.
  std::string revision;
  // The runtime host and its arguments, e.g. {"/usr/local/bin/kubefn-runtime"}. Unused in
  // container mode (the image's entrypoint runs).
  std::vector<std::string> argv;
  // Added to the supervisor's environment. The supervisor sets FUNC_PORT=0 and
  // KUBEFN_BIND_ADDRESS=127.0.0.1 itself (in a container: the container port and 0.0.0.0).
  std::map<std::string, std::string> env;
  std::optional<ContainerSpec> container;

  bool operator==(const ReplicaTemplate&) const = default;
};

enum class ReplicaPhase {
  kStarting,     // spawned (or waiting to be), not yet ready
  kReady,        // answers /readyz: route to it
  kUnready,      // was ready, now fails /readyz: do not route to it
  kTerminating,  // being drained and stopped: do not route to it
  kCrashLoop,    // failed repeatedly; waiting out its restart backoff (see last_error)
};

std::string_view to_string(ReplicaPhase phase);

struct ReplicaInfo {
  std::string id;
  int pid = 0;             // 0 while no process runs (e.g. during a restart backoff)
  std::uint16_t port = 0;  // 0 until learned; the endpoint is 127.0.0.1:port
  ReplicaPhase phase = ReplicaPhase::kStarting;
  std::string revision;
  int restarts = 0;
  std::string log_path;    // stdout and stderr of every run of this replica
  std::string last_error;  // why the last run ended or failed (with the log's tail)
};

// A run of a replica (one process) began, became ready, or ended: the moments its time is
// metered by, exact to the supervisor's clock.
struct ReplicaEvent {
  enum class Kind { kSpawned, kReady, kExited };
  Kind kind = Kind::kSpawned;
  FunctionKey key;
  std::string replica;
  int run = 0;  // the replica's run number (a restart is a new run)
  std::chrono::steady_clock::time_point at{};
  int pid = 0;
  std::uint16_t port = 0;  // kReady: its endpoint's port
  double cpu_seconds = 0;  // kExited: user + system CPU of the whole run
  bool container = false;  // the run is a container (its CPU is not the process's)
};

std::string_view to_string(ReplicaEvent::Kind kind);

struct SupervisorOptions {
  std::filesystem::path log_dir;                  // <log_dir>/<namespace>/<function>/<replica>.log
  std::chrono::milliseconds probe_interval{100};  // readiness probes
  // While a replica starts, its log (for the port) and /readyz are looked at this often, so a
  // replica takes traffic within milliseconds of being ready (a cold start's critical path).
  std::chrono::milliseconds start_probe_interval{2};
  std::chrono::milliseconds probe_timeout{1000};   // one probe's connect+answer
  std::chrono::milliseconds start_timeout{10000};  // spawn to first ready
  std::chrono::milliseconds restart_backoff_base{200};
  std::chrono::milliseconds restart_backoff_max{10000};
  // A replica that stayed ready this long has its backoff (and crash-loop count) reset.
  std::chrono::milliseconds backoff_reset_after{10000};
  // Consecutive failed runs after which a replica waiting to restart shows kCrashLoop.
  int crash_loop_threshold = 3;
  // Consecutive failed /healthz probes (while unready) after which a replica is restarted.
  int liveness_failure_threshold = 3;
  // Between taking a replica out of routing (kTerminating, listener told) and SIGTERM, so a
  // router that picked it just before still reaches it.
  std::chrono::milliseconds unroute_delay{250};
  std::chrono::milliseconds stop_timeout{10000};  // SIGTERM, then SIGKILL after this
  // Called on the supervisor's thread, with its lock held, at each ReplicaEvent: it must be
  // quick and must not call the supervisor.
  std::function<void(const ReplicaEvent&)> on_event;
};

class ReplicaSupervisor {
 public:
  explicit ReplicaSupervisor(SupervisorOptions options);
  ~ReplicaSupervisor();  // stops every replica, returns once all have exited
  ReplicaSupervisor(const ReplicaSupervisor&) = delete;
  ReplicaSupervisor& operator=(const ReplicaSupervisor&) = delete;

  // Level-triggered: make `replicas` replicas of `tmpl` run for `key`. A new revision rolls:
  // new replicas start and each old one is drained only once enough new ones are ready (max
  // surge = replicas). Scaling down drains the surplus; 0 stops all. Never blocks on processes.
  void apply(const FunctionKey& key, const ReplicaTemplate& tmpl, int replicas);
  // Stops every replica of `key`; returns once they exited (when called from the listener,
  // returns at once instead: the supervisor's thread cannot wait on itself).
  void remove(const FunctionKey& key);
  std::vector<ReplicaInfo> replicas(const FunctionKey& key) const;
  // Called from the supervisor's thread, without its lock held, whenever a replica of a key
  // changes readiness, endpoint or phase, or appears or goes away.
  void set_listener(std::function<void(const FunctionKey&)> on_change);
  // Stops every replica of every key; returns once they exited.
  void stop_all();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace kubefn::platform::local

template <>
struct std::hash<kubefn::platform::local::FunctionKey> : kubefn::platform::local::FunctionKeyHash {
};
