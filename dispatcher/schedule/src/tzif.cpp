// TimeZone::from_tzif: the TZif format of RFC 8536. Only the version 2+ data (64-bit times)
// and the footer are read; the version 1 block is skipped by its counts.
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "kubefn/schedule/time_zone.hpp"

namespace kubefn::schedule {
namespace {

struct Counts {
  std::uint64_t isut = 0, isstd = 0, leap = 0, time = 0, type = 0, chars = 0;
};

class Bytes {
 public:
  explicit Bytes(std::string_view data) : data_(data) {}
  std::size_t left() const { return data_.size() - pos_; }
  bool skip(std::uint64_t n) {
    if (n > left()) return false;
    pos_ += static_cast<std::size_t>(n);
    return true;
  }
  std::string_view take(std::size_t n) {
    auto v = data_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  std::uint8_t u8() { return static_cast<std::uint8_t>(data_[pos_++]); }
  std::uint64_t be(int width) {
    std::uint64_t v = 0;
    for (int i = 0; i < width; ++i)
      v = (v << 8) | u8();
    return v;
  }

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
};

constexpr std::size_t kHeaderSize = 44;

bool read_header(Bytes& b, char& version, Counts& c) {
  if (b.left() < kHeaderSize) return false;
  if (b.take(4) != "TZif") return false;
  version = static_cast<char>(b.u8());
  b.skip(15);
  c.isut = b.be(4);
  c.isstd = b.be(4);
  c.leap = b.be(4);
  c.time = b.be(4);
  c.type = b.be(4);
  c.chars = b.be(4);
  return true;
}

}  // namespace

Result<TimeZone> TimeZone::from_tzif(std::string name, std::string_view data) {
  auto bad = [&name](const std::string& what) {
    return Error{"time zone \"" + name + "\": " + what};
  };
  Bytes b(data);
  char version = 0;
  Counts c;
  if (!read_header(b, version, c)) return bad("not a TZif file");
  if (version == '\0') return bad("TZif version 1 file (no 64-bit data) is not supported");
  if (version < '2' || version > '9') return bad("unknown TZif version");
  if (!b.skip(c.time * 5 + c.type * 6 + c.chars + c.leap * 8 + c.isstd + c.isut)) {
    return bad("truncated TZif file (version 1 data)");
  }
  if (!read_header(b, version, c)) return bad("truncated TZif file (no version 2 header)");
  if (c.leap != 0) return bad("zones with leap seconds (right/...) are not supported");
  if (c.type == 0 || c.type > 256) return bad("bad TZif file: local time type count");
  if (c.chars == 0) return bad("bad TZif file: no abbreviations");
  if ((c.isstd != 0 && c.isstd != c.type) || (c.isut != 0 && c.isut != c.type)) {
    return bad("bad TZif file: standard/UT indicator counts");
  }
  const std::uint64_t size = c.time * 9 + c.type * 6 + c.chars + c.isstd + c.isut;
  if (size > b.left()) return bad("truncated TZif file (version 2 data)");

  TimeZone z;
  z.transitions_.reserve(c.time);
  for (std::uint64_t i = 0; i < c.time; ++i) {
    const auto t = static_cast<std::int64_t>(b.be(8));
    if (t < kMinInstant.time_since_epoch().count() || t > kMaxInstant.time_since_epoch().count())
      return bad("bad TZif file: transition time out of range");
    const Instant at{std::chrono::seconds{t}};
    if (!z.transitions_.empty() && at <= z.transitions_.back()) {
      return bad("bad TZif file: transition times not in ascending order");
    }
    z.transitions_.push_back(at);
  }
  z.transition_types_.reserve(c.time);
  for (std::uint64_t i = 0; i < c.time; ++i) {
    const std::uint8_t type = b.u8();
    if (type >= c.type) return bad("bad TZif file: transition type index out of range");
    z.transition_types_.push_back(type);
  }
  struct RawType {
    std::int32_t offset;
    bool is_dst;
    std::uint8_t abbreviation;
  };
  std::vector<RawType> raw;
  for (std::uint64_t i = 0; i < c.type; ++i) {
    const auto offset = static_cast<std::int32_t>(static_cast<std::uint32_t>(b.be(4)));
    const std::uint8_t dst = b.u8();
    const std::uint8_t abbr = b.u8();
    // RFC 8536: -89999 to 93599 (the offsets of -24:59:59 to 25:59:59).
    if (offset < -89999 || offset > 93599) return bad("bad TZif file: UTC offset out of range");
    if (dst > 1) return bad("bad TZif file: DST indicator");
    if (abbr >= c.chars) return bad("bad TZif file: abbreviation index out of range");
    raw.push_back(RawType{offset, dst == 1, abbr});
  }
  const std::string_view chars = b.take(static_cast<std::size_t>(c.chars));
  for (const RawType& r : raw) {
    const auto end = chars.find('\0', r.abbreviation);
    if (end == std::string_view::npos) return bad("bad TZif file: unterminated abbreviation");
    z.types_.push_back(Type{std::chrono::seconds{r.offset}, r.is_dst,
                            std::string(chars.substr(r.abbreviation, end - r.abbreviation))});
  }
  b.skip(c.isstd + c.isut);  // only matter for POSIX-style rules built from the file

  // The footer: "\n<POSIX TZ string>\n". Empty: the last type stays in force.
  if (b.left() < 2 || b.u8() != '\n') return bad("bad TZif file: no footer");
  const std::string_view rest = b.take(b.left());
  const auto nl = rest.find('\n');
  if (nl == std::string_view::npos) return bad("bad TZif file: unterminated footer");
  const std::string_view tz = rest.substr(0, nl);
  if (!tz.empty()) {
    auto footer = PosixTimeZone::parse(tz);
    if (!footer) return bad("bad TZif footer: " + footer.error().message);
    z.footer_ = std::move(footer).value();
  }
  z.name_ = std::move(name);  // `bad` reads it until here
  z.compute_offset_range();
  return z;
}

}  // namespace kubefn::schedule
