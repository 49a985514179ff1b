#include "kubefn/telemetry/process_collector.hpp"

#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace kubefn::telemetry {
namespace {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<double> boot_time_seconds() {
  auto stat = read_file("/proc/stat");
  if (!stat) return std::nullopt;
  std::istringstream in(*stat);
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double v = 0;
      in >> v;
      return v;
    }
    in.ignore(1 << 20, '\n');
  }
  return std::nullopt;
}

prometheus::MetricFamily gauge(std::string name, std::string help, double value,
                               prometheus::MetricType type = prometheus::MetricType::Gauge) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
  return f;
}

// The fields of <proc_dir>/stat from field 3 (state) on; empty when it cannot be read.
std::vector<std::string> stat_fields(const std::string& proc_dir) {
  std::vector<std::string> f;
  auto stat = read_file(proc_dir + "/stat");
  if (!stat) return f;
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  std::size_t paren = stat->rfind(')');
  if (paren == std::string::npos || paren + 2 > stat->size()) return f;
  std::istringstream in(stat->substr(paren + 2));
  std::string tok;
  while (in >> tok)
    f.push_back(tok);
  return f;
}

}  // namespace

std::optional<ProcessUsage> read_process_usage(const std::string& proc_dir) {
  // Fields 14 utime, 15 stime, 24 rss.
  const std::vector<std::string> f = stat_fields(proc_dir);
  if (f.size() < 22) return std::nullopt;
  auto field = [&](int n) { return f[static_cast<std::size_t>(n - 3)]; };
  static const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  static const auto page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  ProcessUsage u;
  u.cpu_seconds = (std::stod(field(14)) + std::stod(field(15))) / ticks;
  u.resident_bytes = std::stoull(field(24)) * page;
  return u;
}

std::optional<ProcessSample> read_process_sample(const std::string& proc_dir) {
  // Field 3 (state) is the first one here; we need 14 utime, 15 stime, 20 num_threads,
  // 22 starttime, 23 vsize, 24 rss.
  const std::vector<std::string> f = stat_fields(proc_dir);
  if (f.size() < 22) return std::nullopt;
  auto field = [&](int n) { return f[static_cast<std::size_t>(n - 3)]; };
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const auto page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));

  ProcessSample s;
  s.cpu_seconds = (std::stod(field(14)) + std::stod(field(15))) / ticks;
  s.threads = std::stoull(field(20));
  s.virtual_bytes = std::stoull(field(23));
  s.resident_bytes = std::stoull(field(24)) * page;
  if (auto boot = boot_time_seconds()) s.start_time_seconds = *boot + std::stod(field(22)) / ticks;

  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(proc_dir + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++s.open_fds;
  }
  if (auto limits = read_file(proc_dir + "/limits")) {
    std::istringstream lin(*limits);
    std::string line;
    while (std::getline(lin, line)) {
      if (line.rfind("Max open files", 0) == 0) {
        std::istringstream l(line.substr(14));
        std::string soft;
        l >> soft;
        if (soft != "unlimited") s.max_fds = std::stoull(soft);
      }
    }
  }
  return s;
}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  auto s = read_process_sample();
  if (!s) return out;
  out.push_back(gauge("process_cpu_seconds_total",
                      "Total user and system CPU time spent in seconds.", s->cpu_seconds,
                      prometheus::MetricType::Counter));
  out.push_back(gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
                      static_cast<double>(s->resident_bytes)));
  out.push_back(gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                      static_cast<double>(s->virtual_bytes)));
  out.push_back(gauge("process_start_time_seconds",
                      "Start time of the process since unix epoch in seconds.",
                      s->start_time_seconds));
  out.push_back(gauge("process_open_fds", "Number of open file descriptors.",
                      static_cast<double>(s->open_fds)));
  if (s->max_fds) {
    out.push_back(gauge("process_max_fds", "Maximum number of open file descriptors.",
                        static_cast<double>(*s->max_fds)));
  }
  out.push_back(gauge("process_threads", "Number of OS threads in the process.",
                      static_cast<double>(s->threads)));
  return out;
}

std::string process_metrics_text() {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, ProcessCollector().Collect());
  return out.str();
}

}  // namespace kubefn::telemetry
