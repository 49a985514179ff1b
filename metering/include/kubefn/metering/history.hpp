// `kubefn up`'s metering history: the Meter's totals, sampled every step and appended to a file
// (one JSON line per sample), read back at start so that totals and windows survive a restart.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "kubefn/metering/meter.hpp"
#include "kubefn/metering/report.hpp"

namespace kubefn::metering {

struct Sample {
  std::int64_t unix_seconds = 0;
  std::vector<Totals> functions;
};

// One line of the file: {"t":unix_seconds,"functions":[to_json(Totals)...]}.
nlohmann::json to_json(const Sample& s);
Sample sample_from_json(const nlohmann::json& j);  // throws nlohmann::json::exception

class History {
 public:
  // Opens (or creates) `path`; reads every sample kept (a torn last line, from a crash, is
  // ignored). `keep_seconds`: samples older than that are dropped when the file is compacted.
  // An invalid line elsewhere is skipped (and counted); a file that cannot be read reads as no
  // samples, and a file that cannot be written is reported by append().
  explicit History(std::filesystem::path path, std::int64_t keep_seconds = 7 * 24 * 3600);

  // The last sample read or appended (what Meter::restore takes at start).
  std::optional<Sample> last() const;

  // Appends a sample (and compacts the file when more than half of it is older than kept).
  // Throws std::runtime_error when the file cannot be written.
  // Compaction rewrites the file (a temporary file renamed over it) without the samples older
  // than keep_seconds before the newest sample, except the newest of those, which stays as the
  // start of a window as long as the one kept, and with those older than kFineSeconds thinned
  // to one per kCoarseStep (so a week of 10 s samples is about 4,000 lines, not 60,000).
  void append(Sample sample);
  static constexpr std::int64_t kFineSeconds = 6 * 3600;
  static constexpr std::int64_t kCoarseStep = 300;

  // Samples with unix_seconds >= since, oldest first (the one just before `since` too, so a
  // window has a start).
  std::vector<Sample> since(std::int64_t since_unix) const;

  // The report for [now - window, now] where `now` is the current totals: each function's
  // current totals minus its totals in the last sample at or before the window's start.
  // The window the report covers (its since_unix and window_seconds) is where that start is:
  // - a sample at or before now - window: from that sample's time (so up to one step longer
  //   than asked); a function the sample does not have counts from zero;
  // - none, but later samples (the history is younger than the window): every function counts
  //   from zero, from the first sample's time (usage before the first sample, at most one
  //   step of it, is counted in a window that starts at the first sample);
  // - no samples at all: every function counts from zero over the window asked.
  // Functions are priced with price(delta(...), window_seconds, prices).
  CostReport report(const Sample& now, std::int64_t window_seconds, const PriceSheet& prices) const;

  // Lines skipped when the file was read (invalid ones other than a torn last line).
  std::size_t skipped_lines() const;

 private:
  mutable std::mutex mu_;
  std::filesystem::path path_;
  std::int64_t keep_seconds_;
  std::vector<Sample> samples_;
  std::size_t skipped_lines_ = 0;
  bool torn_tail_ = false;  // the file ends in a torn line, cut at good_size_ before writing
  std::uintmax_t good_size_ = 0;
  bool needs_newline_ = false;  // the file's last (valid) line has no newline yet
};

}  // namespace kubefn::metering
