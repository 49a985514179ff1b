#include "stats_reporter.hpp"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cmath>

#include "kubefn/v1/stats.grpc.pb.h"

namespace kubefn::runtime {

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<kubefn::v1::ReplicaStats> StatsSampler::observe(std::int64_t unix_ms,
                                                              const StatsCounters& counters) {
  const std::int64_t second = unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000;
  std::optional<kubefn::v1::ReplicaStats> out;
  const bool restarted = started_ && (counters.requests < last_.requests ||
                                      counters.busy_seconds < last_.busy_seconds);
  last_ = counters;
  if (started_ && second > second_ && readings_ > 0 && !restarted) {
    kubefn::v1::ReplicaStats s;
    s.set_namespace_(id_.ns);
    s.set_function(id_.function);
    s.set_replica(id_.replica);
    s.set_second_start_unix_ms(second_ * 1000);
    s.set_requests(counters.requests - base_.requests);
    s.set_inflight_average(inflight_sum_ / readings_);
    s.set_inflight_peak(inflight_peak_);
    s.set_busy_seconds(std::max(0.0, counters.busy_seconds - base_.busy_seconds));
    out = std::move(s);
  }
  if (!started_ || second != second_ || restarted) {
    if (!started_ || second > second_ || restarted) {
      // The first second's baseline stays zero: the counters started with the process, and
      // calls served before the first reading belong to the first sample.
      if (started_) base_ = counters;
      started_ = true;
      second_ = second;
      inflight_sum_ = 0;
      inflight_peak_ = 0;
      readings_ = 0;
    } else {
      return out;  // the wall clock stepped back: ignore readings until it catches up
    }
  }
  inflight_sum_ += counters.inflight;
  inflight_peak_ = std::max(inflight_peak_, counters.inflight);
  ++readings_;
  return out;
}

StatsStream::StatsStream(StatsStreamOptions options)
    : options_(std::move(options)), thread_([this] { run(); }) {}

StatsStream::~StatsStream() {
  stop();
}

void StatsStream::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    if (active_ != nullptr) active_->TryCancel();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StatsStream::offer(kubefn::v1::StatsSample sample) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    while (pending_.size() >= std::max<std::size_t>(options_.max_pending, 1)) {
      pending_.pop_front();
      ++dropped_;
    }
    pending_.push_back(std::move(sample));
  }
  cv_.notify_all();
}

void StatsStream::run() {
  auto log = [&](const std::string& message) {
    if (options_.log) options_.log(message);
  };
  auto channel = grpc::CreateChannel(options_.address, grpc::InsecureChannelCredentials());
  auto stub = kubefn::v1::Stats::NewStub(channel);
  std::chrono::milliseconds backoff = options_.min_backoff;
  bool logged_down = false;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !pending_.empty(); });
      if (stop_) return;
    }
    grpc::ClientContext ctx;
    kubefn::v1::ReportSummary summary;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      active_ = &ctx;
    }
    auto writer = stub->Report(&ctx, &summary);
    bool stopping = false;
    bool wrote = false;
    for (;;) {
      kubefn::v1::StatsSample sample;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !pending_.empty(); });
        if (stop_) {
          stopping = true;
          break;
        }
        sample = std::move(pending_.front());
        pending_.pop_front();
      }
      if (!writer->Write(sample)) {
        std::lock_guard<std::mutex> lock(mu_);
        if (pending_.size() < std::max<std::size_t>(options_.max_pending, 1)) {
          pending_.push_front(std::move(sample));  // sent again on the next stream
        } else {
          ++dropped_;
        }
        break;
      }
      ++sent_;
      if (!wrote) {
        wrote = true;
        ++connects_;
        backoff = options_.min_backoff;
        log("stats stream to " + options_.address + " open");
        logged_down = false;
      }
    }
    if (stopping) {
      ctx.TryCancel();
    } else {
      writer->WritesDone();
    }
    const grpc::Status status = writer->Finish();
    {
      std::lock_guard<std::mutex> lock(mu_);
      active_ = nullptr;
      if (stop_) return;
    }
    ++failures_;
    if (!logged_down) {  // once per outage, not once per retry
      logged_down = true;
      log("stats stream to " + options_.address + " failed: " + status.error_message() +
          "; retrying in " + std::to_string(backoff.count()) + " ms");
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, backoff, [&] { return stop_; })) return;
    }
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

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
    const std::int64_t now = options_.unix_ms ? options_.unix_ms() : unix_ms_now();
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
    kubefn_stats_counters c{0, 0, 0};
    copy.read(copy.ctx, &c);
    return c;
  };
  return new StatsReporter(std::move(o));
}

extern "C" void kubefn_stats_stop(void* reporter) {
  delete static_cast<kubefn::runtime::StatsReporter*>(reporter);
}
