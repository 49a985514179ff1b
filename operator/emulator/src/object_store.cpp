#include "object_store.hpp"

#include <algorithm>
#include <iostream>
#include <set>

#include "field_errors.hpp"
#include "go_format.hpp"
#include "kind_rules.hpp"
#include "schema_validation.hpp"
#include "structural_schema.hpp"
#include "time_and_ids.hpp"

namespace kubefn::emulator {
namespace {

using nlohmann::json;

std::string meta_str(const json& obj, const char* field) {
  const auto m = obj.find("metadata");
  if (m == obj.end() || !m->is_object()) return "";
  const auto f = m->find(field);
  return f != m->end() && f->is_string() ? f->get<std::string>() : "";
}

json finalizers_of(const json& obj) {
  const auto& m = obj.value("metadata", json::object());
  return m.contains("finalizers") && m["finalizers"].is_array() ? m["finalizers"] : json::array();
}

// What generation tracks: everything but metadata, and status when it has its own endpoint.
json generation_view(const ResourceType& type, json obj) {
  obj.erase("metadata");
  obj.erase("apiVersion");
  obj.erase("kind");
  if (type.status_subresource) obj.erase("status");
  return obj;
}

bool matches(const ListOptions& o, const json& obj) {
  if (!o.ns.empty() && meta_str(obj, "namespace") != o.ns) return false;
  static const json kEmpty = json::object();
  const auto m = obj.find("metadata");
  if (m == obj.end() || !m->is_object()) return o.labels.matches(kEmpty) && o.fields.matches(obj);
  const auto l = m->find("labels");
  return o.labels.matches(l != m->end() ? *l : kEmpty) && o.fields.matches(obj);
}

Document share(json object) {
  return std::make_shared<const json>(std::move(object));
}

}  // namespace

const std::string& SerializedDocument::text() const {
  std::call_once(once_, [this] { text_ = object_->dump(); });
  return text_;
}

ObjectStore::ObjectStore(std::size_t watch_cache_size, bool prune_custom_resources,
                         bool validate_custom_resources, Durability durability)
    : log_capacity_(std::max<std::size_t>(1, watch_cache_size)),
      prune_custom_resources_(prune_custom_resources),
      validate_custom_resources_(validate_custom_resources),
      rng_(std::random_device{}()),
      compact_log_bytes_(std::max<std::size_t>(1, durability.compact_log_bytes)),
      compact_at_(compact_log_bytes_) {
  std::lock_guard lock(mu_);
  if (durability.data_dir.empty()) {
    seed_locked();
    return;
  }
  disk_ = std::make_unique<DataDir>(durability.data_dir);
  recover_locked();
  flusher_ = std::thread([this] { flush_loop(); });
}

ObjectStore::~ObjectStore() {
  if (!flusher_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    closing_ = true;
    flush_cv_.notify_all();
  }
  flusher_.join();
}

void ObjectStore::recover_locked() {
  Recovered found = disk_->recover();
  bool rewrite = found.fresh || found.records > 0;
  if (found.fresh) {
    seed_locked();
  } else {
    objects_ = std::move(found.objects);
    rv_ = std::max(rv_, found.rv);
    // The watch history is not kept: a watch or continue token from before the restart that
    // is older than now gets 410 Gone, as after a compaction.
    compacted_rv_ = rv_;
    rewrite = expire_events_locked() > 0 || rewrite;
    const auto crds = objects_.find("customresourcedefinitions.apiextensions.k8s.io");
    if (crds != objects_.end()) {
      for (const auto& [k, crd] : crds->second) {
        auto served = ResourceRegistry::types_from_crd(*crd);
        if (!served.ok()) {
          std::cerr << "kube emulator: " << disk_->path() << ": the stored CRD "
                    << meta_str(*crd, "name")
                    << " no longer parses, its kinds are not served: " << served.error().message
                    << "\n";
          continue;
        }
        registry_.install_crd(meta_str(*crd, "name"), std::move(served.value()));
      }
    }
  }
  // Start from one snapshot and an empty log: replay is done once, a torn tail is gone.
  if (rewrite) disk_->write_snapshot(rv_, objects_);
  pending_.clear();
  appended_rv_ = durable_rv_ = rv_;
}

std::size_t ObjectStore::expire_events_locked() {
  const auto events = objects_.find("events");
  if (events == objects_.end()) return 0;
  const auto cutoff = std::chrono::system_clock::now() - std::chrono::hours(1);
  std::size_t gone = 0;
  for (auto it = events->second.begin(); it != events->second.end();) {
    if (parse_rfc3339(meta_str(*it->second, "creationTimestamp")) < cutoff) {
      it = events->second.erase(it);
      ++gone;
    } else {
      ++it;
    }
  }
  return gone;
}

void ObjectStore::flush_loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    flush_cv_.wait(lock, [&] { return closing_ || !pending_.empty(); });
    if (pending_.empty()) return;  // closing, and everything is durable
    std::vector<LogRecord> batch;
    batch.swap(pending_);
    const uint64_t batch_rv = appended_rv_;
    // Compaction: the state as of this batch, to write once the batch is durable.
    std::optional<StoredObjects> state;
    if (disk_->log_bytes() >= compact_at_) state = objects_;
    const uint64_t state_rv = rv_;
    lock.unlock();
    std::string error;
    try {
      disk_->append(batch);
    } catch (const std::exception& e) {
      error = e.what();
    }
    batch.clear();
    lock.lock();
    if (error.empty()) {
      durable_rv_ = batch_rv;
    } else {
      std::cerr << "kube emulator: " << error << "; writes are refused from now on\n";
      disk_error_ = error;
    }
    durable_cv_.notify_all();
    changed_.notify_all();
    if (!state || !error.empty()) continue;
    lock.unlock();
    // Only this thread writes the files, so nothing is appended while the log is replaced.
    try {
      disk_->write_snapshot(state_rv, *state);
      compact_at_ = compact_log_bytes_;
    } catch (const std::exception& e) {
      // The log still holds everything: keep appending, try again once it grew as much again.
      std::cerr << "kube emulator: cannot compact the API store log: " << e.what() << "\n";
      compact_at_ = disk_->log_bytes() + compact_log_bytes_;
    }
    state.reset();
    lock.lock();
  }
}

bool ObjectStore::await_durable(std::unique_lock<std::mutex>& lock) const {
  if (!disk_) return true;
  const uint64_t target = appended_rv_;
  durable_cv_.wait(lock, [&] { return durable_rv_ >= target || !disk_error_.empty(); });
  return durable_rv_ >= target;
}

std::optional<ApiError> ObjectStore::refuse_write_locked() const {
  if (disk_error_.empty()) return std::nullopt;
  return ApiError{500, "InternalError",
                  "Internal error occurred: the API store cannot write its log: " + disk_error_};
}

std::string ObjectStore::now() const {
  return rfc3339(std::chrono::system_clock::now());
}

void ObjectStore::seed_locked() {
  const auto* ns_type = registry_.find("", "v1", "namespaces");
  for (const char* n : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    (void)create_locked(*ns_type, "", json{{"metadata", {{"name", n}}}});
  }
}

std::optional<ResourceType> ObjectStore::find_type(const std::string& group,
                                                   const std::string& version,
                                                   const std::string& resource) const {
  std::lock_guard lock(mu_);
  const auto* t = registry_.find(group, version, resource);
  if (t == nullptr) return std::nullopt;
  return *t;
}

std::vector<ResourceType> ObjectStore::types() const {
  std::lock_guard lock(mu_);
  return registry_.all();
}

uint64_t ObjectStore::types_generation() const {
  std::lock_guard lock(mu_);
  return registry_.generation();
}

void ObjectStore::record_locked(const std::string& gr, const std::string& type, Document object,
                                Document previous) {
  if (disk_) {
    LogRecord r;
    r.rv = rv_;
    r.group_resource = gr;
    if (type == "DELETED") {
      r.op = LogRecord::Op::kDelete;
      r.key = key(meta_str(*object, "namespace"), meta_str(*object, "name"));
    } else {
      r.object = object;
    }
    pending_.push_back(std::move(r));
    appended_rv_ = rv_;
    flush_cv_.notify_one();
  }
  auto serialized = std::make_shared<const SerializedDocument>(object);
  log_.push_back(
      WatchEvent{rv_, gr, type, std::move(object), std::move(previous), std::move(serialized)});
  while (log_.size() > log_capacity_) {
    compacted_rv_ = log_.front().rv;
    log_.pop_front();
  }
  changed_.notify_all();
}

Result<json> ObjectStore::create(const ResourceType& type, const std::string& ns, json object) {
  auto out = create(type, ns, std::move(object), DecodeOptions{});
  if (!out.ok()) return out.error();
  return std::move(out.value().object);
}

Result<WriteOutcome> ObjectStore::create(const ResourceType& type, const std::string& ns,
                                         json object, const DecodeOptions& decode) {
  std::unique_lock lock(mu_);
  if (auto refused = refuse_write_locked()) return *refused;
  auto out = create_locked(type, ns, std::move(object), decode);
  if (!await_durable(lock)) return *refuse_write_locked();
  return out;
}

Result<std::vector<std::string>> ObjectStore::decode_locked(const ResourceType& type, json& object,
                                                            const DecodeOptions& decode) const {
  if (!type.custom || decode.source == DecodeOptions::Source::kApply) {
    if (type.custom && prune_custom_resources_) prune_and_default(object, type.schema.get());
    return std::vector<std::string>{};
  }
  const bool strict = decode.directive == FieldValidation::kStrict;
  // A Strict patch failure quotes the patched object as it was before pruning.
  std::string patched;
  if (strict && decode.source == DecodeOptions::Source::kPatch) patched = go_json(object);
  // The kind and version the body claims, as the decoder names them in its errors.
  const std::string body_kind = object.contains("kind") && object["kind"].is_string() &&
                                        !object["kind"].get<std::string>().empty()
                                    ? object["kind"].get<std::string>()
                                    : type.kind;
  std::string body_version = type.version;
  if (object.contains("apiVersion") && object["apiVersion"].is_string()) {
    const auto v = object["apiVersion"].get<std::string>();
    if (!v.empty()) body_version = v.substr(v.find('/') == std::string::npos ? 0 : v.find('/') + 1);
  }
  std::vector<std::string> errors = decode.strict_errors;
  if (prune_custom_resources_) {
    auto decoded = prune_and_default(object, type.schema.get());
    if (!decoded.error.empty()) {
      const std::string message = decoded.error;
      if (decode.source == DecodeOptions::Source::kPatch) {
        return invalid("", "", "",
                       {field_invalid("patch", strict ? patched : go_json(object), message)});
      }
      return bad_request(body_kind + " in version " + go_quote(body_version) +
                         " cannot be handled as a " + type.kind + ": " + message);
    }
    for (const auto& path : decoded.unknown)
      errors.push_back("unknown field \"" + path + "\"");
  }
  if (errors.empty() || decode.directive == FieldValidation::kIgnore)
    return std::vector<std::string>{};
  if (!strict) return errors;
  const std::string message = strict_decoding_message(errors);
  if (decode.source == DecodeOptions::Source::kPatch)
    return invalid("", "", "", {field_invalid("patch", patched, message)});
  return bad_request(body_kind + " in version " + go_quote(body_version) +
                     " cannot be handled as a " + type.kind + ": " + message);
}

Result<WriteOutcome> ObjectStore::create_locked(const ResourceType& type, const std::string& ns,
                                                json object, const DecodeOptions& decode) {
  const auto gr = type.group_resource();
  if (!object.is_object()) return bad_request("the request body must be a JSON object");
  auto decoded = decode_locked(type, object, decode);
  if (!decoded.ok()) return decoded.error();
  // Warnings gathered while decoding go out with any later error too.
  const auto fail = [&decoded](ApiError e) {
    e.warnings = decoded.value();
    return e;
  };
  if (!object.contains("metadata") || !object["metadata"].is_object())
    object["metadata"] = json::object();
  auto& meta = object["metadata"];
  std::string name = meta_str(object, "name");
  const std::string generate = meta_str(object, "generateName");
  if (name.empty() && !generate.empty()) name = generate + random_suffix(rng_, 5);
  const std::string body_ns = meta_str(object, "namespace");
  if (type.namespaced) {
    if (!body_ns.empty() && body_ns != ns) {
      return fail(bad_request(
          "the namespace of the provided object does not match the namespace sent on the request"));
    }
    const auto& namespaces = objects_["namespaces"];
    const auto it = namespaces.find(key("", ns));
    if (it == namespaces.end()) return fail(not_found("namespaces", ns));
    if ((*it->second)["metadata"].contains("deletionTimestamp")) {
      return fail(ApiError{
          403, "Forbidden",
          "unable to create new content in namespace " + ns + " because it is being terminated"});
    }
    meta["namespace"] = ns;
  } else {
    meta.erase("namespace");
  }
  std::vector<FieldError> errors;
  if (name.empty()) {
    errors.push_back(field_required("metadata.name", "name or generateName is required"));
  } else {
    for (const auto& problem : name_problems(type, name))
      errors.push_back(field_invalid("metadata.name", name, problem));
  }
  // Custom resources report their name and schema errors together, after defaulting.
  if (!errors.empty() && !type.custom) return fail(invalid(type.group, type.kind, name, errors));

  std::optional<std::vector<ResourceType>> crd_types;
  if (is_crd(type)) {
    meta["name"] = name;
    auto parsed = ResourceRegistry::types_from_crd(object);
    if (!parsed.ok()) return fail(parsed.error());
    crd_types = std::move(parsed.value());
  }
  meta["name"] = name;
  meta["uid"] = new_uid(rng_);
  meta["creationTimestamp"] = now();
  if (type.tracks_generation) {
    meta["generation"] = 1;
  } else {
    meta.erase("generation");
  }
  meta.erase("deletionTimestamp");
  meta.erase("deletionGracePeriodSeconds");
  object["apiVersion"] = type.api_version();
  object["kind"] = type.kind;
  if (type.status_subresource) object.erase("status");
  apply_create_defaults(type, object);
  if (type.custom) {
    if (name.empty()) meta.erase("name");
    if (validate_custom_resources_) {
      auto schema_errors = validate_custom_resource(type, object, nullptr);
      errors.insert(errors.end(), schema_errors.begin(), schema_errors.end());
    }
    if (!errors.empty()) return fail(invalid(type.group, type.kind, name, errors));
  }
  auto& bucket = objects_[gr];
  if (bucket.count(key(type.namespaced ? ns : "", name)) != 0)
    return fail(already_exists(gr, name));
  if (crd_types) {
    establish_crd(object, now());
    registry_.install_crd(name, std::move(*crd_types));
  }
  if (type.custom) go_round_trip_numbers(object);
  meta["resourceVersion"] = std::to_string(++rv_);
  auto stored = share(std::move(object));
  bucket[key(type.namespaced ? ns : "", name)] = stored;
  record_locked(gr, "ADDED", stored, nullptr);
  return WriteOutcome{*stored, true, std::move(decoded.value())};
}

Result<json> ObjectStore::get(const ResourceType& type, const std::string& ns,
                              const std::string& name) const {
  std::unique_lock lock(mu_);
  const auto gr = type.group_resource();
  const auto b = objects_.find(gr);
  Document found;
  if (b != objects_.end()) {
    const auto it = b->second.find(key(type.namespaced ? ns : "", name));
    if (it != b->second.end()) found = it->second;
  }
  // What a read shows is durable first (a write still in flight is neither seen nor denied).
  await_durable(lock);
  lock.unlock();
  if (!found) return not_found(gr, name);
  json out = *found;
  out["apiVersion"] = type.api_version();
  return out;
}

Result<ListPage> ObjectStore::list(const ResourceType& type, const ListOptions& options) const {
  std::unique_lock lock(mu_);
  auto page = list_locked(type, options);
  await_durable(lock);
  return page;
}

Result<ListPage> ObjectStore::list_locked(const ResourceType& type,
                                          const ListOptions& options) const {
  ListPage page;
  page.rv = rv_;
  std::string after;
  if (!options.continue_token.empty()) {
    const auto bar = options.continue_token.find('|');
    uint64_t token_rv = 0;
    try {
      token_rv = std::stoull(options.continue_token.substr(0, bar));
    } catch (const std::exception&) {
      return bad_request("invalid continue token");
    }
    if (bar == std::string::npos) return bad_request("invalid continue token");
    if (token_rv < compacted_rv_) {
      return gone(
          "The provided continue parameter is too old to display a consistent list result. You can "
          "start a new list without the continue parameter.");
    }
    after = options.continue_token.substr(bar + 1);
    page.rv = token_rv;
  }
  const auto b = objects_.find(type.group_resource());
  if (b == objects_.end()) return page;
  for (auto it = after.empty() ? b->second.begin() : b->second.upper_bound(after);
       it != b->second.end(); ++it) {
    if (!matches(options, *it->second)) continue;
    if (options.limit > 0 && page.items.size() == options.limit) {
      page.continue_token = std::to_string(page.rv) + "|" + std::prev(it)->first;
      if (options.labels.empty() && options.fields.empty()) {
        uint64_t remaining = 0;
        for (auto rest = it; rest != b->second.end(); ++rest)
          remaining += matches(options, *rest->second) ? 1 : 0;
        page.remaining_item_count = remaining;
      }
      break;
    }
    page.items.push_back(it->second);
  }
  return page;
}

Result<WriteOutcome> ObjectStore::update(const ResourceType& type, const std::string& ns,
                                         const std::string& name, const Mutation& mutate,
                                         Subresource sub, bool create_missing,
                                         const DecodeOptions& decode) {
  std::unique_lock lock(mu_);
  if (auto refused = refuse_write_locked()) return *refused;
  auto out = update_locked(type, ns, name, mutate, sub, create_missing, decode);
  if (!await_durable(lock)) return *refuse_write_locked();
  return out;
}

Result<WriteOutcome> ObjectStore::update_locked(const ResourceType& type, const std::string& ns,
                                                const std::string& name, const Mutation& mutate,
                                                Subresource sub, bool create_missing,
                                                const DecodeOptions& decode) {
  const auto gr = type.group_resource();
  auto& bucket = objects_[gr];
  const auto it = bucket.find(key(type.namespaced ? ns : "", name));
  if (it == bucket.end()) {
    if (!create_missing) return not_found(gr, name);
    auto desired = mutate(nullptr);
    if (!desired.ok()) return desired.error();
    auto& meta = desired.value()["metadata"];
    if (!meta.is_object()) meta = json::object();
    if (meta_str(desired.value(), "name").empty()) meta["name"] = name;
    if (meta_str(desired.value(), "name") != name)
      return bad_request("the name of the object (" + meta_str(desired.value(), "name") +
                         ") does not match the name on the URL (" + name + ")");
    meta.erase("resourceVersion");
    return create_locked(type, ns, std::move(desired.value()), decode);
  }
  json live = *it->second;
  live["apiVersion"] = type.api_version();
  auto desired = mutate(live);
  if (!desired.ok()) return desired.error();
  std::vector<std::string> warnings;
  auto committed =
      commit_update_locked(type, live, std::move(desired.value()), sub, decode, &warnings);
  if (!committed.ok()) return committed.error();
  return WriteOutcome{std::move(committed.value()), false, std::move(warnings)};
}

Result<json> ObjectStore::commit_update_locked(const ResourceType& type, const json& old,
                                               json desired, Subresource sub,
                                               const DecodeOptions& decode,
                                               std::vector<std::string>* warnings) {
  const auto gr = type.group_resource();
  const std::string name = meta_str(old, "name");
  if (!desired.is_object()) return bad_request("the request body must be a JSON object");
  auto decoded = decode_locked(type, desired, decode);
  if (!decoded.ok()) return decoded.error();
  if (warnings != nullptr) *warnings = decoded.value();
  // Warnings gathered while decoding go out with any later error too.
  const auto fail = [&decoded](ApiError e) {
    e.warnings = decoded.value();
    return e;
  };
  if (!desired.contains("metadata") || !desired["metadata"].is_object())
    desired["metadata"] = json::object();
  const std::string old_rv = meta_str(old, "resourceVersion");
  const std::string want_rv = meta_str(desired, "resourceVersion");
  if (!want_rv.empty() && want_rv != old_rv) return fail(conflict(gr, name));
  const std::string new_name = meta_str(desired, "name");
  if (!new_name.empty() && new_name != name) {
    return fail(bad_request("the name of the object (" + new_name +
                            ") does not match the name on the URL (" + name + ")"));
  }
  json next;
  if (sub == Subresource::kStatus) {
    next = old;
    if (desired.contains("status")) {
      next["status"] = desired["status"];
    } else {
      next.erase("status");
    }
  } else {
    next = std::move(desired);
    auto& meta = next["metadata"];
    const auto& old_meta = old["metadata"];
    for (const char* field : {"name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                              "deletionGracePeriodSeconds", "generation"}) {
      if (old_meta.contains(field)) {
        meta[field] = old_meta[field];
      } else {
        meta.erase(field);
      }
    }
    if (!meta.contains("managedFields") && old_meta.contains("managedFields")) {
      meta["managedFields"] = old_meta["managedFields"];
    }
    if (type.status_subresource) {
      if (old.contains("status")) {
        next["status"] = old["status"];
      } else {
        next.erase("status");
      }
    }
    if (old_meta.contains("deletionTimestamp")) {
      const auto old_f = finalizers_of(old);
      std::set<std::string> extra;  // sets.List: sorted, once each
      for (const auto& f : finalizers_of(next)) {
        if (std::find(old_f.begin(), old_f.end(), f) == old_f.end())
          extra.insert(f.is_string() ? f.get<std::string>() : f.dump());
      }
      if (!extra.empty()) {
        std::string found;
        for (const auto& f : extra)
          found += (found.empty() ? "" : ", ") + go_quote(f);
        const FieldError e{"FieldValueForbidden", "metadata.finalizers",
                           "Forbidden: no new finalizers can be added if the object is being "
                           "deleted, found new finalizers []string{" +
                               found + "}"};
        // ObjectMeta update validation runs twice (the common fields, then the kind's own
        // checks): the real Status lists the cause twice, the message once.
        return fail(invalid(type.group, type.kind, name, {e, e}));
      }
    }
  }
  next["apiVersion"] = type.api_version();
  next["kind"] = type.kind;
  next["metadata"]["resourceVersion"] = old_rv;
  if (type.custom && validate_custom_resources_) {
    auto errors = sub == Subresource::kStatus ? validate_custom_resource_status(type, next, old)
                                              : validate_custom_resource(type, next, &old);
    if (!errors.empty()) return fail(invalid(type.group, type.kind, name, errors));
  }
  if (type.custom) go_round_trip_numbers(next);
  if (next == old) return old;  // no-op: no new resourceVersion, no event
  if (sub == Subresource::kMain && type.tracks_generation &&
      generation_view(type, old) != generation_view(type, next)) {
    next["metadata"]["generation"] = old["metadata"].value("generation", 0) + 1;
  }
  std::optional<std::vector<ResourceType>> crd_types;
  if (is_crd(type) && sub == Subresource::kMain) {
    auto parsed = ResourceRegistry::types_from_crd(next);
    if (!parsed.ok()) return fail(parsed.error());
    crd_types = std::move(parsed.value());
    establish_crd(next, meta_str(old, "creationTimestamp"));
  }
  next["metadata"]["resourceVersion"] = std::to_string(++rv_);
  if (next["metadata"].contains("deletionTimestamp") && finalizers_of(next).empty()) {
    erase_locked(type, next);
    auto stored = share(std::move(next));
    record_locked(gr, "DELETED", stored, share(old));
    return *stored;
  }
  if (crd_types) registry_.install_crd(name, std::move(*crd_types));
  auto stored = share(std::move(next));
  auto& slot = objects_[gr][key(meta_str(*stored, "namespace"), name)];
  Document previous = slot ? std::move(slot) : share(old);
  slot = stored;
  record_locked(gr, "MODIFIED", stored, std::move(previous));
  return *stored;
}

void ObjectStore::erase_locked(const ResourceType& type, const json& object) {
  const auto gr = type.group_resource();
  objects_[gr].erase(key(meta_str(object, "namespace"), meta_str(object, "name")));
  if (is_crd(type)) {
    // The CRD's instances go with it (the real cleanup finalizer does the same).
    const auto& spec = object.value("spec", json::object());
    const std::string cr_gr =
        spec.value("names", json::object()).value("plural", "") + "." + spec.value("group", "");
    auto& crs = objects_[cr_gr];
    for (const auto& [k, cr] : crs) {
      ++rv_;
      json gone_obj = *cr;
      gone_obj["metadata"]["resourceVersion"] = std::to_string(rv_);
      record_locked(cr_gr, "DELETED", share(std::move(gone_obj)), cr);
    }
    objects_.erase(cr_gr);
    registry_.remove_crd(meta_str(object, "name"));
  }
  if (is_namespace(type)) {
    // Stands in for the namespace controller: the contents go at once, finalizers or not.
    const std::string ns = meta_str(object, "name");
    for (auto& [gr_name, bucket] : objects_) {
      for (auto it = bucket.begin(); it != bucket.end();) {
        if (meta_str(*it->second, "namespace") == ns) {
          ++rv_;
          json gone_obj = *it->second;
          gone_obj["metadata"]["resourceVersion"] = std::to_string(rv_);
          record_locked(gr_name, "DELETED", share(std::move(gone_obj)), it->second);
          it = bucket.erase(it);
        } else {
          ++it;
        }
      }
    }
  }
}

Result<json> ObjectStore::remove(const ResourceType& type, const std::string& ns,
                                 const std::string& name, const DeleteOptions& options) {
  std::unique_lock lock(mu_);
  if (auto refused = refuse_write_locked()) return *refused;
  auto out = remove_locked(type, ns, name, options);
  if (!await_durable(lock)) return *refuse_write_locked();
  return out;
}

Result<json> ObjectStore::remove_locked(const ResourceType& type, const std::string& ns,
                                        const std::string& name, const DeleteOptions& options) {
  const auto gr = type.group_resource();
  auto& bucket = objects_[gr];
  const auto it = bucket.find(key(type.namespaced ? ns : "", name));
  if (it == bucket.end()) return not_found(gr, name);
  const Document old_stored = it->second;
  json old = *old_stored;
  old["apiVersion"] = type.api_version();
  // rest.BeforeDelete's checks, which name the kind (Function.kubefn.dev), not the resource.
  const auto precondition_failed = [&](const std::string& why) {
    ApiError e = conflict(type.group.empty() ? type.kind : type.kind + "." + type.group, name);
    e.message = "Operation cannot be fulfilled on " +
                (type.group.empty() ? type.kind : type.kind + "." + type.group) + " " +
                go_quote(name) + ": " + why;
    return e;
  };
  if (!options.precondition_uid.empty() && options.precondition_uid != meta_str(old, "uid")) {
    return precondition_failed("the UID in the precondition (" + options.precondition_uid +
                               ") does not match the UID in record (" + meta_str(old, "uid") +
                               "). The object might have been deleted and then recreated");
  }
  if (!options.precondition_rv.empty() &&
      options.precondition_rv != meta_str(old, "resourceVersion")) {
    return precondition_failed(
        "the ResourceVersion in the precondition (" + options.precondition_rv +
        ") does not match the ResourceVersion in record (" + meta_str(old, "resourceVersion") +
        "). The object might have been modified");
  }
  json next = old;
  auto finalizers = finalizers_of(next);
  const bool deleting = old["metadata"].contains("deletionTimestamp");
  const auto add_finalizer = [&](const char* f) {
    if (std::find(finalizers.begin(), finalizers.end(), f) == finalizers.end())
      finalizers.push_back(f);
  };
  if (!deleting && options.propagation_policy == "Foreground") add_finalizer("foregroundDeletion");
  if (!deleting && options.propagation_policy == "Orphan") add_finalizer("orphan");
  if (!finalizers.empty()) {
    if (deleting) return old;
    next["metadata"]["finalizers"] = finalizers;
    // Marking an object deleted is a change its controllers must see: a generation it has goes up.
    const auto generation = next["metadata"].value("generation", json(0));
    if (generation.is_number_integer() && generation.get<int64_t>() > 0)
      next["metadata"]["generation"] = generation.get<int64_t>() + 1;
    next["metadata"]["deletionTimestamp"] = now();
    next["metadata"]["deletionGracePeriodSeconds"] = 0;
    if (is_namespace(type)) next["status"]["phase"] = "Terminating";
    next["metadata"]["resourceVersion"] = std::to_string(++rv_);
    auto stored = share(next);
    it->second = stored;
    record_locked(gr, "MODIFIED", stored, old_stored);
    if (!is_namespace(type)) return next;
  }
  ++rv_;
  next["metadata"]["resourceVersion"] = std::to_string(rv_);
  erase_locked(type, next);
  record_locked(gr, "DELETED", share(next), old_stored);
  json details = {{"name", name}, {"kind", type.resource}, {"uid", meta_str(old, "uid")}};
  if (!type.group.empty()) details["group"] = type.group;
  return success_status(details);
}

std::vector<std::pair<std::shared_ptr<const ResourceType>, Document>> ObjectStore::snapshot(
    const std::string& group_resource) const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::shared_ptr<const ResourceType>, Document>> out;
  std::set<std::string> seen;
  for (const auto& t : registry_.all()) {
    const auto gr = t.group_resource();
    if (!group_resource.empty() && gr != group_resource) continue;
    // A CRD with several served versions lists its objects once, under the first version.
    if (!seen.insert(gr).second) continue;
    const auto b = objects_.find(gr);
    if (b == objects_.end()) continue;
    const auto shared_type = std::make_shared<const ResourceType>(t);
    for (const auto& [k, obj] : b->second)
      out.emplace_back(shared_type, obj);
  }
  return out;
}

uint64_t ObjectStore::resource_version() const {
  std::lock_guard lock(mu_);
  return rv_;
}

uint64_t ObjectStore::wait_for_change(uint64_t seen,
                                      std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mu_);
  changed_.wait_until(lock, deadline, [&] { return stopping_ || rv_ > seen; });
  return rv_;
}

WatchStart ObjectStore::begin_watch(const ResourceType& type, const std::string& rv_param,
                                    const std::string& ns) {
  std::unique_lock lock(mu_);
  auto start = begin_watch_locked(type, rv_param, ns);
  await_durable(lock);
  return start;
}

WatchStart ObjectStore::begin_watch_locked(const ResourceType& type, const std::string& rv_param,
                                           const std::string& ns) {
  WatchStart start;
  start.epoch = epoch_;
  start.after_rv = rv_;
  if (rv_param.empty() || rv_param == "0") {
    const auto b = objects_.find(type.group_resource());
    if (b != objects_.end()) {
      for (const auto& [k, obj] : b->second) {
        if (ns.empty() || meta_str(*obj, "namespace") == ns) start.initial.push_back(obj);
      }
    }
    return start;
  }
  uint64_t from = 0;
  try {
    from = std::stoull(rv_param);
  } catch (const std::exception&) {
    start.expired = bad_request("invalid resource version: " + rv_param);
    return start;
  }
  if (expire_next_ > 0 || from < compacted_rv_) {
    if (expire_next_ > 0) --expire_next_;
    start.expired = gone("too old resource version: " + rv_param + " (" +
                         std::to_string(std::max(compacted_rv_, from + 1)) + ")");
    return start;
  }
  start.after_rv = from;
  return start;
}

WatchPoll ObjectStore::poll_watch(const std::string& group_resource, uint64_t after_rv,
                                  uint64_t epoch,
                                  std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mu_);
  // Durable events only: a watcher never sees a change a crash could still take back.
  changed_.wait_until(lock, deadline, [&] {
    return stopping_ || epoch != epoch_ || visible_rv_locked() > after_rv;
  });
  const uint64_t visible = visible_rv_locked();
  WatchPoll poll;
  poll.rv_now = std::max(visible, after_rv);
  if (stopping_ || epoch != epoch_) {
    poll.ended = true;
    return poll;
  }
  if (after_rv < compacted_rv_) {
    poll.expired = true;
    return poll;
  }
  // The log is in resourceVersion order: start past after_rv rather than scan it all.
  const auto first = std::upper_bound(log_.begin(), log_.end(), after_rv,
                                      [](uint64_t rv, const WatchEvent& e) { return rv < e.rv; });
  for (auto it = first; it != log_.end() && it->rv <= visible; ++it) {
    if (it->group_resource == group_resource) poll.events.push_back(*it);
  }
  return poll;
}

void ObjectStore::drop_watches() {
  std::lock_guard lock(mu_);
  ++epoch_;
  changed_.notify_all();
}

void ObjectStore::compact() {
  std::lock_guard lock(mu_);
  compacted_rv_ = rv_;
  log_.clear();
  changed_.notify_all();
}

void ObjectStore::expire_next_watches(int times) {
  std::lock_guard lock(mu_);
  expire_next_ = times;
}

void ObjectStore::reset() {
  std::unique_lock lock(mu_);
  if (refuse_write_locked()) return;
  objects_.clear();
  log_.clear();
  registry_.reset();
  ++rv_;
  if (disk_) {
    LogRecord r;
    r.op = LogRecord::Op::kReset;
    r.rv = rv_;
    pending_.push_back(std::move(r));
    appended_rv_ = rv_;
    flush_cv_.notify_one();
  }
  compacted_rv_ = rv_;
  expire_next_ = 0;
  ++epoch_;
  seed_locked();
  changed_.notify_all();
  await_durable(lock);
}

void ObjectStore::shutdown() {
  std::lock_guard lock(mu_);
  stopping_ = true;
  changed_.notify_all();
}

bool ObjectStore::stopping() const {
  std::lock_guard lock(mu_);
  return stopping_;
}

}  // namespace kubefn::emulator
