#include "data_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <stdexcept>

namespace kubefn::emulator {
namespace {

using nlohmann::json;

constexpr int kFormat = 1;
constexpr std::size_t kFrameHeader = 8;
// No single object comes near this; a larger length is a torn or foreign frame.
constexpr uint32_t kMaxPayload = 256u << 20;

const std::array<uint32_t, 256>& crc_table() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k)
        c = (c & 1) != 0 ? 0x82f63b78u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

void put_u32(char* out, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint32_t get_u32(const char* in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  return v;
}

void append_frame(std::string& out, const std::string& payload) {
  char header[kFrameHeader];
  put_u32(header, static_cast<uint32_t>(payload.size()));
  const uint32_t crc = crc32c(crc32c(0, header, 4), payload.data(), payload.size());
  put_u32(header + 4, crc);
  out.append(header, kFrameHeader);
  out += payload;
}

// Calls `each` with every whole, intact frame's payload; returns the offset where they end.
std::size_t read_frames(const std::string& data,
                        const std::function<void(const std::string&, std::size_t)>& each) {
  std::size_t at = 0;
  while (data.size() - at >= kFrameHeader) {
    const uint32_t size = get_u32(data.data() + at);
    if (size == 0 || size > kMaxPayload || data.size() - at - kFrameHeader < size) break;
    const uint32_t crc =
        crc32c(crc32c(0, data.data() + at, 4), data.data() + at + kFrameHeader, size);
    if (crc != get_u32(data.data() + at + 4)) break;
    each(data.substr(at + kFrameHeader, size), at);
    at += kFrameHeader + size;
  }
  return at;
}

[[noreturn]] void fail(const std::string& what, int err = errno) {
  throw std::runtime_error(what + ": " + std::strerror(err));
}

void write_all(int fd, const std::string& data, const std::string& path) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write " + path);
    }
    done += static_cast<std::size_t>(n);
  }
}

std::string read_all(int fd, const std::string& path) {
  std::string data;
  char buf[1 << 16];
  for (off_t at = 0;;) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, at);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot read " + path);
    }
    if (n == 0) return data;
    data.append(buf, static_cast<std::size_t>(n));
    at += n;
  }
}

std::string key_of(const json& object) {
  const json& meta = object.value("metadata", json::object());
  return meta.value("namespace", "") + "/" + meta.value("name", "");
}

std::string record_payload(const LogRecord& r) {
  std::string out = "{\"rv\":" + std::to_string(r.rv);
  switch (r.op) {
    case LogRecord::Op::kPut:
      out += ",\"gr\":" + json(r.group_resource).dump() + ",\"put\":" + r.object->dump();
      break;
    case LogRecord::Op::kDelete:
      out += ",\"gr\":" + json(r.group_resource).dump() + ",\"delete\":" + json(r.key).dump();
      break;
    case LogRecord::Op::kReset:
      out += ",\"reset\":true";
      break;
  }
  return out + "}";
}

}  // namespace

uint32_t crc32c(uint32_t crc, const void* data, std::size_t size) {
  const auto& table = crc_table();
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (std::size_t i = 0; i < size; ++i)
    crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

DataDir::DataDir(std::string dir) : dir_(std::move(dir)) {
  while (dir_.size() > 1 && dir_.back() == '/')
    dir_.pop_back();
  // A folder of its own, private from its creation (an existing one keeps its mode: the
  // files in it are private either way).
  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::path(dir_).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) throw std::runtime_error("cannot create " + parent.string() + ": " + ec.message());
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) fail("cannot create " + dir_);
  dir_fd_ = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd_ < 0) fail("cannot open " + dir_);
  const std::string lock = dir_ + "/lock";
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) {
    const int err = errno;
    ::close(dir_fd_);
    fail("cannot open " + lock, err);
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(lock_fd_);
    ::close(dir_fd_);
    if (err == EWOULDBLOCK) {
      throw std::runtime_error(dir_ + " is in use by another API server (its lock is held)");
    }
    fail("cannot lock " + lock, err);
  }
}

DataDir::~DataDir() {
  if (log_fd_ >= 0) ::close(log_fd_);
  ::close(lock_fd_);  // releases the lock
  ::close(dir_fd_);
}

Recovered DataDir::recover() {
  Recovered out;
  const std::string snapshot = dir_ + "/snapshot";
  uint64_t snapshot_rv = 0;
  if (const int fd = ::open(snapshot.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
    std::string data;
    try {
      data = read_all(fd, snapshot);
    } catch (...) {
      ::close(fd);
      throw;
    }
    ::close(fd);
    json header;
    std::size_t count = 0;
    const std::size_t end = read_frames(data, [&](const std::string& payload, std::size_t) {
      json item = json::parse(payload, nullptr, false);
      if (header.is_null()) {
        header = item.is_object() ? item : json::object();
        return;
      }
      if (!item.is_object() || !item.contains("gr") || !item["gr"].is_string() ||
          !item.contains("object") || !item["object"].is_object()) {
        return;  // counted as missing below
      }
      ++count;
      const std::string gr = item["gr"].get<std::string>();
      const std::string key = key_of(item["object"]);
      out.objects[gr][key] = std::make_shared<const json>(std::move(item["object"]));
    });
    if (end != data.size() || header.value("format", 0) != kFormat ||
        header.value("objects", std::size_t{0}) != count || !header.contains("rv") ||
        !header["rv"].is_number_unsigned()) {
      throw std::runtime_error(snapshot +
                               " is damaged (it does not read back whole); the store "
                               "will not start with part of its data");
    }
    snapshot_rv = header["rv"].get<uint64_t>();
    out.rv = snapshot_rv;
    out.fresh = false;
  } else if (errno != ENOENT) {
    fail("cannot open " + snapshot);
  }

  const std::string log = dir_ + "/log";
  struct stat st {};
  const bool existed = ::stat(log.c_str(), &st) == 0;
  log_fd_ = ::open(log.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd_ < 0) fail("cannot open " + log);
  if (!existed && ::fsync(dir_fd_) != 0) fail("cannot sync " + dir_);
  const std::string data = read_all(log_fd_, log);
  const std::size_t end = read_frames(data, [&](const std::string& payload, std::size_t at) {
    json r = json::parse(payload, nullptr, false);
    if (!r.is_object() || !r.contains("rv") || !r["rv"].is_number_unsigned()) {
      throw std::runtime_error(log + ": the record at offset " + std::to_string(at) +
                               " is not a change; the store will not start with part of its data");
    }
    const uint64_t rv = r["rv"].get<uint64_t>();
    out.fresh = false;
    if (rv <= snapshot_rv) return;  // the snapshot has it (a crash between rename and truncate)
    ++out.records;
    out.rv = std::max(out.rv, rv);
    if (r.value("reset", false)) {
      out.objects.clear();
    } else if (r.contains("put") && r["put"].is_object()) {
      const std::string key = key_of(r["put"]);
      out.objects[r.value("gr", "")][key] = std::make_shared<const json>(std::move(r["put"]));
    } else if (r.contains("delete") && r["delete"].is_string()) {
      out.objects[r.value("gr", "")].erase(r["delete"].get<std::string>());
    } else {
      throw std::runtime_error(log + ": the record at offset " + std::to_string(at) +
                               " is not a change; the store will not start with part of its data");
    }
  });
  if (end != data.size()) {
    // Never answered: the frames after `end` are the tail of an append a crash cut short.
    std::cerr << "kube emulator: " << log << ": dropped " << data.size() - end
              << " bytes of a torn last record at offset " << end << " (an append cut short by "
              << "a crash or a failed write; the writes in it were never acknowledged)\n";
    if (::ftruncate(log_fd_, static_cast<off_t>(end)) != 0) fail("cannot truncate " + log);
    if (::fsync(log_fd_) != 0) fail("cannot sync " + log);
  }
  log_bytes_ = end;
  out.log_bytes = end;
  return out;
}

void DataDir::append(const std::vector<LogRecord>& records) {
  std::string batch;
  for (const auto& r : records)
    append_frame(batch, record_payload(r));
  const std::string log = dir_ + "/log";
  write_all(log_fd_, batch, log);
  log_bytes_ += batch.size();
  if (::fdatasync(log_fd_) != 0) fail("cannot sync " + log);
}

void DataDir::write_snapshot(uint64_t rv, const StoredObjects& objects) {
  const std::string tmp = dir_ + "/snapshot.tmp";
  const std::string snapshot = dir_ + "/snapshot";
  std::size_t count = 0;
  for (const auto& [gr, bucket] : objects)
    count += bucket.size();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail("cannot create " + tmp);
  try {
    std::string buf;
    append_frame(buf, json{{"format", kFormat}, {"rv", rv}, {"objects", count}}.dump());
    for (const auto& [gr, bucket] : objects) {
      const std::string prefix = "{\"gr\":" + json(gr).dump() + ",\"object\":";
      for (const auto& [key, object] : bucket) {
        append_frame(buf, prefix + object->dump() + "}");
        if (buf.size() >= (1u << 20)) {
          write_all(fd, buf, tmp);
          buf.clear();
        }
      }
    }
    write_all(fd, buf, tmp);
    if (::fsync(fd) != 0) fail("cannot sync " + tmp);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail("cannot write " + tmp, err);
  }
  if (::rename(tmp.c_str(), snapshot.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail("cannot rename " + tmp, err);
  }
  if (::fsync(dir_fd_) != 0) fail("cannot sync " + dir_);
  // The snapshot holds every record of the log now (recovery skips those at or below `rv`
  // should this not happen).
  const std::string log = dir_ + "/log";
  if (::ftruncate(log_fd_, 0) != 0) fail("cannot truncate " + log);
  if (::fsync(log_fd_) != 0) fail("cannot sync " + log);
  log_bytes_ = 0;
}

}  // namespace kubefn::emulator
