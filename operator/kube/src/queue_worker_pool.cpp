#include "kubefn/kube/queue_worker_pool.hpp"

namespace kubefn::kube {

QueueWorkerPool::QueueWorkerPool(WorkQueue& queue, int workers, ReconcileFunction reconcile)
    : queue_(queue), reconcile_(std::move(reconcile)) {
  threads_.reserve(static_cast<std::size_t>(workers));
  for (int i = 0; i < workers; ++i)
    threads_.emplace_back([this] { work(); });
}

QueueWorkerPool::~QueueWorkerPool() {
  queue_.shut_down();
  for (auto& thread : threads_)
    thread.join();
}

void QueueWorkerPool::work() {
  while (auto key = queue_.get()) {
    const ReconcileResult result = reconcile_(*key);
    if (result.retry) {
      queue_.add_rate_limited(*key);
    } else {
      queue_.forget(*key);
      if (result.requeue_after) queue_.add_after(*key, *result.requeue_after);
    }
    queue_.done(*key);
  }
}

}  // namespace kubefn::kube
