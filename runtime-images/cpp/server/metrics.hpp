// The runtime's Prometheus metrics: Kubeless-named function metrics, kubefn's own runtime
// gauges and counters, and process_* metrics read from /proc.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <memory>
#include <string>
#include <string_view>

#include "busy_clock.hpp"

namespace kubefn::runtime {

enum class Outcome { kSuccess, kFailure };

class RuntimeMetrics {
 public:
  // `now` is the busy clock's time source (a seam for tests).
  explicit RuntimeMetrics(BusyClock::NowNs now = &BusyClock::steady_ns);

  // One finished invocation of the handler. `failed` covers exceptions and timeouts.
  void record_call(std::string_view method, double seconds, bool failed, int status);
  // Wall time the handler ran, whether or not its answer was used.
  void add_busy_seconds(double seconds) { busy_seconds_->Increment(seconds); }
  // Calls began (+) or ended (-): the in-flight gauge and the busy clock move together.
  void inflight_add(int delta) {
    inflight_->Increment(delta);
    busy_.add(delta);
  }
  // Seconds the replica has had at least one call in flight (what metering calls busy).
  double busy_union_seconds() const { return busy_.seconds(); }
  // Calls received while every handler slot (KUBEFN_MAX_THREADS) is taken, waiting for one.
  void queued_add(double delta) { queued_->Increment(delta); }
  // Bytes the open connections' buffers hold (request input, response head and body).
  void buffered_add(double delta) { buffered_->Increment(delta); }
  // A request refused before reaching the handler (400, 408 on read, 413, 431, ...).
  void record_rejected(int status);

  // Text exposition format 0.0.4.
  std::string serialize() const;

  prometheus::Registry& registry() { return *registry_; }

 private:
  static constexpr std::size_t kMethods = 8;  // GET HEAD POST PUT PATCH DELETE OPTIONS OTHER
  static std::size_t method_index(std::string_view method);

  std::shared_ptr<prometheus::Registry> registry_;
  std::array<prometheus::Counter*, kMethods> calls_{};
  std::array<prometheus::Counter*, kMethods> failures_{};
  std::array<prometheus::Histogram*, kMethods> duration_{};
  std::array<prometheus::Counter*, 5> responses_{};  // 1xx..5xx
  prometheus::Gauge* inflight_ = nullptr;
  prometheus::Gauge* queued_ = nullptr;
  prometheus::Gauge* buffered_ = nullptr;
  prometheus::Counter* busy_seconds_ = nullptr;
  prometheus::Family<prometheus::Counter>* rejected_ = nullptr;
  std::shared_ptr<prometheus::Collectable> process_;
  BusyClock busy_;
};

}  // namespace kubefn::runtime
