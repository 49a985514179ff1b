#pragma once

// The files of a durable object store, in one folder of its own:
//
//   lock      held (flock) while a store has the folder open: one store per folder
//   snapshot  every object at one resourceVersion, written whole (to snapshot.tmp, fsync,
//             rename, folder fsync), so it is either the old one or the new one
//   log       the changes committed since that snapshot, one record per change, appended and
//             fdatasync'ed before the writes they hold are answered
//
// Both files are sequences of frames: a 4-byte little-endian payload length, a 4-byte
// little-endian CRC-32C of the length and the payload, then the payload (JSON). A crash in the
// middle of an append leaves a last frame that is short or fails its checksum; it held only
// writes that were never answered, so recovery drops it (and says so on stderr).
//
// Files are created 0600, and the folder 0700 when the store makes it: the store holds Secrets.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace kubefn::emulator {

using StoredObjects =
    std::map<std::string, std::map<std::string, std::shared_ptr<const nlohmann::json>>>;

// One committed change.
struct LogRecord {
  enum class Op { kPut, kDelete, kReset };
  Op op = Op::kPut;
  uint64_t rv = 0;
  std::string group_resource;                    // kPut, kDelete
  std::string key;                               // kDelete: "<namespace>/<name>"
  std::shared_ptr<const nlohmann::json> object;  // kPut: the object as stored
};

// What a folder held when it was opened.
struct Recovered {
  bool fresh = true;  // neither a snapshot nor a record: a new store
  uint64_t rv = 0;    // the highest resourceVersion of the snapshot and the records
  StoredObjects objects;
  std::size_t records = 0;  // log records replayed over the snapshot
  std::size_t log_bytes = 0;
};

class DataDir {
 public:
  // Creates the folder when missing and takes its lock. Throws std::runtime_error when it
  // cannot (another store has it, no permission).
  explicit DataDir(std::string dir);
  ~DataDir();
  DataDir(const DataDir&) = delete;
  DataDir& operator=(const DataDir&) = delete;

  // Reads the snapshot and replays the log over it. A torn last frame of the log is cut off;
  // anything else that does not read back (a snapshot that fails its checksum, a record that
  // is not a change) throws std::runtime_error rather than start with part of the data.
  Recovered recover();
  // Appends the records and fdatasyncs the log. Throws std::runtime_error on an I/O error.
  void append(const std::vector<LogRecord>& records);
  // Writes a snapshot of `objects` at `rv` atomically, then empties the log. Throws
  // std::runtime_error on an I/O error (the previous snapshot and the log are then intact).
  void write_snapshot(uint64_t rv, const StoredObjects& objects);
  // Bytes in the log now.
  std::size_t log_bytes() const { return log_bytes_; }
  const std::string& path() const { return dir_; }

 private:
  std::string dir_;
  int dir_fd_ = -1;
  int lock_fd_ = -1;
  int log_fd_ = -1;
  std::size_t log_bytes_ = 0;
};

// CRC-32C (Castagnoli) of `size` bytes, continuing from `crc` (0 to start).
uint32_t crc32c(uint32_t crc, const void* data, std::size_t size);

}  // namespace kubefn::emulator
