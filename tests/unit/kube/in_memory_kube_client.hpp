#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "kubefn/kube/kube_client.hpp"

namespace kubefn::kube::testing {

// A KubeClient over a map, with the API server's optimistic concurrency (409 on a stale
// resourceVersion, AlreadyExists on create). Watches replay scripted events. Errors can be
// queued per verb to exercise failure paths.
class InMemoryKubeClient final : public KubeClient {
 public:
  Result<nlohmann::json> get(const ObjectRef& ref) override;
  Result<ObjectList> list(const GroupVersionResource& resource, const std::string& ns,
                          const ListOptions& options) override;
  Result<nlohmann::json> create(const GroupVersionResource& resource, const nlohmann::json& object,
                                const WriteOptions& options) override;
  Result<nlohmann::json> update(const GroupVersionResource& resource, const nlohmann::json& object,
                                const WriteOptions& options) override;
  Result<nlohmann::json> update_status(const GroupVersionResource& resource,
                                       const nlohmann::json& object,
                                       const WriteOptions& options) override;
  Result<nlohmann::json> patch(const ObjectRef& ref, PatchType type, const nlohmann::json& patch,
                               const PatchOptions& options) override;
  Result<nlohmann::json> remove(const ObjectRef& ref, const DeleteOptions& options) override;
  Result<nlohmann::json> get_scale(const ObjectRef& ref) override;
  Result<nlohmann::json> update_scale(const ObjectRef& ref, const nlohmann::json& scale) override;
  Result<std::unique_ptr<WatchStream>> watch(const GroupVersionResource& resource,
                                             const std::string& ns,
                                             const ListOptions& options) override;

  // The next call of `verb` ("get", "create", "update", "list", "watch") fails with `status`.
  void fail_next(const std::string& verb, Status status);
  // Events the next watch replays; after them it stays open (hold) or ends cleanly.
  void script_watch(std::vector<WatchEvent> events, bool hold_open);
  // Direct writes that bypass concurrency checks, as another client would make.
  nlohmann::json put_object(const GroupVersionResource& resource, nlohmann::json object);
  void erase_object(const ObjectRef& ref);
  int calls(const std::string& verb) const;
  std::vector<ListOptions> watch_requests() const;

 private:
  std::optional<Status> take_failure(const std::string& verb);
  std::string next_version();

  struct WatchScript {
    std::vector<WatchEvent> events;
    bool hold_open = false;
  };

  mutable std::mutex mutex_;
  std::map<std::string, nlohmann::json> objects_;  // by item path
  std::map<std::string, std::deque<Status>> failures_;
  std::map<std::string, int> calls_;
  std::deque<WatchScript> watch_scripts_;
  std::vector<ListOptions> watch_requests_;
  std::uint64_t version_ = 1000;
};

}  // namespace kubefn::kube::testing
