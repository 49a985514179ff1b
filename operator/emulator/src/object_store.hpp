#pragma once

// The emulator's etcd: every object of every kind, one global resourceVersion counter, a bounded
// event log for watch replay, and the write semantics of the API server (optimistic
// concurrency, generation, status subresource, finalizers). Thread-safe; one mutex.
//
// In memory by default. Given a data directory it is durable (see data_dir.hpp): every change
// is recorded in a write-ahead log that a flusher thread appends and fdatasyncs a batch at a
// time (group commit); a write is answered only once its own record is durable, and reads and
// watches only show what is durable. The log is folded into a snapshot once it passes a size.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "api_error.hpp"
#include "data_dir.hpp"
#include "field_validation.hpp"
#include "resource_types.hpp"
#include "selectors.hpp"

namespace kubefn::emulator {

// Stored objects are immutable once written and shared, by the store, its event log, watch
// polls and snapshots, so that none of them copies a document to read it.
using Document = std::shared_ptr<const nlohmann::json>;

// An event's object serialized once, on first use, for every watcher that sends it unchanged.
class SerializedDocument {
 public:
  explicit SerializedDocument(Document object) : object_(std::move(object)) {}
  const std::string& text() const;

 private:
  Document object_;
  mutable std::once_flag once_;
  mutable std::string text_;
};

struct WatchEvent {
  uint64_t rv = 0;
  std::string group_resource;
  std::string type;  // ADDED, MODIFIED, DELETED
  Document object;
  Document previous;                                     // null for ADDED
  std::shared_ptr<const SerializedDocument> serialized;  // of object
};

enum class Subresource { kMain, kStatus };

struct ListOptions {
  std::string ns;  // empty: all namespaces
  LabelSelector labels;
  FieldSelector fields;
  std::size_t limit = 0;
  std::string continue_token;
};

struct ListPage {
  std::vector<Document> items;  // as stored: apiVersion may name another served version
  uint64_t rv = 0;
  std::string continue_token;
  // metadata.remainingItemCount: how many items the next pages hold, known (as on the real
  // server) only for a cut page of an unselective list.
  std::optional<uint64_t> remaining_item_count;
};

struct DeleteOptions {
  std::string propagation_policy;  // Background (default), Foreground, Orphan
  std::string precondition_uid;
  std::string precondition_rv;
};

// How a write's object was decoded, which decides what the fields pruning removes become
// (fieldValidation) and how a Strict failure is worded.
struct DecodeOptions {
  enum class Source {
    kObject,  // a create or update body: 400 "<Kind> in version ... cannot be handled as ..."
    kPatch,   // a JSON or merge patch: 422 on the field "patch", quoting the patched object
    kApply,   // server-side apply: unknown fields were refused before (typed patch object)
  };
  FieldValidation directive = FieldValidation::kWarn;
  Source source = Source::kObject;
  // Strict errors found in the request itself, reported first: duplicate JSON fields, unknown
  // fields of JSON patch operations.
  std::vector<std::string> strict_errors;
};

struct WriteOutcome {
  nlohmann::json object;
  bool created = false;
  // Warning texts for the response ("unknown field \"spec.foo\""), under fieldValidation=Warn.
  std::vector<std::string> warnings;
};

// Everything a watch needs at its start, taken under one lock.
struct WatchStart {
  std::vector<Document> initial;  // synthetic ADDED objects (RV unset or "0")
  uint64_t after_rv = 0;
  uint64_t epoch = 0;
  std::optional<ApiError> expired;
};

struct WatchPoll {
  std::vector<WatchEvent> events;
  uint64_t rv_now = 0;
  bool expired = false;  // events after after_rv were compacted away
  bool ended = false;    // dropped or shutting down
};

struct Durability {
  std::string data_dir;  // empty: in memory only
  // The log is folded into a new snapshot once it holds this many bytes.
  std::size_t compact_log_bytes = 4u << 20;
};

class ObjectStore {
 public:
  // Given a live object (null when absent), returns the object to store.
  using Mutation = std::function<Result<nlohmann::json>(const nlohmann::json& live)>;

  // With prune_custom_resources, custom resources are pruned and defaulted by their CRD schema;
  // with validate_custom_resources, writes the schema rejects fail with 422.
  // With a data_dir, recovers what the folder holds (throws std::runtime_error when it cannot
  // be opened or does not read back) and keeps it there.
  ObjectStore(std::size_t watch_cache_size, bool prune_custom_resources,
              bool validate_custom_resources = true, Durability durability = {});
  // Makes the pending records durable and stops the flusher.
  ~ObjectStore();
  ObjectStore(const ObjectStore&) = delete;
  ObjectStore& operator=(const ObjectStore&) = delete;

  bool validates_custom_resources() const { return validate_custom_resources_; }
  std::optional<ResourceType> find_type(const std::string& group, const std::string& version,
                                        const std::string& resource) const;
  std::vector<ResourceType> types() const;
  uint64_t types_generation() const;

  Result<nlohmann::json> create(const ResourceType& type, const std::string& ns,
                                nlohmann::json object);
  Result<WriteOutcome> create(const ResourceType& type, const std::string& ns,
                              nlohmann::json object, const DecodeOptions& decode);
  Result<nlohmann::json> get(const ResourceType& type, const std::string& ns,
                             const std::string& name) const;
  Result<ListPage> list(const ResourceType& type, const ListOptions& options) const;
  // Reads the live object and writes what `mutate` returns, atomically. With create_missing the
  // mutation also runs when the object is absent (server-side apply) and its result is created.
  Result<WriteOutcome> update(const ResourceType& type, const std::string& ns,
                              const std::string& name, const Mutation& mutate, Subresource sub,
                              bool create_missing = false, const DecodeOptions& decode = {});
  // Returns the object (still present, finalizers pending) or a success Status.
  Result<nlohmann::json> remove(const ResourceType& type, const std::string& ns,
                                const std::string& name, const DeleteOptions& options);

  // Every stored object with its type (of one group_resource when given), for the fake
  // controllers. Objects are shared with the store, not copied.
  std::vector<std::pair<std::shared_ptr<const ResourceType>, Document>> snapshot(
      const std::string& group_resource = "") const;
  uint64_t resource_version() const;
  // Blocks until the resourceVersion passes `seen`, the deadline passes, or shutdown.
  uint64_t wait_for_change(uint64_t seen, std::chrono::steady_clock::time_point deadline) const;

  WatchStart begin_watch(const ResourceType& type, const std::string& rv_param,
                         const std::string& ns);
  WatchPoll poll_watch(const std::string& group_resource, uint64_t after_rv, uint64_t epoch,
                       std::chrono::steady_clock::time_point deadline) const;

  void drop_watches();
  void compact();
  void expire_next_watches(int times);
  void reset();
  void shutdown();
  bool stopping() const;

 private:
  using Bucket = std::map<std::string, Document>;  // "<ns>/<name>" -> object

  static std::string key(const std::string& ns, const std::string& name) { return ns + "/" + name; }
  // Prunes and defaults a custom resource as decoding does; returns the warnings to send, or
  // the error fieldValidation=Strict (or an undecodable object) makes of what was found.
  Result<std::vector<std::string>> decode_locked(const ResourceType& type, nlohmann::json& object,
                                                 const DecodeOptions& decode) const;
  Result<ListPage> list_locked(const ResourceType& type, const ListOptions& options) const;
  Result<WriteOutcome> update_locked(const ResourceType& type, const std::string& ns,
                                     const std::string& name, const Mutation& mutate,
                                     Subresource sub, bool create_missing,
                                     const DecodeOptions& decode);
  WatchStart begin_watch_locked(const ResourceType& type, const std::string& rv_param,
                                const std::string& ns);
  Result<WriteOutcome> create_locked(const ResourceType& type, const std::string& ns,
                                     nlohmann::json object, const DecodeOptions& decode = {});
  Result<nlohmann::json> commit_update_locked(const ResourceType& type, const nlohmann::json& old,
                                              nlohmann::json desired, Subresource sub,
                                              const DecodeOptions& decode,
                                              std::vector<std::string>* warnings);
  Result<nlohmann::json> remove_locked(const ResourceType& type, const std::string& ns,
                                       const std::string& name, const DeleteOptions& options);
  void erase_locked(const ResourceType& type, const nlohmann::json& object);
  void record_locked(const std::string& gr, const std::string& type, Document object,
                     Document previous);
  void seed_locked();
  std::string now() const;
  // Durability. Waits (releasing the lock) until every record appended so far is durable;
  // false when the log cannot be written.
  bool await_durable(std::unique_lock<std::mutex>& lock) const;
  // The 500 every write gets once the log could not be written.
  std::optional<ApiError> refuse_write_locked() const;
  // The newest resourceVersion watches may deliver.
  uint64_t visible_rv_locked() const { return disk_ ? durable_rv_ : rv_; }
  void recover_locked();
  // Drops Events older than an hour, as the real server's event TTL does; how many went.
  std::size_t expire_events_locked();
  void flush_loop();

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  ResourceRegistry registry_;
  std::map<std::string, Bucket> objects_;  // group_resource -> bucket
  std::deque<WatchEvent> log_;
  std::size_t log_capacity_;
  bool prune_custom_resources_;
  bool validate_custom_resources_;
  uint64_t rv_ = 10000;
  uint64_t compacted_rv_ = 10000;
  uint64_t epoch_ = 0;
  int expire_next_ = 0;
  bool stopping_ = false;
  std::mt19937_64 rng_;

  std::unique_ptr<DataDir> disk_;
  std::size_t compact_log_bytes_;
  std::size_t compact_at_;          // log size that triggers the next snapshot
  std::vector<LogRecord> pending_;  // recorded, not yet handed to the flusher
  uint64_t appended_rv_ = 0;        // resourceVersion of the last record recorded
  uint64_t durable_rv_ = 0;         // ... of the last one fdatasync'ed
  std::string disk_error_;          // set once an append failed: writes are refused
  bool closing_ = false;
  std::condition_variable flush_cv_;            // the flusher waits for records
  mutable std::condition_variable durable_cv_;  // writers and readers wait for durability
  std::thread flusher_;
};

}  // namespace kubefn::emulator
