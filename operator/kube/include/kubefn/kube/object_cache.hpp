#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace kubefn::kube {

using ObjectSnapshot = std::shared_ptr<const nlohmann::json>;

struct ObjectCacheOptions {
  // The labels indexed for list_labelled(): nullopt indexes every label; a list only those
  // named (none when empty), and list_labelled() on any other label finds nothing. An index
  // costs an entry per object, worth it only where someone lists by it.
  std::optional<std::vector<std::string>> indexed_labels;
  // Keeps each object as MessagePack rather than a JSON tree (several times smaller) and
  // decodes it on every read: each get() and list returns new snapshots, not shared ones.
  bool compact = false;
};

// Thread-safe store of the objects an informer has seen, keyed by "namespace/name", with an
// index by label. Readers get immutable snapshots shared across threads.
class ObjectCache {
 public:
  ObjectCache() = default;  // every label indexed, not compact
  explicit ObjectCache(ObjectCacheOptions options);

  ObjectSnapshot get(const std::string& key) const;
  ObjectSnapshot get(const std::string& ns, const std::string& name) const;
  std::vector<ObjectSnapshot> list() const;
  // Scans the cache (no index): for tests and rare reads.
  std::vector<ObjectSnapshot> list_namespace(const std::string& ns) const;
  std::vector<ObjectSnapshot> list_labelled(const std::string& key, const std::string& value) const;
  std::vector<std::string> keys() const;
  std::size_t size() const;

  // Writers: the informer. Return the previous snapshot, if any.
  ObjectSnapshot upsert(ObjectSnapshot object);
  ObjectSnapshot erase(const std::string& key);

 private:
  // One of the two is set: the tree, or (compact) its MessagePack encoding.
  struct Entry {
    ObjectSnapshot object;
    std::string packed;
  };
  Entry make_entry(ObjectSnapshot object) const;
  static ObjectSnapshot snapshot(const Entry& entry);
  void index(const std::string& key, const nlohmann::json& object);
  void unindex(const std::string& key, const nlohmann::json& object);
  bool indexed(const std::string& label) const;
  bool indexes_labels() const {
    return !options_.indexed_labels || !options_.indexed_labels->empty();
  }

  ObjectCacheOptions options_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, Entry> objects_;
  std::map<std::string, std::set<std::string>> by_label_;  // "key=value" -> object keys
};

}  // namespace kubefn::kube
