#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kubefn/kube/clock.hpp"
#include "kubefn/kube/kube_client.hpp"
#include "kubefn/kube/object_cache.hpp"
#include "kubefn/kube/retry_policy.hpp"

namespace kubefn::kube {

struct InformerOptions {
  GroupVersionResource resource;
  std::string ns;  // empty: all namespaces
  std::string label_selector;
  std::string field_selector;
  std::int64_t page_size = 500;
  Clock::Duration resync_period = Clock::Duration::zero();  // zero: never
  // Each watch asks the server to end it after a random time in this range.
  std::chrono::seconds min_watch_timeout{300};
  std::chrono::seconds max_watch_timeout{600};
  Backoff error_backoff{std::chrono::milliseconds(200), std::chrono::seconds(30)};
  // Applied to every object before it is cached or handed to handlers, e.g. to drop fields
  // nobody reads (managedFields, last-applied annotations) and keep the cache small.
  std::function<void(nlohmann::json&)> transform;
  // How the cache keeps objects: which labels it indexes, and whether compactly.
  ObjectCacheOptions cache;
};

// Called from the informer's thread, one at a time, in the order the server's changes happened.
// Handlers should be quick (enqueue a key) and must not call back into the informer's stop().
struct InformerHandlers {
  std::function<void(const nlohmann::json& object)> on_add;
  std::function<void(const nlohmann::json& old_object, const nlohmann::json& new_object)> on_update;
  std::function<void(const nlohmann::json& last_known)> on_delete;
};

// List+watch reflector feeding an ObjectCache and handlers. It lists (paginated), then watches
// from the list's resourceVersion; a closed or dropped watch resumes from the last version seen
// (bookmarks included); a 410 relists and reports only what really changed to the handlers.
class Informer {
 public:
  Informer(KubeClient& client, Clock& clock, InformerOptions options, InformerHandlers handlers);
  ~Informer();  // stops and joins
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  void start();
  void stop();

  // True once the first list has been applied to the cache.
  bool has_synced() const { return synced_; }
  // Waits (real time) for the first sync; false on timeout or stop.
  bool wait_for_sync(std::chrono::milliseconds timeout);

  const ObjectCache& cache() const { return cache_; }
  // The resourceVersion the next watch would resume from.
  std::string last_resource_version() const;

  // Counters for tests and metrics.
  std::uint64_t lists() const { return lists_; }
  std::uint64_t watches() const { return watches_; }

 private:
  void run();
  Status relist();
  // Watches until the stream ends; true if a relist is needed.
  Result<bool> watch_once();
  void apply_event(const WatchEvent& event);
  void run_resync();
  // Waits on the clock; false when stopping.
  bool pause(Clock::Duration duration);
  Clock::Duration error_delay(int attempt);

  KubeClient& client_;
  Clock& clock_;
  const InformerOptions options_;
  const InformerHandlers handlers_;
  ObjectCache cache_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable synced_cv_;
  // Serialises handler calls between the watch and resync threads.
  std::mutex handler_mutex_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> synced_{false};
  std::string resource_version_;
  WatchStream* active_watch_ = nullptr;  // guarded by mutex_, cancelled by stop()
  std::atomic<std::uint64_t> lists_{0};
  std::atomic<std::uint64_t> watches_{0};
  std::mt19937_64 random_;
  std::thread thread_;
  std::thread resync_thread_;
};

}  // namespace kubefn::kube
