#include "kubefn/metering/price_sheet.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "kubefn/metering/sizing.hpp"

namespace kubefn::metering {
namespace {

constexpr double kMaxGranularitySeconds = 3600;

// A number in plain decimal or exponent notation, finite, the whole text ("+1.5" included).
std::optional<double> parse_number(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// The longest prefix of `s` that looks like a signed decimal number (no exponent).
std::size_t decimal_prefix(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  bool digits = false;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9')
    ++i, digits = true;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9')
      ++i, digits = true;
  }
  return digits ? i : 0;
}

// "1ms", "100ms", "1.5s", "2m", "1h": a number and one unit of ns, us (or µs), ms, s, m, h.
std::optional<double> parse_duration(std::string_view s) {
  std::size_t n = decimal_prefix(s);
  if (n == 0) return std::nullopt;
  auto number = parse_number(s.substr(0, n));
  if (!number) return std::nullopt;
  std::string_view unit = s.substr(n);
  double v = *number;
  // Sub-second units divide (so that "1ms" is exactly the double nearest 0.001).
  if (unit == "ns") return v / 1e9;
  if (unit == "us" || unit == "\xC2\xB5s") return v / 1e6;
  if (unit == "ms") return v / 1e3;
  if (unit == "s") return v;
  if (unit == "m") return v * 60;
  if (unit == "h") return v * 3600;
  return std::nullopt;
}

std::string format_number(double v) {
  std::array<char, 64> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  return ec == std::errc() ? std::string(buf.data(), end) : std::to_string(v);
}

// The shortest "<integer><unit>" that parses back to exactly `seconds`, else shortest seconds.
std::string format_duration(double seconds) {
  struct Unit {
    const char* name;
    double per_second;
  };
  static constexpr std::array<Unit, 6> kUnits = {
      {{"h", 1.0 / 3600}, {"m", 1.0 / 60}, {"s", 1}, {"ms", 1e3}, {"us", 1e6}, {"ns", 1e9}}};
  if (seconds > 0) {
    for (const auto& u : kUnits) {
      double n = std::round(seconds * u.per_second);
      if (n < 1 || n > 1e15) continue;
      std::string text = format_number(n) + u.name;
      auto back = parse_duration(text);
      if (back && *back == seconds) return text;
    }
  }
  return format_number(seconds) + "s";
}

// A Kubernetes quantity of bytes: "128Mi", "1Gi", "512M", "1e9", "1048576" (fractions of a byte
// are rounded up). Suffixes Ki Mi Gi Ti Pi Ei, k M G T P E, or a decimal exponent.
std::optional<double> byte_quantity(std::string_view s) {
  std::size_t n = decimal_prefix(s);
  if (n == 0) return std::nullopt;
  auto number = parse_number(s.substr(0, n));
  if (!number) return std::nullopt;
  std::string_view suffix = s.substr(n);
  double multiplier = 1;
  static constexpr std::array<std::pair<std::string_view, double>, 12> kSuffixes = {{
      {"Ki", 0x1p10},
      {"Mi", 0x1p20},
      {"Gi", 0x1p30},
      {"Ti", 0x1p40},
      {"Pi", 0x1p50},
      {"Ei", 0x1p60},
      {"k", 1e3},
      {"M", 1e6},
      {"G", 1e9},
      {"T", 1e12},
      {"P", 1e15},
      {"E", 1e18},
  }};
  const auto named = std::find_if(kSuffixes.begin(), kSuffixes.end(),
                                  [&](const auto& entry) { return entry.first == suffix; });
  if (suffix.empty()) {
    multiplier = 1;
  } else if (named != kSuffixes.end()) {
    multiplier = named->second;
  } else if (suffix.front() == 'e' || suffix.front() == 'E') {
    std::string_view exp = suffix.substr(1);
    if (!exp.empty() && exp.front() == '+') exp.remove_prefix(1);
    int e = 0;
    auto [end, ec] = std::from_chars(exp.data(), exp.data() + exp.size(), e);
    if (exp.empty() || ec != std::errc() || end != exp.data() + exp.size() || e > 30 || e < -30)
      return std::nullopt;
    multiplier = std::pow(10.0, e);
  } else {
    return std::nullopt;
  }
  return *number * multiplier;
}

std::string format_quantity(std::int64_t bytes) {
  static constexpr std::array<std::pair<const char*, std::int64_t>, 12> kSuffixes = {{
      {"Ei", 1LL << 60},
      {"Pi", 1LL << 50},
      {"Ti", 1LL << 40},
      {"Gi", 1LL << 30},
      {"Mi", 1LL << 20},
      {"Ki", 1LL << 10},
      {"E", 1000000000000000000LL},
      {"P", 1000000000000000LL},
      {"T", 1000000000000LL},
      {"G", 1000000000LL},
      {"M", 1000000LL},
      {"k", 1000LL},
  }};
  // The shortest exact form (binary suffixes first on a tie): 128Mi, 512M, 1G, 1000.
  std::string best = std::to_string(bytes);
  if (bytes > 0) {
    for (const auto& [name, m] : kSuffixes) {
      if (bytes % m != 0) continue;
      std::string text = std::to_string(bytes / m) + name;
      if (text.size() < best.size()) best = std::move(text);
    }
  }
  return best;
}

const char* kind(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    default:
      return "nothing";
  }
}

std::string quoted(const std::string& s) {
  return "\"" + s + "\"";
}

constexpr const char* kTopFields =
    "currency, granularity, cpuCoreHour, memoryGBHour, requestsPerMillion, lambda, defaultMemory";
constexpr const char* kLambdaFields = "requestsPerMillion, gbSecond";

struct Reader {
  std::string error;

  bool scalar(const YAML::Node& n, const std::string& field, const char* accepts) {
    if (n.IsScalar()) return true;
    error = field + ": expected " + accepts + ", got " + kind(n);
    return false;
  }

  bool price(const YAML::Node& n, const std::string& field, double& out) {
    constexpr const char* kAccepts = "a number >= 0";
    if (!scalar(n, field, kAccepts)) return false;
    auto v = parse_number(n.Scalar());
    if (!v) {
      error = field + ": " + quoted(n.Scalar()) + " is not a number (" + kAccepts + ")";
      return false;
    }
    if (*v < 0) {
      error = field + ": " + n.Scalar() + " is out of range (" + kAccepts + ")";
      return false;
    }
    out = *v;
    return true;
  }

  bool currency(const YAML::Node& n, const std::string& field, std::string& out) {
    constexpr const char* kAccepts = "a 3-letter currency code, e.g. USD, EUR";
    if (!scalar(n, field, kAccepts)) return false;
    std::string s = n.Scalar();
    bool ok = s.size() == 3;
    for (char& c : s) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      if (c < 'A' || c > 'Z') ok = false;
    }
    if (!ok) {
      error = field + ": " + quoted(n.Scalar()) + " is not a currency code (" + kAccepts + ")";
      return false;
    }
    out = s;
    return true;
  }

  bool granularity(const YAML::Node& n, const std::string& field, double& out) {
    constexpr const char* kAccepts = "use 1ms, 100ms, 1s";
    if (!scalar(n, field, "a duration (1ms, 100ms, 1s)")) return false;
    auto v = parse_duration(n.Scalar());
    if (!v) {
      error = field + ": " + quoted(n.Scalar()) + " is not a duration (" + kAccepts + ")";
      return false;
    }
    if (!(*v > 0) || *v > kMaxGranularitySeconds) {
      error = field + ": " + quoted(n.Scalar()) + " is out of range (> 0 and <= 1h)";
      return false;
    }
    out = *v;
    return true;
  }

  bool memory(const YAML::Node& n, const std::string& field, std::int64_t& out) {
    constexpr const char* kAccepts = "use 128Mi, 1Gi, 512M";
    if (!scalar(n, field, "a quantity of bytes (128Mi, 1Gi, 512M)")) return false;
    auto v = byte_quantity(n.Scalar());
    if (!v) {
      error = field + ": " + quoted(n.Scalar()) + " is not a quantity of bytes (" + kAccepts + ")";
      return false;
    }
    double bytes = std::ceil(*v);
    if (!(bytes > 0) || bytes > 0x1p62) {
      error = field + ": " + quoted(n.Scalar()) + " is out of range (> 0 and <= 4Ei)";
      return false;
    }
    out = static_cast<std::int64_t>(bytes);
    return true;
  }

  // Calls `field(key, value)` for each entry of the map `n`; false on the first error.
  template <typename F>
  bool fields(const YAML::Node& n, const std::string& prefix, const char* names, F&& field) {
    if (!n.IsMap()) {
      error = (prefix.empty() ? std::string("price sheet") : prefix) +
              ": expected a map of fields (" + names + "), got " + kind(n);
      return false;
    }
    std::set<std::string> seen;
    for (const auto& kv : n) {
      if (!kv.first.IsScalar()) {
        error = (prefix.empty() ? std::string("price sheet") : prefix) +
                ": a field name must be a string, got " + kind(kv.first);
        return false;
      }
      const std::string key = kv.first.Scalar();
      const std::string path = prefix.empty() ? key : prefix + "." + key;
      if (!seen.insert(key).second) {
        error = "duplicate field " + quoted(path);
        return false;
      }
      auto known = field(key, path, kv.second);
      if (!known.has_value()) {
        error = "unknown field " + quoted(path) + " (fields: " + names + ")";
        return false;
      }
      if (!*known) return false;
    }
    return true;
  }
};

}  // namespace

std::optional<double> parse_quantity(std::string_view text) {
  // The fractional suffixes of CPU quantities ("500m"); the rest is the byte grammar above.
  double scale = 1;
  if (!text.empty() && (text.back() == 'm' || text.back() == 'u' || text.back() == 'n')) {
    scale = text.back() == 'm' ? 1e-3 : text.back() == 'u' ? 1e-6 : 1e-9;
    text.remove_suffix(1);
  }
  const auto v = byte_quantity(text);
  if (!v || *v < 0) return std::nullopt;
  return *v * scale;
}

double PriceSheet::billed(double seconds) const {
  if (!(seconds > 0)) return 0;
  const double g = granularity_seconds;
  if (!(g > 0)) return seconds;
  // The 1e-9 keeps an exact multiple (0.001 at 1 ms) from rounding up a whole step.
  return std::ceil(seconds / g - 1e-9) * g;
}

nlohmann::json to_json(const PriceSheet& p) {
  return {
      {"currency", p.currency},
      {"granularity", format_duration(p.granularity_seconds)},
      {"cpuCoreHour", p.cpu_core_hour},
      {"memoryGBHour", p.memory_gb_hour},
      {"requestsPerMillion", p.requests_per_million},
      {"lambda",
       {{"requestsPerMillion", p.lambda_requests_per_million}, {"gbSecond", p.lambda_gb_second}}},
      {"defaultMemory", format_quantity(p.default_memory_bytes)},
  };
}

std::variant<PriceSheet, std::string> parse_price_sheet(std::string_view text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return "price sheet: line " + std::to_string(e.mark.line + 1) + ", column " +
           std::to_string(e.mark.column + 1) + ": " + e.msg;
  }
  PriceSheet p;
  // An empty document (or a bare null) is the defaults.
  if (!root.IsDefined() || root.IsNull()) return p;
  Reader r;
  try {
    bool ok =
        r.fields(root, "", kTopFields,
                 [&](const std::string& key, const std::string& path,
                     const YAML::Node& v) -> std::optional<bool> {
                   if (key == "currency") return r.currency(v, path, p.currency);
                   if (key == "granularity") return r.granularity(v, path, p.granularity_seconds);
                   if (key == "cpuCoreHour") return r.price(v, path, p.cpu_core_hour);
                   if (key == "memoryGBHour") return r.price(v, path, p.memory_gb_hour);
                   if (key == "requestsPerMillion") return r.price(v, path, p.requests_per_million);
                   if (key == "defaultMemory") return r.memory(v, path, p.default_memory_bytes);
                   if (key == "lambda") {
                     return r.fields(v, path, kLambdaFields,
                                     [&](const std::string& k, const std::string& lpath,
                                         const YAML::Node& lv) -> std::optional<bool> {
                                       if (k == "requestsPerMillion")
                                         return r.price(lv, lpath, p.lambda_requests_per_million);
                                       if (k == "gbSecond")
                                         return r.price(lv, lpath, p.lambda_gb_second);
                                       return std::nullopt;
                                     });
                   }
                   return std::nullopt;
                 });
    if (!ok) return r.error;
  } catch (const YAML::Exception& e) {
    return std::string("price sheet: ") + e.msg;
  }
  return p;
}

}  // namespace kubefn::metering
