#include "kubefn/oci/tar.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>

namespace kubefn::oci {
namespace {

using kube::Result;
using kube::Status;
using kube::StatusCode;

constexpr std::size_t kBlock = 512;

Status bad_tar(const std::string& what) {
  return Status(StatusCode::kInvalid, "bad tar archive: " + what);
}

// Writes `value` as zero-padded octal filling width-1 digits plus a NUL.
void put_octal(char* field, std::size_t width, std::uint64_t value) {
  std::string digits(width - 1, '0');
  for (std::size_t i = width - 1; i-- > 0 && value != 0;) {
    digits[i] = static_cast<char>('0' + (value & 7));
    value >>= 3;
  }
  std::memcpy(field, digits.data(), width - 1);
  field[width - 1] = '\0';
}

bool fits_octal(std::size_t width, std::uint64_t value) {
  return value < (std::uint64_t{1} << (3 * (width - 1)));
}

void put_string(char* field, std::size_t width, std::string_view value) {
  std::memcpy(field, value.data(), std::min(width, value.size()));
}

std::string pax_record(std::string_view key, std::string_view value) {
  // "<len> <key>=<value>\n" where len counts the whole record, its own digits included.
  const std::size_t body = key.size() + value.size() + 3;  // ' ', '=', '\n'
  std::size_t len = body + 1;
  while (std::to_string(len).size() + body != len)
    len = std::to_string(len).size() + body;
  return std::to_string(len) + " " + std::string(key) + "=" + std::string(value) + "\n";
}

void pad(std::string& out) {
  const std::size_t rest = out.size() % kBlock;
  if (rest != 0) out.append(kBlock - rest, '\0');
}

void append_header(std::string& out, std::string_view name, char type, std::uint32_t mode,
                   std::uint32_t uid, std::uint32_t gid, std::uint64_t size,
                   std::string_view link) {
  char header[kBlock];
  std::memset(header, 0, sizeof(header));
  put_string(header + 0, 100, name);
  put_octal(header + 100, 8, mode & 07777);
  put_octal(header + 108, 8, fits_octal(8, uid) ? uid : 0);
  put_octal(header + 116, 8, fits_octal(8, gid) ? gid : 0);
  put_octal(header + 124, 12, fits_octal(12, size) ? size : 0);
  put_octal(header + 136, 12, 0);  // mtime
  header[156] = type;
  put_string(header + 157, 100, link);
  std::memcpy(header + 257, "ustar", 6);  // magic with its NUL
  std::memcpy(header + 263, "00", 2);
  put_octal(header + 329, 8, 0);
  put_octal(header + 337, 8, 0);
  std::memset(header + 148, ' ', 8);
  unsigned int sum = 0;
  for (unsigned char c : std::string_view(header, kBlock))
    sum += c;
  put_octal(header + 148, 7, sum);  // six digits and a NUL ...
  header[155] = ' ';                // ... then a space
  out.append(header, kBlock);
}

std::string entry_name(const TarEntry& entry) {
  std::string name = entry.path;
  while (!name.empty() && name.front() == '/')
    name.erase(0, 1);
  if (entry.type == TarEntry::Type::kDirectory && !name.empty() && name.back() != '/') {
    name.push_back('/');
  }
  return name;
}

}  // namespace

void append_tar_entry(std::string& out, const TarEntry& entry) {
  const std::string name = entry_name(entry);
  const char type = entry.type == TarEntry::Type::kDirectory  ? '5'
                    : entry.type == TarEntry::Type::kSymlink  ? '2'
                    : entry.type == TarEntry::Type::kHardlink ? '1'
                                                              : '0';
  const std::uint64_t size = entry.type == TarEntry::Type::kFile ? entry.data.size() : 0;
  const bool linked =
      entry.type == TarEntry::Type::kSymlink || entry.type == TarEntry::Type::kHardlink;
  const std::string_view link = linked ? std::string_view(entry.link_target) : "";
  std::string pax;
  if (name.size() > 100) pax += pax_record("path", name);
  if (link.size() > 100) pax += pax_record("linkpath", link);
  if (!fits_octal(12, size)) pax += pax_record("size", std::to_string(size));
  if (!fits_octal(8, entry.uid)) pax += pax_record("uid", std::to_string(entry.uid));
  if (!fits_octal(8, entry.gid)) pax += pax_record("gid", std::to_string(entry.gid));
  if (!pax.empty()) {
    std::string pax_name = "PaxHeaders/" + name;
    if (pax_name.size() > 100) pax_name.resize(100);
    append_header(out, pax_name, 'x', 0644, 0, 0, pax.size(), "");
    out += pax;
    pad(out);
  }
  append_header(out, name.substr(0, std::min<std::size_t>(100, name.size())), type, entry.mode,
                entry.uid, entry.gid, size,
                link.substr(0, std::min<std::size_t>(100, link.size())));
  if (size != 0) {
    out += entry.data;
    pad(out);
  }
}

std::string_view tar_end() {
  static const std::string end(2 * kBlock, '\0');
  return end;
}

std::string write_tar(const std::vector<TarEntry>& entries) {
  std::string out;
  for (const TarEntry& entry : entries)
    append_tar_entry(out, entry);
  out += tar_end();
  return out;
}

namespace {

std::string field_string(const char* field, std::size_t width) {
  const char* end = static_cast<const char*>(std::memchr(field, '\0', width));
  return std::string(field, end ? static_cast<std::size_t>(end - field) : width);
}

std::optional<std::uint64_t> field_number(const char* field, std::size_t width) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(field);
  if (bytes[0] & 0x80) {  // base-256 (GNU)
    std::uint64_t value = bytes[0] & 0x7f;
    for (std::size_t i = 1; i < width; ++i)
      value = (value << 8) | bytes[i];
    return value;
  }
  std::uint64_t value = 0;
  bool any = false;
  for (std::size_t i = 0; i < width; ++i) {
    const char c = field[i];
    if (c == ' ' && !any) continue;
    if (c == '\0' || c == ' ') break;
    if (c < '0' || c > '7') return std::nullopt;
    value = (value << 3) | static_cast<std::uint64_t>(c - '0');
    any = true;
  }
  return value;
}

Result<std::map<std::string, std::string>> parse_pax(std::string_view text) {
  std::map<std::string, std::string> records;
  while (!text.empty()) {
    const auto space = text.find(' ');
    if (space == std::string_view::npos) return bad_tar("malformed PAX record");
    std::size_t len = 0;
    for (char c : text.substr(0, space)) {
      if (c < '0' || c > '9') return bad_tar("malformed PAX record length");
      len = len * 10 + static_cast<std::size_t>(c - '0');
    }
    if (len <= space + 1 || len > text.size() || text[len - 1] != '\n') {
      return bad_tar("malformed PAX record");
    }
    const std::string_view record = text.substr(space + 1, len - space - 2);
    const auto eq = record.find('=');
    if (eq == std::string_view::npos) return bad_tar("PAX record without '='");
    records[std::string(record.substr(0, eq))] = std::string(record.substr(eq + 1));
    text.remove_prefix(len);
  }
  return records;
}

}  // namespace

Result<std::vector<TarEntry>> read_tar(std::string_view tar) {
  std::vector<TarEntry> entries;
  std::map<std::string, std::string> pax;
  std::optional<std::string> gnu_name, gnu_link;
  std::size_t pos = 0;
  while (true) {
    if (pos + kBlock > tar.size()) {
      if (pos == tar.size()) break;  // tolerate a missing end marker
      return bad_tar("truncated header at offset " + std::to_string(pos));
    }
    const char* header = tar.data() + pos;
    if (std::all_of(header, header + kBlock, [](char c) { return c == '\0'; })) break;
    unsigned int sum = 0;
    for (std::size_t i = 0; i < kBlock; ++i) {
      sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(header[i]);
    }
    const auto stored_sum = field_number(header + 148, 8);
    if (!stored_sum || *stored_sum != sum) {
      return bad_tar("header checksum mismatch at offset " + std::to_string(pos));
    }
    auto size = field_number(header + 124, 12);
    if (!size) return bad_tar("bad size field at offset " + std::to_string(pos));
    const char type = header[156];
    if ((type == '0' || type == '\0') && pax.count("size")) *size = std::stoull(pax["size"]);
    pos += kBlock;
    if (*size > tar.size() - pos) return bad_tar("entry data runs past the end");
    const std::string_view data = tar.substr(pos, *size);
    pos += (*size + kBlock - 1) / kBlock * kBlock;

    if (type == 'x') {
      auto records = parse_pax(data);
      if (!records.ok()) return records.status();
      pax = std::move(*records);
      continue;
    }
    if (type == 'g') continue;
    if (type == 'L' || type == 'K') {
      std::string value(data);
      while (!value.empty() && value.back() == '\0')
        value.pop_back();
      (type == 'L' ? gnu_name : gnu_link) = std::move(value);
      continue;
    }

    TarEntry entry;
    std::string name = field_string(header, 100);
    const std::string magic = field_string(header + 257, 6);
    if (magic == "ustar") {
      const std::string prefix = field_string(header + 345, 155);
      if (!prefix.empty()) name = prefix + "/" + name;
    }
    if (gnu_name) name = *gnu_name;
    if (pax.count("path")) name = pax["path"];
    std::string link = field_string(header + 157, 100);
    if (gnu_link) link = *gnu_link;
    if (pax.count("linkpath")) link = pax["linkpath"];
    entry.mode = static_cast<std::uint32_t>(field_number(header + 100, 8).value_or(0));
    entry.uid = static_cast<std::uint32_t>(field_number(header + 108, 8).value_or(0));
    entry.gid = static_cast<std::uint32_t>(field_number(header + 116, 8).value_or(0));
    if (pax.count("uid")) entry.uid = static_cast<std::uint32_t>(std::stoul(pax["uid"]));
    if (pax.count("gid")) entry.gid = static_cast<std::uint32_t>(std::stoul(pax["gid"]));
    pax.clear();
    gnu_name.reset();
    gnu_link.reset();
    switch (type) {
      case '0':
      case '\0':
      case '7':
        entry.type = TarEntry::Type::kFile;
        entry.data = std::string(data);
        break;
      case '5':
        entry.type = TarEntry::Type::kDirectory;
        while (name.size() > 1 && name.back() == '/')
          name.pop_back();
        break;
      case '2':
        entry.type = TarEntry::Type::kSymlink;
        entry.link_target = link;
        break;
      case '1':
        entry.type = TarEntry::Type::kHardlink;
        entry.link_target = link;
        break;
      default:
        return bad_tar("unsupported entry type '" + std::string(1, type) + "' for " + name);
    }
    entry.path = std::move(name);
    entries.push_back(std::move(entry));
  }
  return entries;
}

std::string gzip(std::string_view data, int level) {
  z_stream stream{};
  deflateInit2(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  gz_header header{};
  header.os = 255;  // unknown: the bytes do not depend on the building machine
  deflateSetHeader(&stream, &header);
  std::string out;
  out.resize(deflateBound(&stream, data.size()) + 64);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  int rc = Z_OK;
  while ((rc = deflate(&stream, Z_FINISH)) == Z_OK) {
    const std::size_t used = out.size() - stream.avail_out;
    out.resize(out.size() * 2);
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    stream.avail_out = static_cast<uInt>(out.size() - used);
  }
  out.resize(out.size() - stream.avail_out);
  deflateEnd(&stream);
  return out;
}

struct GzipWriter::State {
  z_stream stream{};
  gz_header header{};
  bool finished = false;
};

GzipWriter::GzipWriter(int level) : state_(std::make_unique<State>()) {
  deflateInit2(&state_->stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  state_->header.os = 255;  // as gzip(): the bytes do not depend on the building machine
  deflateSetHeader(&state_->stream, &state_->header);
}

GzipWriter::~GzipWriter() {
  deflateEnd(&state_->stream);
}

namespace {

// Runs deflate over `data` with `flush`, appending all output to `out`.
void deflate_into(z_stream& stream, std::string_view data, int flush, std::string& out) {
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  char buffer[64 * 1024];
  while (true) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof(buffer);
    const int rc = deflate(&stream, flush);
    out.append(buffer, sizeof(buffer) - stream.avail_out);
    if (flush == Z_FINISH ? rc == Z_STREAM_END : stream.avail_out != 0) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) break;
  }
}

}  // namespace

void GzipWriter::write(std::string_view data, std::string& out) {
  constexpr std::size_t kPiece = std::size_t{1} << 30;  // avail_in is 32 bits
  while (!data.empty() && !state_->finished) {
    const std::string_view piece = data.substr(0, kPiece);
    deflate_into(state_->stream, piece, Z_NO_FLUSH, out);
    data.remove_prefix(piece.size());
  }
}

void GzipWriter::finish(std::string& out) {
  if (state_->finished) return;
  deflate_into(state_->stream, {}, Z_FINISH, out);
  state_->finished = true;
}

Result<std::string> gunzip(std::string_view data) {
  if (data.size() < 2 || static_cast<unsigned char>(data[0]) != 0x1f ||
      static_cast<unsigned char>(data[1]) != 0x8b) {
    return Status(StatusCode::kInvalid, "not gzip data");
  }
  z_stream stream{};
  if (inflateInit2(&stream, 15 + 16) != Z_OK) {
    return Status(StatusCode::kInternalError, "inflateInit2 failed");
  }
  std::string out;
  char buffer[64 * 1024];
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  while (true) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof(buffer);
    const int rc = inflate(&stream, Z_NO_FLUSH);
    out.append(buffer, sizeof(buffer) - stream.avail_out);
    if (rc == Z_STREAM_END) {
      if (stream.avail_in == 0) break;
      inflateReset(&stream);  // another gzip member follows
      continue;
    }
    if (rc != Z_OK || (stream.avail_in == 0 && stream.avail_out != 0)) {
      inflateEnd(&stream);
      return Status(StatusCode::kInvalid, rc == Z_OK || rc == Z_BUF_ERROR
                                              ? std::string("truncated gzip data")
                                              : std::string("corrupt gzip data"));
    }
  }
  inflateEnd(&stream);
  return out;
}

}  // namespace kubefn::oci
