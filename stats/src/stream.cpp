#include "kubefn/stats/stream.hpp"

#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "kubefn/v1/stats.grpc.pb.h"

namespace kubefn::stats {

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

}  // namespace kubefn::stats
