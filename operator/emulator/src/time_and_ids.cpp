#include "time_and_ids.hpp"

#include <cstdio>
#include <ctime>

namespace kubefn::emulator {

std::string rfc3339(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::chrono::system_clock::time_point parse_rfc3339(const std::string& text) {
  std::tm tm{};
  if (strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string rfc3339_micro(std::chrono::system_clock::time_point t) {
  const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t - secs).count();
  std::string s = rfc3339(secs);
  char frac[16];
  std::snprintf(frac, sizeof(frac), ".%06lldZ", static_cast<long long>(micros));
  s.pop_back();
  return s + frac;
}

std::string new_uid(std::mt19937_64& rng) {
  const uint64_t a = rng();
  const uint64_t b = rng();
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>(((b >> 48) & 0x3fff) | 0x8000),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

std::string random_suffix(std::mt19937_64& rng, std::size_t n) {
  static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string s;
  for (std::size_t i = 0; i < n; ++i)
    s += kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
  return s;
}

std::string human_duration(std::chrono::seconds d) {
  const long long s = std::max<long long>(0, d.count());
  const auto str = [](long long v) { return std::to_string(v); };
  if (s < 120) return str(s) + "s";
  const long long m = s / 60;
  if (m < 10) return str(m) + "m" + (s % 60 ? str(s % 60) + "s" : "");
  if (m < 180) return str(m) + "m";
  const long long h = m / 60;
  if (h < 8) return str(h) + "h" + (m % 60 ? str(m % 60) + "m" : "");
  if (h < 48) return str(h) + "h";
  const long long days = h / 24;
  if (days < 8) return str(days) + "d" + (h % 24 ? str(h % 24) + "h" : "");
  return str(days) + "d";
}

}  // namespace kubefn::emulator
