// A KubeClient over a map in memory, for unit tests of code that talks to the API server.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kubefn/kube/kube_client.hpp"

namespace kubefn::testing {

// Objects by group, resource, namespace and name (versions of a resource share them), with one
// resourceVersion counter and the API server's optimistic concurrency: AlreadyExists on
// create, Conflict on a stale metadata.resourceVersion. Lists page by `limit`; label and field
// selectors are not applied. Merge patches apply to the object, its status ("status") or its
// spec.replicas ("scale"); other patch types and get_scale/update_scale are MethodNotAllowed.
//
// Every write, including put_object and erase_object, is an event in a history that watches
// replay from the resourceVersion they start at, so informers see what a test changes. A watch
// can instead replay a script (script_watch). Every call is counted and logged, and can be made
// to fail: fail_next queues one failure of a verb, on() runs a hook before each call of it.
//
// Verbs: "get", "list", "create", "update", "update_status", "patch", "delete", "get_scale",
// "update_scale", "watch". The client must outlive the watch streams it hands out.
class FakeKubeClient final : public kube::KubeClient {
 public:
  // One call as the fake received it; the fields a verb does not have stay empty.
  struct Call {
    std::string verb;
    kube::GroupVersionResource resource;
    std::string ns;
    std::string name;
    nlohmann::json body;  // the object written or the patch
    kube::PatchType patch_type = kube::PatchType::kMerge;
    std::string subresource;  // patch only
    kube::ListOptions list_options;
  };
  // Runs before the call goes ahead, without the fake's lock held: a Status fails the call with
  // it; nullopt lets it through.
  using Hook = std::function<std::optional<kube::Status>(const Call&)>;

  FakeKubeClient() = default;
  FakeKubeClient(const FakeKubeClient&) = delete;
  FakeKubeClient& operator=(const FakeKubeClient&) = delete;

  kube::Result<nlohmann::json> get(const kube::ObjectRef& ref) override;
  kube::Result<kube::ObjectList> list(const kube::GroupVersionResource& resource,
                                      const std::string& ns,
                                      const kube::ListOptions& options) override;
  kube::Result<nlohmann::json> create(const kube::GroupVersionResource& resource,
                                      const nlohmann::json& object,
                                      const kube::WriteOptions& options) override;
  kube::Result<nlohmann::json> update(const kube::GroupVersionResource& resource,
                                      const nlohmann::json& object,
                                      const kube::WriteOptions& options) override;
  kube::Result<nlohmann::json> update_status(const kube::GroupVersionResource& resource,
                                             const nlohmann::json& object,
                                             const kube::WriteOptions& options) override;
  kube::Result<nlohmann::json> patch(const kube::ObjectRef& ref, kube::PatchType type,
                                     const nlohmann::json& patch,
                                     const kube::PatchOptions& options) override;
  kube::Result<nlohmann::json> remove(const kube::ObjectRef& ref,
                                      const kube::DeleteOptions& options) override;
  kube::Result<nlohmann::json> get_scale(const kube::ObjectRef& ref) override;
  kube::Result<nlohmann::json> update_scale(const kube::ObjectRef& ref,
                                            const nlohmann::json& scale) override;
  kube::Result<std::unique_ptr<kube::WatchStream>> watch(const kube::GroupVersionResource& resource,
                                                         const std::string& ns,
                                                         const kube::ListOptions& options) override;

  // Fault injection. The next call of `verb` fails with `status` (queued: one per call).
  void fail_next(const std::string& verb, kube::Status status);
  // `hook` runs before every call of `verb` from now on (replacing an earlier one).
  void on(const std::string& verb, Hook hook);
  // Events the next watch replays instead of the history; after them it stays open until
  // cancelled (hold_open) or ends cleanly.
  void script_watch(std::vector<kube::WatchEvent> events, bool hold_open);

  // Writes as another client would make them: no concurrency checks, not counted, but seen by
  // watches. put_object stamps a new resourceVersion and returns what it stored.
  nlohmann::json put_object(const kube::GroupVersionResource& resource, nlohmann::json object);
  void erase_object(const kube::ObjectRef& ref);
  // What is stored, without making a call.
  std::optional<nlohmann::json> peek(const kube::ObjectRef& ref) const;

  // Calls of `verb` so far, and of every verb.
  int calls(const std::string& verb) const;
  int calls() const;
  // Every call so far, in order.
  std::vector<Call> call_log() const;
  // The options of every watch opened so far.
  std::vector<kube::ListOptions> watch_requests() const;
  // At least `watches` watches over the history are open, and every one of them has handed
  // over all its events and waits for more: whatever their readers do with an event is done
  // before they ask for the next one.
  bool settled(std::size_t watches) const;

 private:
  struct Change {
    std::uint64_t version;
    std::string prefix;  // of the object's key: "group/resource/"
    kube::WatchEvent event;
  };
  class HistoryWatch;

  // Counts and logs `call`, then runs a queued failure or the hook.
  std::optional<kube::Status> begin(Call call);
  // update ("update") or update_status ("update_status", which takes only the status).
  kube::Result<nlohmann::json> replace(const std::string& verb,
                                       const kube::GroupVersionResource& resource,
                                       const nlohmann::json& object);
  // With mu_ held: stamps a new resourceVersion, stores (or, deleted, drops) the object under
  // `key` and appends the change to the history.
  nlohmann::json& record(const kube::GroupVersionResource& resource, const std::string& key,
                         kube::WatchEvent::Type type, nlohmann::json object);
  bool pending(const HistoryWatch& watch) const;

  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::map<std::string, nlohmann::json> objects_;  // by key: group/resource/ns/name
  std::uint64_t version_ = 1000;
  std::vector<Change> history_;
  std::set<HistoryWatch*> watches_;
  struct WatchScript {
    std::vector<kube::WatchEvent> events;
    bool hold_open = false;
  };
  std::deque<WatchScript> scripts_;
  std::map<std::string, std::deque<kube::Status>> failures_;
  std::map<std::string, Hook> hooks_;
  std::map<std::string, int> calls_;
  std::vector<Call> log_;
};

}  // namespace kubefn::testing
