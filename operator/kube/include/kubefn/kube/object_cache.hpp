#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace kubefn::kube {

using ObjectSnapshot = std::shared_ptr<const nlohmann::json>;

// Thread-safe store of the objects an informer has seen, keyed by "namespace/name", with
// indexes by namespace and by label. Readers get immutable snapshots shared across threads.
class ObjectCache {
 public:
  ObjectSnapshot get(const std::string& key) const;
  ObjectSnapshot get(const std::string& ns, const std::string& name) const;
  std::vector<ObjectSnapshot> list() const;
  std::vector<ObjectSnapshot> list_namespace(const std::string& ns) const;
  std::vector<ObjectSnapshot> list_labelled(const std::string& key, const std::string& value) const;
  std::vector<std::string> keys() const;
  std::size_t size() const;

  // Writers: the informer. Return the previous snapshot, if any.
  ObjectSnapshot upsert(ObjectSnapshot object);
  ObjectSnapshot erase(const std::string& key);

 private:
  void index(const std::string& key, const nlohmann::json& object);
  void unindex(const std::string& key, const nlohmann::json& object);

  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, ObjectSnapshot> objects_;
  std::map<std::string, std::set<std::string>> by_namespace_;
  std::map<std::string, std::set<std::string>> by_label_;  // "key=value" -> object keys
};

}  // namespace kubefn::kube
