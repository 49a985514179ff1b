#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "kubefn/kube/resource.hpp"
#include "kubefn/kube/result.hpp"
#include "kubefn/kube/status.hpp"
#include "kubefn/kube/watch_stream.hpp"

namespace kubefn::kube {

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;
  std::int64_t limit = 0;  // 0: no paging
  std::string continue_token;
  // Watch only.
  std::optional<int> timeout_seconds;
  bool allow_watch_bookmarks = false;
};

struct ObjectList {
  std::vector<nlohmann::json> items;
  std::string resource_version;
  std::string continue_token;  // empty on the last page
};

struct WriteOptions {
  std::string field_manager;
};

enum class PatchType {
  kMerge,  // application/merge-patch+json
  kJson,   // application/json-patch+json
  kApply,  // server-side apply; field_manager is required
};

struct PatchOptions {
  std::string field_manager;
  bool force = false;       // apply only: take ownership of conflicting fields
  std::string subresource;  // "", "status" or "scale"
};

// GET pods/{name}/log: which container, which instance of it, and how much of its log.
struct LogOptions {
  std::string container;         // empty: the pod's only container
  bool previous = false;         // the instance before the current one (the one that crashed)
  std::int64_t tail_lines = 0;   // 0: the whole log
  std::int64_t limit_bytes = 0;  // 0: no limit (the server stops at a line boundary or here)
};

enum class PropagationPolicy { kBackground, kForeground, kOrphan };

struct DeleteOptions {
  std::optional<std::string> precondition_uid;
  std::optional<std::string> precondition_resource_version;
  std::optional<PropagationPolicy> propagation_policy;
  std::optional<std::int64_t> grace_period_seconds;
};

// The seam between the operator and the API server. Objects are JSON, resources are named by
// group/version/resource so custom resources need no generated types. Every call returns a
// value: failures come back as Status, never as exceptions.
class KubeClient {
 public:
  virtual ~KubeClient() = default;

  virtual Result<nlohmann::json> get(const ObjectRef& ref) = 0;
  // One page; follow ObjectList::continue_token with ListOptions::continue_token for more.
  virtual Result<ObjectList> list(const GroupVersionResource& resource, const std::string& ns,
                                  const ListOptions& options) = 0;
  virtual Result<nlohmann::json> create(const GroupVersionResource& resource,
                                        const nlohmann::json& object,
                                        const WriteOptions& options) = 0;
  // PUT of the whole object; metadata.resourceVersion, when set, is the precondition (409).
  virtual Result<nlohmann::json> update(const GroupVersionResource& resource,
                                        const nlohmann::json& object,
                                        const WriteOptions& options) = 0;
  // PUT of .../status: only the status of `object` is taken by the server.
  virtual Result<nlohmann::json> update_status(const GroupVersionResource& resource,
                                               const nlohmann::json& object,
                                               const WriteOptions& options) = 0;
  virtual Result<nlohmann::json> patch(const ObjectRef& ref, PatchType type,
                                       const nlohmann::json& patch,
                                       const PatchOptions& options) = 0;
  // Returns what the server answered: the object (finalizers pending) or a Success Status.
  virtual Result<nlohmann::json> remove(const ObjectRef& ref, const DeleteOptions& options) = 0;

  // autoscaling/v1 Scale of a resource with a scale subresource.
  virtual Result<nlohmann::json> get_scale(const ObjectRef& ref) = 0;
  virtual Result<nlohmann::json> update_scale(const ObjectRef& ref,
                                              const nlohmann::json& scale) = 0;

  // Opens a watch on a collection. The stream is cancelled when destroyed.
  virtual Result<std::unique_ptr<WatchStream>> watch(const GroupVersionResource& resource,
                                                     const std::string& ns,
                                                     const ListOptions& options) = 0;

  // The log of a container of the pod `pod` names, as text (the pods/log subresource). A
  // client that does not serve logs answers MethodNotAllowed, as this default does.
  virtual Result<std::string> get_log(const ObjectRef& pod, const LogOptions& options);
};

// Helpers over object JSON that every caller would otherwise rewrite.
std::string object_name(const nlohmann::json& object);
std::string object_namespace(const nlohmann::json& object);
std::string object_resource_version(const nlohmann::json& object);
std::string object_key(const nlohmann::json& object);  // "ns/name" or "name"

}  // namespace kubefn::kube
