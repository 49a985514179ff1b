// Replica metering on a cluster (the operator leader's half of issue 16): how long each Pod of
// each Function was starting, busy and idle, and the integral of max(request, usage) of its
// CPU and memory, credited to a metering::Meter (kubefn_function_replica_seconds_total{state},
// kubefn_function_{cpu_core,memory_gb}_seconds_total, kubefn_function_cost_total, the
// kubefn_function_replicas gauge).
//
// From where:
// - The Pods, from the meter's own informer (label kubefn.dev/function, not kubefn.dev/build):
//   a pod starts at its creationTimestamp, is starting until its Ready condition first turns
//   True (its lastTransitionTime), and ends when its containers have terminated (their latest
//   finishedAt) or, at the latest, when it is gone from the API (when the meter saw it go).
// - Busy time, CPU and resident memory, from the per-second ReplicaStats the replica's runtime
//   streams to the operator (on_stats). A pod without stats (not a kubefn runtime, or load
//   reports off) counts busy = 0 (its ready time is idle) and usage = its requests only.
//
// Never counted twice, never lost between leaders: every pass (each `interval`) computes each
// pod's next stretch from the checkpoint ConfigMap (per pod uid, the time it is accounted
// until), writes the advanced checkpoint with the resourceVersion it read (optimistic
// concurrency), and credits the Meter only once that write succeeded. A write that fails
// credits nothing: the next pass reads the checkpoint again and covers the stretch then (or
// finds that another meter did). Whoever leads next resumes each pod where the checkpoint
// says, so the time between two leaders is counted by the second. Even two meters at once
// share each pod's time between them without overlap. See docs/operator.md.
#pragma once

#include <prometheus/metric_family.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kubefn/kube/clock.hpp"
#include "kubefn/kube/informer.hpp"
#include "kubefn/kube/kube_client.hpp"
#include "kubefn/metering/meter.hpp"
#include "kubefn/metering/sizing.hpp"

namespace kubefn::platform::kubernetes {

// One replica's second as its runtime reported it (kubefn.v1.ReplicaStats).
struct ReplicaSecond {
  std::string ns, function;
  std::string replica;  // the pod's name
  std::int64_t second_start_unix_ms = 0;
  double busy_seconds = 0;  // with at least one call in flight (busy_union_seconds)
  double cpu_seconds = 0;   // CPU the process used in it
  double rss_bytes = 0;     // its resident memory at the second's end
};

// A pod's stretch is split by metering::usage_of (the rule `kubefn up` meters by too).
using PodSlice = metering::ReplicaSlice;
using metering::usage_of;

// What the checkpoint ConfigMap holds (its data: format, since, writer, pods, gone; times in
// unix milliseconds).
struct MeteringCheckpoint {
  // When metering began on this cluster (the ConfigMap's first write): a pod the checkpoint
  // does not know starts at its creation, or here if it was created before.
  std::int64_t since_ms = 0;
  std::map<std::string, std::int64_t> pods;  // uid -> accounted until
  // uid -> when its last stretch was committed: pods gone from the API, kept a while so no
  // meter that still sees them counts them again (pruned after gone_ttl).
  std::map<std::string, std::int64_t> gone;
  std::string writer;     // the write that made it: "<identity>#<random>.<n>"
  nlohmann::json object;  // the ConfigMap it was read from or written as (metadata kept)

  std::string resource_version() const;
};

// The checkpoint in `config_map`; one whose data cannot be read (not ours, or edited by hand)
// starts over: since = now_ms, no pods (so nothing before now is counted again).
MeteringCheckpoint read_checkpoint(const nlohmann::json& config_map, std::int64_t now_ms);
// `c.object` with its data replaced by c's (a new ConfigMap ns/name when it has none).
nlohmann::json checkpoint_config_map(const MeteringCheckpoint& c, const std::string& ns,
                                     const std::string& name);

// An RFC 3339 time ("2026-01-02T03:04:05Z", fractions and offsets allowed) in unix ms.
std::optional<std::int64_t> parse_time_ms(const std::string& text);

struct ReplicaMeterOptions {
  std::vector<std::string> namespaces;  // watched; empty: all
  // The checkpoint ConfigMap: the operator's own namespace.
  std::string checkpoint_namespace = "kubefn-system";
  std::string checkpoint_name = "kubefn-metering";
  std::string identity = "kubefn-operator";  // in the checkpoint's writer token
  std::chrono::milliseconds interval{5000};  // between passes (start())
  // Pods gone from the API stay in the checkpoint this long; entries of pods the meter does
  // not see at all (gone while nobody metered) are dropped once this old.
  std::chrono::milliseconds gone_ttl{std::chrono::minutes(10)};
  // Stats of pods the meter has not seen (yet) are kept this long.
  std::chrono::milliseconds unmatched_stats_ttl{std::chrono::seconds(60)};
  // Log lines ("info", "warn", "error"); a failing write is said once per outage.
  std::function<void(const std::string& level, const std::string& message)> log;
};

class ReplicaMeter {
 public:
  ReplicaMeter(kube::KubeClient& client, kube::Clock& clock, metering::Meter& meter,
               ReplicaMeterOptions options = {});
  ~ReplicaMeter();  // stop()
  ReplicaMeter(const ReplicaMeter&) = delete;
  ReplicaMeter& operator=(const ReplicaMeter&) = delete;

  // A replica's second (the stats server's threads; quick, never blocks on the API).
  void on_stats(const ReplicaSecond& second);

  // Starts the pod informers (idempotent). Passes do nothing until they have listed once.
  // When there is no checkpoint yet, metering begins (its `since`) when this is first called.
  void watch();
  // Waits (real time) until every informer has listed once; false on timeout.
  bool wait_for_sync(std::chrono::milliseconds timeout);

  // One pass at clock.wall_now(): reads the checkpoint if it has none (creating the ConfigMap
  // if there is none), accounts every pod up to now, writes the checkpoint and, once that
  // succeeded, credits the Meter and sets the replica gauges. An error credits nothing.
  kube::Status account();

  // watch() and a thread passing every `interval` on the clock.
  void start();
  // Stops the thread, makes a last pass (so the next leader resumes from now), stops the
  // informers. Idempotent.
  void stop();

  // For tests and logs.
  std::size_t tracked_pods() const;
  std::uint64_t commits() const;
  std::uint64_t failed_writes() const;
  std::optional<MeteringCheckpoint> checkpoint() const;

 private:
  struct Pod {
    std::string uid, ns, name, function;
    std::int64_t created_ms = 0;
    std::optional<std::int64_t> ready_ms;  // first Ready
    std::optional<std::int64_t> end_ms;    // terminated, or gone from the API
    // First seen already terminated with no finish time: nothing past the checkpoint counts.
    bool end_unknown = false;
    bool removed = false;  // gone from the API
    metering::ReplicaSize size;
  };
  // What the stats brought that no pass has credited yet ("ns/pod").
  struct Pending {
    double busy_seconds = 0;
    double cpu_seconds = 0;
    double rss_bytes = 0;
    bool reported = false;
    std::int64_t last_second_end_ms = 0;  // of the latest second reported
    kube::Clock::TimePoint updated{};
  };
  struct Credit {
    std::string ns, function;
    metering::ReplicaUsage usage;
  };
  struct Consumed {
    std::string key;  // "ns/pod"
    double busy_seconds = 0, cpu_seconds = 0;
  };
  struct Plan {
    MeteringCheckpoint next;
    std::vector<Credit> credits;
    std::vector<Consumed> consumed;
    std::vector<std::string> finished;  // uids committed as gone (or never to count again)
    std::map<std::pair<std::string, std::string>, std::pair<int, int>> replicas;  // starting, ready
    bool changed = false;
  };

  void pod_seen(const nlohmann::json& pod);
  void pod_gone(const nlohmann::json& pod);
  Plan plan(const MeteringCheckpoint& current, std::int64_t now_ms);  // mu_ held
  kube::Status load_checkpoint(std::int64_t now_ms);
  kube::Result<nlohmann::json> write(const MeteringCheckpoint& next);
  // Applies a plan whose checkpoint is `written` (wrote: it was written now).
  void commit(Plan& plan, const nlohmann::json& written, bool wrote);
  void note_failure(const std::string& what, const kube::Status& st);
  std::int64_t wall_ms() const;
  bool synced() const;
  void log(const std::string& level, const std::string& message) const;

  kube::KubeClient& client_;
  kube::Clock& clock_;
  metering::Meter& meter_;
  const ReplicaMeterOptions options_;

  // Pods and pending stats, guarded by mu_ (informer handlers, on_stats, passes).
  mutable std::mutex mu_;
  std::map<std::string, Pod> pods_;                                // by uid
  std::map<std::string, Pending> pending_;                         // by "ns/pod"
  std::map<std::pair<std::string, std::string>, bool> functions_;  // seen: gauges kept current
  // When this meter began watching: metering's start if no checkpoint exists yet.
  std::optional<std::int64_t> began_ms_;

  // One pass at a time; the checkpoint as last read or written.
  mutable std::mutex pass_mu_;
  std::optional<MeteringCheckpoint> checkpoint_;
  std::string token_prefix_;    // "<identity>#<random>."
  std::uint64_t writes_ = 0;    // writer tokens: token_prefix_ + n
  std::optional<Plan> unsure_;  // a plan whose write's outcome is unknown (its answer lost)
  std::uint64_t commits_ = 0;
  std::uint64_t failed_writes_ = 0;
  bool failing_ = false;

  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread thread_;

  mutable std::mutex watch_mu_;
  std::vector<std::unique_ptr<kube::Informer>> informers_;
};

// Of a Meter's families, those the operator exports: the replica side (replica seconds, CPU
// and memory integrals, cost, replicas) and the prices. The call side (invocations, billed
// time, latency, cold starts) is the gateway's to export; the operator's would only be zeros.
std::vector<prometheus::MetricFamily> replica_families(
    std::vector<prometheus::MetricFamily> families);

// The price sheet file (--prices), read again whenever it changes: polled every `poll` on the
// clock; a sheet that cannot be read or parsed changes nothing (the prices before stay) and is
// logged once per change.
class PriceFileWatcher {
 public:
  PriceFileWatcher(metering::Meter& meter, kube::Clock& clock, std::string path,
                   std::chrono::milliseconds poll = std::chrono::seconds(5),
                   std::function<void(const std::string&, const std::string&)> log = {});
  ~PriceFileWatcher();  // stop()
  // Reads the file if it changed since the last check; true when a new sheet applies.
  bool check();
  void start();
  void stop();

 private:
  metering::Meter& meter_;
  kube::Clock& clock_;
  metering::PriceFile file_;
  const std::chrono::milliseconds poll_;
  std::function<void(const std::string&, const std::string&)> log_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace kubefn::platform::kubernetes
