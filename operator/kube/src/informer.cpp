#include "kubefn/kube/informer.hpp"

#include <unordered_set>
#include <vector>

namespace kubefn::kube {
namespace {

// A watch that ends this fast without a single event is treated as a failure, so that a
// server which keeps closing watches at once is not hammered.
constexpr auto kShortWatch = std::chrono::seconds(1);

}  // namespace

Informer::Informer(KubeClient& client, Clock& clock, InformerOptions options,
                   InformerHandlers handlers)
    : client_(client),
      clock_(clock),
      options_(std::move(options)),
      handlers_(std::move(handlers)),
      cache_(options_.cache),
      random_(std::random_device{}()) {}

Informer::~Informer() {
  stop();
}

void Informer::start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { run(); });
  if (options_.resync_period > Clock::Duration::zero()) {
    resync_thread_ = std::thread([this] { run_resync(); });
  }
}

void Informer::stop() {
  {
    std::lock_guard guard(mutex_);
    stop_ = true;
    if (active_watch_ != nullptr) active_watch_->cancel();
  }
  wake_.notify_all();
  synced_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (resync_thread_.joinable()) resync_thread_.join();
}

bool Informer::wait_for_sync(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return synced_cv_.wait_for(lock, timeout, [this] { return synced_ || stop_; }) && synced_;
}

std::string Informer::last_resource_version() const {
  std::lock_guard guard(mutex_);
  return resource_version_;
}

bool Informer::pause(Clock::Duration duration) {
  std::unique_lock lock(mutex_);
  const auto deadline = clock_.now() + duration;
  while (!stop_ && clock_.now() < deadline)
    clock_.wait_until(lock, wake_, deadline);
  return !stop_;
}

Clock::Duration Informer::error_delay(int attempt) {
  return options_.error_backoff.delay(attempt, random_);
}

void Informer::run() {
  int failures = 0;
  bool need_list = true;
  while (!stop_) {
    if (need_list) {
      if (Status status = relist(); !status.ok()) {
        if (!pause(error_delay(failures++))) return;
        continue;
      }
      need_list = false;
      failures = 0;
    }
    auto outcome = watch_once();
    if (stop_) return;
    if (!outcome.ok()) {
      if (outcome.status().is_gone()) {
        need_list = true;
        continue;
      }
      if (!pause(error_delay(failures++))) return;
      continue;
    }
    need_list = *outcome;
    failures = 0;
  }
}

Status Informer::relist() {
  // In the server's order, so handlers see a stable sequence.
  std::vector<nlohmann::json> listed;
  std::unordered_set<std::string> listed_keys;
  std::string list_version;
  ListOptions options;
  options.label_selector = options_.label_selector;
  options.field_selector = options_.field_selector;
  options.limit = options_.page_size;
  while (true) {
    auto page = client_.list(options_.resource, options_.ns, options);
    if (!page.ok()) {
      // An expired continue token: start the list again from the top.
      if (page.status().is_gone() && !options.continue_token.empty()) {
        listed.clear();
        listed_keys.clear();
        options.continue_token.clear();
        continue;
      }
      return page.status();
    }
    for (auto& item : page->items) {
      if (listed_keys.insert(object_key(item)).second) listed.push_back(std::move(item));
    }
    list_version = page->resource_version;
    if (page->continue_token.empty()) break;
    options.continue_token = page->continue_token;
    if (stop_) return Status(StatusCode::kCancelled, "informer stopped");
  }
  ++lists_;

  std::lock_guard handlers(handler_mutex_);
  // Report only the differences between what the cache holds and what the server listed, so a
  // relist after a 410 neither repeats nor loses events.
  for (const auto& key : cache_.keys()) {
    if (listed_keys.count(key) != 0) continue;
    if (auto gone = cache_.erase(key); gone && handlers_.on_delete) handlers_.on_delete(*gone);
  }
  for (auto& item : listed) {
    if (options_.transform) options_.transform(item);
    auto current = std::make_shared<const nlohmann::json>(std::move(item));
    auto previous = cache_.get(object_key(*current));
    if (previous && object_resource_version(*previous) == object_resource_version(*current)) {
      continue;
    }
    cache_.upsert(current);
    if (!previous) {
      if (handlers_.on_add) handlers_.on_add(*current);
    } else if (handlers_.on_update) {
      handlers_.on_update(*previous, *current);
    }
  }
  {
    std::lock_guard guard(mutex_);
    resource_version_ = list_version;
    synced_ = true;
  }
  synced_cv_.notify_all();
  return {};
}

Result<bool> Informer::watch_once() {
  ListOptions options;
  options.label_selector = options_.label_selector;
  options.field_selector = options_.field_selector;
  options.resource_version = last_resource_version();
  options.allow_watch_bookmarks = true;
  const auto low = options_.min_watch_timeout.count();
  const auto high = std::max(options_.max_watch_timeout.count(), low);
  options.timeout_seconds =
      static_cast<int>(std::uniform_int_distribution<std::int64_t>(low, high)(random_));

  const auto started = clock_.now();
  auto opened = client_.watch(options_.resource, options_.ns, options);
  if (!opened.ok()) return opened.status();
  std::unique_ptr<WatchStream> stream = std::move(*opened);
  {
    std::lock_guard guard(mutex_);
    if (stop_) return false;
    active_watch_ = stream.get();
  }
  ++watches_;
  bool received = false;
  Result<bool> outcome = false;
  while (true) {
    auto next = stream->next();
    if (!next.ok()) {
      outcome = next.status();
      break;
    }
    if (!next->has_value()) {
      if (!received && clock_.now() - started < kShortWatch) {
        outcome = Status(StatusCode::kNetworkError, "the watch closed at once without events");
      }
      break;
    }
    const WatchEvent& event = **next;
    received = true;
    if (event.type == WatchEvent::Type::kError) {
      const int code = event.object.value("code", 0);
      const std::string reason = event.object.value("reason", "");
      if (code == 410 || reason == "Expired" || reason == "Gone") {
        outcome = true;
      } else {
        outcome = Status(StatusCode::kUnknown,
                         "watch error event: " + event.object.value("message", std::string()));
      }
      break;
    }
    apply_event(event);
  }
  {
    std::lock_guard guard(mutex_);
    active_watch_ = nullptr;
  }
  return outcome;
}

void Informer::apply_event(const WatchEvent& event) {
  const std::string version = object_resource_version(event.object);
  if (event.type != WatchEvent::Type::kBookmark) {
    std::lock_guard handlers(handler_mutex_);
    const std::string key = object_key(event.object);
    if (event.type == WatchEvent::Type::kDeleted) {
      if (auto gone = cache_.erase(key); gone && handlers_.on_delete) {
        handlers_.on_delete(event.object);
      }
    } else {
      auto previous = cache_.get(key);
      // A resumed watch may replay a version the cache already holds.
      if (!previous || object_resource_version(*previous) != version) {
        nlohmann::json object = event.object;
        if (options_.transform) options_.transform(object);
        auto current = std::make_shared<const nlohmann::json>(std::move(object));
        cache_.upsert(current);
        if (!previous) {
          if (handlers_.on_add) handlers_.on_add(*current);
        } else if (handlers_.on_update) {
          handlers_.on_update(*previous, *current);
        }
      }
    }
  }
  if (!version.empty()) {
    std::lock_guard guard(mutex_);
    resource_version_ = version;
  }
}

void Informer::run_resync() {
  while (pause(options_.resync_period)) {
    if (!synced_) continue;
    std::lock_guard handlers(handler_mutex_);
    if (!handlers_.on_update) continue;
    for (const auto& object : cache_.list())
      handlers_.on_update(*object, *object);
  }
}

}  // namespace kubefn::kube
