#include "kubefn/metering/history.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>

namespace kubefn::metering {
namespace {

namespace fs = std::filesystem;

bool earlier(const Sample& a, const Sample& b) {
  return a.unix_seconds < b.unix_seconds;
}

std::string line_of(const Sample& s) {
  return to_json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::optional<Sample> parse_line(std::string_view line) {
  auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  try {
    return sample_from_json(j);
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

bool blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

[[noreturn]] void fail(const fs::path& path, const std::string& what, int error) {
  throw std::runtime_error("metering history " + path.string() + ": " + what +
                           (error != 0 ? std::string(": ") + std::strerror(error) : ""));
}

}  // namespace

nlohmann::json to_json(const Sample& s) {
  nlohmann::json functions = nlohmann::json::array();
  for (const auto& t : s.functions)
    functions.push_back(to_json(t));
  return {{"t", s.unix_seconds}, {"functions", functions}};
}

Sample sample_from_json(const nlohmann::json& j) {
  Sample s;
  s.unix_seconds = j.at("t").get<std::int64_t>();
  const auto& functions = j.at("functions");
  if (!functions.is_array())
    throw nlohmann::json::type_error::create(302, "functions: expected an array", &functions);
  for (const auto& f : functions)
    s.functions.push_back(totals_from_json(f));
  return s;
}

History::History(std::filesystem::path path, std::int64_t keep_seconds)
    : path_(std::move(path)), keep_seconds_(keep_seconds) {
  std::error_code ec;
  if (path_.has_parent_path()) fs::create_directories(path_.parent_path(), ec);
  if (!fs::exists(path_, ec)) {
    std::ofstream create(path_, std::ios::app | std::ios::binary);  // best effort; append() reports
    return;
  }
  std::string content;
  try {
    std::ifstream in(path_, std::ios::binary);
    if (!in || !fs::is_regular_file(path_, ec)) return;
    content.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::exception&) {
    return;  // unreadable: no samples
  }
  std::size_t pos = 0;
  while (pos < content.size()) {
    const std::size_t newline = content.find('\n', pos);
    const bool complete = newline != std::string::npos;
    const std::string_view line =
        std::string_view(content).substr(pos, complete ? newline - pos : std::string::npos);
    if (!blank(line)) {
      if (auto sample = parse_line(line)) {
        samples_.push_back(std::move(*sample));
        if (!complete) needs_newline_ = true;
      } else if (!complete) {
        // A torn last line (a crash in the middle of a write): dropped before the next append.
        torn_tail_ = true;
        good_size_ = pos;
      } else {
        ++skipped_lines_;
      }
    }
    pos = complete ? newline + 1 : content.size();
  }
  std::stable_sort(samples_.begin(), samples_.end(), earlier);
}

std::size_t History::skipped_lines() const {
  std::lock_guard lock(mu_);
  return skipped_lines_;
}

std::optional<Sample> History::last() const {
  std::lock_guard lock(mu_);
  if (samples_.empty()) return std::nullopt;
  return samples_.back();
}

void History::append(Sample sample) {
  std::lock_guard lock(mu_);
  const std::string line = line_of(sample);
  if (torn_tail_) {
    std::error_code ec;
    fs::resize_file(path_, good_size_, ec);
    if (ec) fail(path_, "cannot drop the torn last line", ec.value());
    torn_tail_ = false;
  }
  {
    std::ofstream out(path_, std::ios::app | std::ios::binary);
    if (!out) fail(path_, "cannot open for appending", errno);
    if (needs_newline_) out << '\n';
    out << line;
    out.flush();
    if (!out) fail(path_, "cannot write", errno);
    needs_newline_ = false;
  }
  samples_.insert(std::upper_bound(samples_.begin(), samples_.end(), sample, earlier),
                  std::move(sample));

  // Compaction: drop the samples older than kept, but the newest of them, which stays as the
  // start of a window as long as the one kept; thin those older than kFineSeconds to one per
  // kCoarseStep (a window that old starts at most that much earlier); only once that would
  // leave less than half the file.
  const std::int64_t newest = samples_.back().unix_seconds;
  const std::int64_t cutoff = newest - keep_seconds_;
  std::vector<std::size_t> kept;
  for (std::size_t i = 0; i < samples_.size(); ++i) {
    const std::int64_t t = samples_[i].unix_seconds;
    if (t < cutoff) {
      if (i + 1 < samples_.size() && samples_[i + 1].unix_seconds < cutoff) continue;
    } else if (t < newest - kFineSeconds && !kept.empty() &&
               samples_[kept.back()].unix_seconds >= cutoff &&
               t - samples_[kept.back()].unix_seconds < kCoarseStep) {
      continue;  // within a coarse step of the one kept before it
    }
    kept.push_back(i);
  }
  if (kept.size() * 2 > samples_.size()) return;

  fs::path temp = path_;
  temp += ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc | std::ios::binary);
    if (!out) fail(temp, "cannot create", errno);
    for (std::size_t i : kept)
      out << line_of(samples_[i]);
    out.flush();
    if (!out) {
      const int error = errno;
      std::error_code ignored;
      fs::remove(temp, ignored);
      fail(temp, "cannot write", error);
    }
  }
  std::error_code ec;
  fs::rename(temp, path_, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    fail(path_, "cannot replace with the compacted file", ec.value());
  }
  std::vector<Sample> rest;
  rest.reserve(kept.size());
  for (std::size_t i : kept)
    rest.push_back(std::move(samples_[i]));
  samples_ = std::move(rest);
}

std::vector<Sample> History::since(std::int64_t since_unix) const {
  std::lock_guard lock(mu_);
  auto it = std::lower_bound(samples_.begin(), samples_.end(), since_unix,
                             [](const Sample& s, std::int64_t t) { return s.unix_seconds < t; });
  if (it != samples_.begin()) --it;  // the one just before, so that the window has a start
  return std::vector<Sample>(it, samples_.end());
}

CostReport History::report(const Sample& now, std::int64_t window_seconds,
                           const PriceSheet& prices) const {
  std::lock_guard lock(mu_);
  const std::int64_t start = now.unix_seconds - std::max<std::int64_t>(window_seconds, 0);
  // The last sample at or before the start.
  auto after = std::upper_bound(samples_.begin(), samples_.end(), start,
                                [](std::int64_t t, const Sample& s) { return t < s.unix_seconds; });
  const Sample* anchor = after == samples_.begin() ? nullptr : &*std::prev(after);

  std::int64_t since = start;
  if (anchor != nullptr) {
    since = anchor->unix_seconds;
  } else if (!samples_.empty()) {
    since = std::min(samples_.front().unix_seconds, now.unix_seconds);
  }

  std::map<std::pair<std::string, std::string>, const Totals*> at_start;
  if (anchor != nullptr)
    for (const auto& t : anchor->functions)
      at_start[{t.ns, t.name}] = &t;

  CostReport r;
  r.currency = prices.currency;
  r.prices = prices;
  r.since_unix = since;
  r.until_unix = now.unix_seconds;
  r.window_seconds = static_cast<double>(now.unix_seconds - since);
  for (const auto& t : now.functions) {
    auto it = at_start.find({t.ns, t.name});
    const Totals* from = it == at_start.end() ? nullptr : it->second;
    r.functions.push_back(price(delta(t, from), r.window_seconds, prices));
  }
  std::sort(r.functions.begin(), r.functions.end(), [](const auto& a, const auto& b) {
    return std::tie(a.ns, a.name) < std::tie(b.ns, b.name);
  });
  return r;
}

}  // namespace kubefn::metering
