#include "kubefn/schedule/time_zone.hpp"

#include <algorithm>
#include <utility>

namespace kubefn::schedule {

using std::chrono::seconds;

TimeZone TimeZone::utc() {
  TimeZone z;
  z.name_ = "UTC";
  z.types_.push_back(Type{seconds{0}, false, "UTC"});
  return z;
}

Result<TimeZone> TimeZone::from_posix(std::string name, std::string_view tz) {
  auto rule = PosixTimeZone::parse(tz);
  if (!rule) return Error{"time zone \"" + name + "\": " + rule.error().message};
  TimeZone z;
  z.name_ = std::move(name);
  const ZoneInfo first = rule->info(kMinInstant);
  z.types_.push_back(Type{first.offset, first.is_dst, first.abbreviation});
  z.footer_ = std::move(rule).value();
  z.compute_offset_range();
  return z;
}

void TimeZone::compute_offset_range() {
  min_offset_ = max_offset_ = types_.front().offset;
  for (const Type& t : types_) {
    min_offset_ = std::min(min_offset_, t.offset);
    max_offset_ = std::max(max_offset_, t.offset);
  }
  if (footer_) {
    for (seconds o : {footer_->std_offset(), footer_->dst_offset()}) {
      min_offset_ = std::min(min_offset_, o);
      max_offset_ = std::max(max_offset_, o);
    }
  }
}

ZoneInfo TimeZone::type_info(std::size_t type, Instant begin, Instant end) const {
  const Type& t = types_[type];
  return ZoneInfo{begin, end, t.offset, t.is_dst, t.abbreviation};
}

ZoneInfo TimeZone::info(Instant t) const {
  if (transitions_.empty()) {
    return footer_ ? footer_->info(t) : type_info(0, kMinInstant, kMaxInstant);
  }
  const auto after = std::upper_bound(transitions_.begin(), transitions_.end(), t);
  if (after == transitions_.begin()) return type_info(0, kMinInstant, transitions_.front());
  const auto k = static_cast<std::size_t>(after - transitions_.begin()) - 1;
  if (after != transitions_.end()) {
    return type_info(transition_types_[k], transitions_[k], transitions_[k + 1]);
  }
  if (!footer_) return type_info(transition_types_[k], transitions_[k], kMaxInstant);
  ZoneInfo z = footer_->info(t);
  z.begin = std::max(z.begin, transitions_[k]);
  return z;
}

LocalInfo TimeZone::resolve(LocalTime t) const {
  // Only instants in [t - max offset, t - min offset] can show `t`: walk the intervals there.
  const Instant lo{t.time_since_epoch() - max_offset_};
  const Instant hi{t.time_since_epoch() - min_offset_};
  LocalInfo out;
  int hits = 0;
  bool gap = false;
  ZoneInfo prev;
  bool have_prev = false;
  for (ZoneInfo z = info(lo);; z = info(z.end)) {
    const Instant candidate{t.time_since_epoch() - z.offset};
    if (z.begin <= candidate && candidate < z.end) {
      if (hits == 0) {
        out.first = candidate;
        out.earlier = z;
      }
      out.second = candidate;
      out.later = z;
      ++hits;
    } else if (hits == 0 && have_prev && !gap &&
               prev.end + prev.offset <= Instant{t.time_since_epoch()} &&
               Instant{t.time_since_epoch()} < z.begin + z.offset) {
      gap = true;
      out.first = out.second = z.begin;
      out.earlier = prev;
      out.later = z;
    }
    if (z.end > hi || z.end >= kMaxInstant) break;
    prev = z;
    have_prev = true;
  }
  if (hits >= 2) {
    out.kind = LocalInfo::Kind::kOverlap;
  } else if (hits == 1) {
    out.kind = LocalInfo::Kind::kUnique;
  } else if (gap) {
    out.kind = LocalInfo::Kind::kGap;
  } else {
    // Unreachable for a zone whose offsets are within [min, max]; read `t` at the offset of
    // the interval it would fall in as UTC rather than fail.
    const ZoneInfo z = info(Instant{t.time_since_epoch()});
    out.kind = LocalInfo::Kind::kUnique;
    out.first = out.second = Instant{t.time_since_epoch() - z.offset};
    out.earlier = out.later = z;
  }
  return out;
}

}  // namespace kubefn::schedule
