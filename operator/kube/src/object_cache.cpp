#include "kubefn/kube/object_cache.hpp"

#include "kubefn/kube/kube_client.hpp"

namespace kubefn::kube {
namespace {

template <typename Map>
std::vector<ObjectSnapshot> collect(const std::unordered_map<std::string, ObjectSnapshot>& objects,
                                    const Map& index, const std::string& index_key) {
  std::vector<ObjectSnapshot> out;
  const auto found = index.find(index_key);
  if (found == index.end()) return out;
  out.reserve(found->second.size());
  for (const auto& key : found->second)
    out.push_back(objects.at(key));
  return out;
}

}  // namespace

ObjectSnapshot ObjectCache::get(const std::string& key) const {
  std::shared_lock lock(mutex_);
  const auto found = objects_.find(key);
  return found == objects_.end() ? nullptr : found->second;
}

ObjectSnapshot ObjectCache::get(const std::string& ns, const std::string& name) const {
  return get(ns.empty() ? name : ns + "/" + name);
}

std::vector<ObjectSnapshot> ObjectCache::list() const {
  std::shared_lock lock(mutex_);
  std::vector<ObjectSnapshot> out;
  out.reserve(objects_.size());
  for (const auto& [key, object] : objects_)
    out.push_back(object);
  return out;
}

std::vector<ObjectSnapshot> ObjectCache::list_namespace(const std::string& ns) const {
  std::shared_lock lock(mutex_);
  return collect(objects_, by_namespace_, ns);
}

std::vector<ObjectSnapshot> ObjectCache::list_labelled(const std::string& key,
                                                       const std::string& value) const {
  std::shared_lock lock(mutex_);
  return collect(objects_, by_label_, key + "=" + value);
}

std::vector<std::string> ObjectCache::keys() const {
  std::shared_lock lock(mutex_);
  std::vector<std::string> out;
  out.reserve(objects_.size());
  for (const auto& [key, object] : objects_)
    out.push_back(key);
  return out;
}

std::size_t ObjectCache::size() const {
  std::shared_lock lock(mutex_);
  return objects_.size();
}

ObjectSnapshot ObjectCache::upsert(ObjectSnapshot object) {
  const std::string key = object_key(*object);
  std::unique_lock lock(mutex_);
  ObjectSnapshot previous;
  if (auto found = objects_.find(key); found != objects_.end()) {
    previous = std::move(found->second);
    unindex(key, *previous);
  }
  index(key, *object);
  objects_[key] = std::move(object);
  return previous;
}

ObjectSnapshot ObjectCache::erase(const std::string& key) {
  std::unique_lock lock(mutex_);
  const auto found = objects_.find(key);
  if (found == objects_.end()) return nullptr;
  ObjectSnapshot previous = std::move(found->second);
  objects_.erase(found);
  unindex(key, *previous);
  return previous;
}

void ObjectCache::index(const std::string& key, const nlohmann::json& object) {
  by_namespace_[object_namespace(object)].insert(key);
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->contains("labels")) return;
  for (const auto& [label, value] : (*metadata)["labels"].items()) {
    if (value.is_string()) by_label_[label + "=" + value.get<std::string>()].insert(key);
  }
}

void ObjectCache::unindex(const std::string& key, const nlohmann::json& object) {
  auto erase_from = [&key](auto& index, const std::string& index_key) {
    const auto found = index.find(index_key);
    if (found == index.end()) return;
    found->second.erase(key);
    if (found->second.empty()) index.erase(found);
  };
  erase_from(by_namespace_, object_namespace(object));
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->contains("labels")) return;
  for (const auto& [label, value] : (*metadata)["labels"].items()) {
    if (value.is_string()) erase_from(by_label_, label + "=" + value.get<std::string>());
  }
}

}  // namespace kubefn::kube
