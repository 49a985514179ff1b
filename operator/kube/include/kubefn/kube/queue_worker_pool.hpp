#pragma once

#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kubefn/kube/clock.hpp"
#include "kubefn/kube/work_queue.hpp"

namespace kubefn::kube {

// What a reconcile of one key asks of the queue.
struct ReconcileResult {
  bool retry = false;                            // failed: requeue with backoff
  std::optional<Clock::Duration> requeue_after;  // succeeded: look again later
};

using ReconcileFunction = std::function<ReconcileResult(const std::string& key)>;

// Threads that take keys from a WorkQueue and reconcile them. The destructor shuts the queue
// down and joins every worker.
class QueueWorkerPool {
 public:
  QueueWorkerPool(WorkQueue& queue, int workers, ReconcileFunction reconcile);
  ~QueueWorkerPool();
  QueueWorkerPool(const QueueWorkerPool&) = delete;
  QueueWorkerPool& operator=(const QueueWorkerPool&) = delete;

 private:
  void work();

  WorkQueue& queue_;
  ReconcileFunction reconcile_;
  std::vector<std::thread> threads_;
};

}  // namespace kubefn::kube
