#include "kubefn/autoscaler/stats_server.hpp"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <mutex>

#include "kubefn/v1/stats.grpc.pb.h"

namespace kubefn::autoscaler {

namespace {

void deliver(StatsSink& sink, const kubefn::v1::StatsSample& sample) {
  if (sample.has_replica()) {
    const auto& r = sample.replica();
    ReplicaReport out;
    out.ns = r.namespace_();
    out.function = r.function();
    out.replica = r.replica();
    out.second_start_unix_ms = r.second_start_unix_ms();
    out.requests = static_cast<double>(r.requests());
    out.inflight_average = r.inflight_average();
    out.inflight_peak = r.inflight_peak();
    out.busy_seconds = r.busy_seconds();
    out.busy_union_seconds = r.busy_union_seconds();
    out.cpu_seconds = r.cpu_seconds();
    out.rss_bytes = r.rss_bytes();
    if (!out.ns.empty() && !out.function.empty() && !out.replica.empty()) sink.on_replica(out);
  } else if (sample.has_gateway()) {
    const auto& g = sample.gateway();
    for (const auto& f : g.functions()) {
      GatewayReport out;
      out.gateway = g.gateway();
      out.ns = f.namespace_();
      out.function = f.function();
      out.second_start_unix_ms = g.second_start_unix_ms();
      out.requests = static_cast<double>(f.requests());
      out.inflight = f.inflight();
      out.peak_inflight = f.peak_inflight();
      out.queued = f.queued();
      out.ready_endpoints = f.ready_endpoints();
      if (!out.ns.empty() && !out.function.empty()) sink.on_gateway(out);
    }
  } else if (sample.has_dispatcher()) {
    const auto& d = sample.dispatcher();
    DispatcherReport out;
    out.dispatcher = d.dispatcher();
    out.second_start_unix_ms = d.second_start_unix_ms();
    for (const auto& t : d.triggers()) {
      if (t.namespace_().empty() || t.function().empty() || t.trigger().empty()) continue;
      out.triggers.push_back({t.namespace_(), t.function(), t.trigger(), t.pending()});
    }
    sink.on_dispatcher(out);
  }
}

}  // namespace

struct StatsServer::Impl final : kubefn::v1::Stats::CallbackService {
  StatsSink& sink;
  std::string bind;
  std::uint16_t requested_port;
  int port = 0;
  std::unique_ptr<grpc::Server> server;
  std::mutex mu;
  std::atomic<std::uint64_t> samples{0};
  std::atomic<std::uint64_t> streams{0};

  Impl(StatsSink& s, std::string b, std::uint16_t p)
      : sink(s), bind(std::move(b)), requested_port(p) {}

  // One reporter's stream: every sample read goes to the sink; the summary is sent when the
  // reporter closes its side.
  class Reader final : public grpc::ServerReadReactor<kubefn::v1::StatsSample> {
   public:
    Reader(Impl& impl, kubefn::v1::ReportSummary* summary) : impl_(impl), summary_(summary) {
      StartRead(&sample_);
    }
    void OnReadDone(bool ok) override {
      if (!ok) {
        summary_->set_accepted(accepted_);
        Finish(grpc::Status::OK);
        return;
      }
      deliver(impl_.sink, sample_);
      ++accepted_;
      ++impl_.samples;
      sample_.Clear();
      StartRead(&sample_);
    }
    void OnDone() override { delete this; }

   private:
    Impl& impl_;
    kubefn::v1::ReportSummary* summary_;
    kubefn::v1::StatsSample sample_;
    std::uint64_t accepted_ = 0;
  };

  grpc::ServerReadReactor<kubefn::v1::StatsSample>* Report(
      grpc::CallbackServerContext*, kubefn::v1::ReportSummary* summary) override {
    ++streams;
    return new Reader(*this, summary);
  }
};

StatsServer::StatsServer(StatsSink& sink, std::string bind_address, std::uint16_t port)
    : impl_(std::make_unique<Impl>(sink, std::move(bind_address), port)) {}

StatsServer::~StatsServer() {
  stop();
}

kube::Status StatsServer::start() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->server) return kube::Status();
  grpc::ServerBuilder builder;
  const std::string host =
      impl_->bind.find(':') != std::string::npos ? "[" + impl_->bind + "]" : impl_->bind;
  builder.AddListeningPort(host + ":" + std::to_string(impl_->requested_port),
                           grpc::InsecureServerCredentials(), &impl_->port);
  builder.RegisterService(impl_.get());
  impl_->server = builder.BuildAndStart();
  if (!impl_->server || impl_->port == 0) {
    impl_->server.reset();
    return kube::Status(
        kube::StatusCode::kInvalidConfig,
        "cannot serve the stats stream on " + host + ":" + std::to_string(impl_->requested_port));
  }
  return kube::Status();
}

void StatsServer::stop() {
  std::unique_ptr<grpc::Server> server;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    server = std::move(impl_->server);
  }
  if (!server) return;
  // Streams never end on their own: give them a moment, then cancel them.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  server->Wait();
}

std::uint16_t StatsServer::port() const {
  return static_cast<std::uint16_t>(impl_->port);
}

std::uint64_t StatsServer::samples() const {
  return impl_->samples;
}

std::uint64_t StatsServer::streams() const {
  return impl_->streams;
}

}  // namespace kubefn::autoscaler
