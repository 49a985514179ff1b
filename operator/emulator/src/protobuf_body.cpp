#include "protobuf_body.hpp"

#include <cstdint>
#include <string_view>

namespace kubefn::emulator {
namespace {

using nlohmann::json;

// One field of a protobuf message: its number and either a varint or a length-delimited view.
struct Field {
  int number = 0;
  int wire_type = 0;
  std::uint64_t varint = 0;
  std::string_view bytes;
};

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  // False at the end of the message; `ok()` tells whether it ended cleanly.
  bool next(Field& f) {
    if (pos_ >= data_.size()) return false;
    std::uint64_t key = 0;
    if (!varint(key)) return fail();
    f.number = static_cast<int>(key >> 3);
    f.wire_type = static_cast<int>(key & 7);
    f.bytes = {};
    f.varint = 0;
    switch (f.wire_type) {
      case 0:
        return varint(f.varint) || fail();
      case 1:
        return skip(8) || fail();
      case 2: {
        std::uint64_t len = 0;
        if (!varint(len) || len > data_.size() - pos_) return fail();
        f.bytes = data_.substr(pos_, len);
        pos_ += len;
        return true;
      }
      case 5:
        return skip(4) || fail();
      default:
        return fail();
    }
  }
  bool ok() const { return ok_; }

 private:
  bool varint(std::uint64_t& out) {
    out = 0;
    for (int shift = 0; shift < 64 && pos_ < data_.size(); shift += 7) {
      const auto b = static_cast<unsigned char>(data_[pos_++]);
      out |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  bool skip(std::size_t n) {
    if (n > data_.size() - pos_) return false;
    pos_ += n;
    return true;
  }
  bool fail() {
    ok_ = false;
    return false;
  }

  std::string_view data_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

std::string base64(std::string_view in) {
  static const char* kTable = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const auto n = (static_cast<unsigned char>(in[i]) << 16) |
                   (static_cast<unsigned char>(in[i + 1]) << 8) |
                   static_cast<unsigned char>(in[i + 2]);
    out += {kTable[(n >> 18) & 63], kTable[(n >> 12) & 63], kTable[(n >> 6) & 63], kTable[n & 63]};
  }
  if (i + 1 == in.size()) {
    const auto n = static_cast<unsigned char>(in[i]) << 16;
    out += {kTable[(n >> 18) & 63], kTable[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    const auto n =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += {kTable[(n >> 18) & 63], kTable[(n >> 12) & 63], kTable[(n >> 6) & 63], '='};
  }
  return out;
}

// A map<string, string|bytes> entry: key = 1, value = 2.
bool map_entry(std::string_view entry, std::string& key, std::string& value) {
  Reader r(entry);
  Field f;
  while (r.next(f)) {
    if (f.wire_type != 2) continue;
    if (f.number == 1) key = f.bytes;
    if (f.number == 2) value = f.bytes;
  }
  return r.ok();
}

// metav1.ObjectMeta: the fields a client sets on create and update.
std::optional<json> object_meta(std::string_view data) {
  json meta = json::object();
  Reader r(data);
  Field f;
  while (r.next(f)) {
    if (f.wire_type == 0 && f.number == 7) {
      meta["generation"] = static_cast<std::int64_t>(f.varint);
      continue;
    }
    if (f.wire_type != 2) continue;
    switch (f.number) {
      case 1:
        meta["name"] = std::string(f.bytes);
        break;
      case 2:
        meta["generateName"] = std::string(f.bytes);
        break;
      case 3:
        meta["namespace"] = std::string(f.bytes);
        break;
      case 5:
        meta["uid"] = std::string(f.bytes);
        break;
      case 6:
        meta["resourceVersion"] = std::string(f.bytes);
        break;
      case 11:
      case 12: {
        std::string k, v;
        if (!map_entry(f.bytes, k, v)) return std::nullopt;
        meta[f.number == 11 ? "labels" : "annotations"][k] = v;
        break;
      }
      case 14:
        meta["finalizers"].push_back(std::string(f.bytes));
        break;
      default:
        break;  // timestamps, owner references, managed fields: set by the server or unused
    }
  }
  if (!r.ok()) return std::nullopt;
  return meta;
}

// v1.Secret (data bytes = 2, type = 3, stringData = 4, immutable = 5) and v1.ConfigMap (data = 2,
// binaryData = 3, immutable = 4).
std::optional<json> data_object(std::string_view raw, const std::string& kind) {
  const bool secret = kind == "Secret";
  json obj = {{"apiVersion", "v1"}, {"kind", kind}};
  Reader r(raw);
  Field f;
  while (r.next(f)) {
    if (f.number == 1 && f.wire_type == 2) {
      auto meta = object_meta(f.bytes);
      if (!meta) return std::nullopt;
      obj["metadata"] = std::move(*meta);
    } else if (f.wire_type == 2 && (f.number == 2 || f.number == 3 || f.number == 4)) {
      if (secret && f.number == 3) {
        obj["type"] = std::string(f.bytes);
        continue;
      }
      std::string k, v;
      if (!map_entry(f.bytes, k, v)) return std::nullopt;
      if (secret) {
        if (f.number == 2) obj["data"][k] = base64(v);
        if (f.number == 4) obj["stringData"][k] = v;
      } else {
        if (f.number == 2) obj["data"][k] = v;
        if (f.number == 3) obj["binaryData"][k] = base64(v);
      }
    } else if (f.wire_type == 0 && f.number == (secret ? 5 : 4)) {
      obj["immutable"] = f.varint != 0;
    }
  }
  if (!r.ok()) return std::nullopt;
  if (!obj.contains("metadata")) obj["metadata"] = json::object();
  return obj;
}

// metav1.DeleteOptions: gracePeriodSeconds = 1, preconditions = 2 (uid = 1,
// resourceVersion = 2), orphanDependents = 3, propagationPolicy = 4, dryRun = 5.
std::optional<json> delete_options(std::string_view raw) {
  json obj = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
  Reader r(raw);
  Field f;
  while (r.next(f)) {
    if (f.wire_type == 0 && f.number == 1) {
      obj["gracePeriodSeconds"] = static_cast<std::int64_t>(f.varint);
    } else if (f.wire_type == 0 && f.number == 3) {
      obj["orphanDependents"] = f.varint != 0;
    } else if (f.wire_type == 2 && f.number == 4) {
      obj["propagationPolicy"] = std::string(f.bytes);
    } else if (f.wire_type == 2 && f.number == 5) {
      obj["dryRun"].push_back(std::string(f.bytes));
    } else if (f.wire_type == 2 && f.number == 2) {
      Reader p(f.bytes);
      Field g;
      while (p.next(g)) {
        if (g.wire_type != 2) continue;
        if (g.number == 1) obj["preconditions"]["uid"] = std::string(g.bytes);
        if (g.number == 2) obj["preconditions"]["resourceVersion"] = std::string(g.bytes);
      }
      if (!p.ok()) return std::nullopt;
    }
  }
  if (!r.ok()) return std::nullopt;
  return obj;
}

}  // namespace

std::optional<json> protobuf_body_to_json(const std::string& body, const std::string& kind) {
  static constexpr std::string_view kMagic{"k8s\0", 4};
  if (body.size() < kMagic.size() || std::string_view(body).substr(0, 4) != kMagic) {
    return std::nullopt;
  }
  // runtime.Unknown: typeMeta = 1 (apiVersion = 1, kind = 2), raw = 2.
  Reader r(std::string_view(body).substr(4));
  Field f;
  std::string_view raw;
  std::string sent_kind;
  while (r.next(f)) {
    if (f.wire_type != 2) continue;
    if (f.number == 2) raw = f.bytes;
    if (f.number == 1) {
      Reader t(f.bytes);
      Field g;
      while (t.next(g)) {
        if (g.number == 2 && g.wire_type == 2) sent_kind = g.bytes;
      }
    }
  }
  if (!r.ok()) return std::nullopt;
  if (kind == "DeleteOptions") return delete_options(raw);
  if (kind != "Secret" && kind != "ConfigMap") return std::nullopt;
  if (!sent_kind.empty() && sent_kind != kind) return std::nullopt;
  return data_object(raw, kind);
}

}  // namespace kubefn::emulator
