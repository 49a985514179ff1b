#include "stats_reporter.hpp"

#include "stats_plugin_abi.h"

namespace kubefn::runtime {

StatsReporter::StatsReporter(StatsReporterOptions options)
    : options_(std::move(options)),
      sampler_(options_.id),
      stream_(options_.stream),
      thread_([this] { run(); }) {}

StatsReporter::~StatsReporter() {
  stop();
}

void StatsReporter::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  stream_.stop();
}

void StatsReporter::run() {
  for (;;) {
    const std::int64_t now = options_.unix_ms ? options_.unix_ms() : stats::unix_ms_now();
    if (options_.read) {
      if (auto sample = sampler_.observe(now, options_.read())) {
        kubefn::v1::StatsSample out;
        *out.mutable_replica() = std::move(*sample);
        stream_.offer(std::move(out));
      }
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, options_.poll, [&] { return stop_; })) return;
  }
}

}  // namespace kubefn::runtime

extern "C" void* kubefn_stats_start(const kubefn_stats_start_args* args) {
  using namespace kubefn::runtime;
  if (args == nullptr || args->address == nullptr || args->read == nullptr) return nullptr;
  StatsReporterOptions o;
  o.id = {args->ns ? args->ns : "", args->function ? args->function : "",
          args->replica ? args->replica : ""};
  o.stream.address = args->address;
  const kubefn_stats_start_args copy = *args;
  if (copy.log != nullptr) {
    o.stream.log = [copy](const std::string& message) { copy.log(copy.ctx, message.c_str()); };
  }
  o.read = [copy] {
    kubefn_stats_counters c{0, 0, 0, 0, 0, 0};
    copy.read(copy.ctx, &c);
    kubefn::stats::StatsCounters out;
    out.requests = c.requests;
    out.inflight = c.inflight;
    out.busy_seconds = c.busy_seconds;
    out.busy_union_seconds = c.busy_union_seconds;
    out.cpu_seconds = c.cpu_seconds;
    out.rss_bytes = c.rss_bytes;
    return out;
  };
  return new StatsReporter(std::move(o));
}

extern "C" void kubefn_stats_stop(void* reporter) {
  delete static_cast<kubefn::runtime::StatsReporter*>(reporter);
}
