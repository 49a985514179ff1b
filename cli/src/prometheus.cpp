#include "kubefn/cli/prometheus.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace kubefn::cli {
namespace {

bool name_char(char c, bool first) {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
  return first ? alpha : alpha || (c >= '0' && c <= '9');
}

// Parses `{a="x",b="y"}` starting at text[pos] == '{'; pos ends after '}'.
bool parse_labels(std::string_view text, size_t& pos, std::map<std::string, std::string>& out) {
  ++pos;  // '{'
  for (;;) {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == ','))
      ++pos;
    if (pos >= text.size()) return false;
    if (text[pos] == '}') {
      ++pos;
      return true;
    }
    size_t start = pos;
    while (pos < text.size() && name_char(text[pos], pos == start))
      ++pos;
    std::string name(text.substr(start, pos - start));
    while (pos < text.size() && text[pos] == ' ')
      ++pos;
    if (name.empty() || pos >= text.size() || text[pos] != '=') return false;
    ++pos;
    while (pos < text.size() && text[pos] == ' ')
      ++pos;
    if (pos >= text.size() || text[pos] != '"') return false;
    ++pos;
    std::string value;
    for (;;) {
      if (pos >= text.size()) return false;
      char c = text[pos++];
      if (c == '"') break;
      if (c == '\\' && pos < text.size()) {
        char e = text[pos++];
        value += e == 'n' ? '\n' : e;
      } else {
        value += c;
      }
    }
    out[name] = value;
  }
}

}  // namespace

std::optional<double> parse_prometheus_value(std::string_view text) {
  if (text == "+Inf" || text == "Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::vector<Sample> parse_prometheus(std::string_view text) {
  std::vector<Sample> out;
  size_t line_start = 0;
  while (line_start < text.size()) {
    size_t line_end = text.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = text.size();
    std::string_view line = text.substr(line_start, line_end - line_start);
    line_start = line_end + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
      line.remove_suffix(1);
    size_t pos = 0;
    while (pos < line.size() && line[pos] == ' ')
      ++pos;
    if (pos >= line.size() || line[pos] == '#') continue;
    Sample sample;
    size_t start = pos;
    while (pos < line.size() && name_char(line[pos], pos == start))
      ++pos;
    if (pos == start) continue;
    sample.name = std::string(line.substr(start, pos - start));
    if (pos < line.size() && line[pos] == '{' && !parse_labels(line, pos, sample.labels)) continue;
    while (pos < line.size() && line[pos] == ' ')
      ++pos;
    size_t value_end = line.find(' ', pos);
    auto value = parse_prometheus_value(line.substr(
        pos, value_end == std::string_view::npos ? std::string_view::npos : value_end - pos));
    if (!value) continue;
    sample.value = *value;
    out.push_back(std::move(sample));
  }
  return out;
}

std::optional<double> histogram_quantile(double q, std::vector<Bucket> buckets) {
  if (buckets.empty() || std::isnan(q)) return std::nullopt;
  std::sort(buckets.begin(), buckets.end(),
            [](const Bucket& a, const Bucket& b) { return a.le < b.le; });
  // Counts are cumulative; repair small non-monotonicity from scrapes racing increments.
  for (size_t i = 1; i < buckets.size(); ++i) {
    buckets[i].count = std::max(buckets[i].count, buckets[i - 1].count);
  }
  const double total = buckets.back().count;
  if (total <= 0) return std::nullopt;
  q = std::clamp(q, 0.0, 1.0);
  const double rank = q * total;
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (buckets[i].count < rank) continue;
    const double upper = buckets[i].le;
    const double lower = i == 0 ? 0.0 : buckets[i - 1].le;
    const double below = i == 0 ? 0.0 : buckets[i - 1].count;
    if (std::isinf(upper)) return lower;  // the highest finite bound is all we know
    if (i == 0 && upper <= 0) return upper;
    const double in_bucket = buckets[i].count - below;
    if (in_bucket <= 0) return upper;
    return lower + (upper - lower) * ((rank - below) / in_bucket);
  }
  return buckets.back().le;
}

}  // namespace kubefn::cli
