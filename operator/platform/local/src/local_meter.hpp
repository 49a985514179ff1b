#pragma once

// `kubefn up`'s replica metering (private to the module): every replica's time, split into
// starting, busy and idle from the supervisor's exact events and the gateway's per-endpoint
// busy clock, and its CPU and memory (max(request, usage), usage from the process), added to
// the platform's Meter; the Meter's totals sampled into a history file that a restart reads
// back; and the JSON the console and `kubefn cost` read.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kubefn/gateway/route_table.hpp"
#include "kubefn/metering/history.hpp"
#include "kubefn/metering/meter.hpp"
#include "kubefn/metering/sizing.hpp"
#include "kubefn/platform/local/replica_supervisor.hpp"

namespace kubefn::platform::local::detail {

struct LocalMeterOptions {
  std::filesystem::path dir;                         // history.jsonl and events.jsonl live here
  std::chrono::milliseconds tick{1000};              // live replicas are accounted this often
  std::chrono::seconds history_step{10};             // and the totals sampled into the history
  std::optional<std::filesystem::path> prices_file;  // read again when it changes
  std::vector<std::string> price_flags;              // KEY=VALUE over the file's sheet (--price)
  // The Functions now (their spec.resources size the replicas); called from the meter's thread.
  std::function<std::vector<nlohmann::json>()> list_functions;
};

class LocalMeter {
 public:
  // Reads the history (the last sample restores the Meter's totals) and the price sheet.
  // Throws std::runtime_error naming what is wrong (an unreadable history folder, a bad price
  // sheet or --price).
  LocalMeter(metering::Meter& meter, gateway::RouteTable& routes, LocalMeterOptions options);
  ~LocalMeter();  // stop()

  // The supervisor's events (its thread, its lock held): queued, handled on the next tick.
  void on_event(const ReplicaEvent& e);
  void start();
  // Accounts every live replica up to now, appends a last sample; idempotent.
  void stop();

  // GET /api/v1/cost?since=SECONDS and GET /api/v1/history?since=SECONDS bodies (JSON).
  std::string cost_json(std::string_view query);
  std::string history_json(std::string_view query);

  // One tick now (tests).
  void tick_now();

 private:
  struct Run {
    FunctionKey key;
    std::string replica;
    int run = 0;
    int pid = 0;
    bool container = false;
    bool ready = false;
    std::chrono::steady_clock::time_point last{};
    double cpu_seen = 0;   // CPU of the run accounted so far
    double rss_bytes = 0;  // last seen
    double busy_seen = 0;  // the endpoint's busy clock when last accounted
    std::shared_ptr<gateway::EndpointLoad> load;
  };
  void loop();
  void tick(std::chrono::steady_clock::time_point now);
  void handle(const ReplicaEvent& e);
  // The run's time from its last accounting to `until`. `read_busy`: take the endpoint's busy
  // clock now (false when `until` is an event's past moment: the clock has moved on since, and
  // what it counted is left to the next slice, so busy time is never taken off the wrong one).
  void account(Run& r, std::chrono::steady_clock::time_point until, std::optional<double> cpu_total,
               bool read_busy = true);
  void find_load(Run& r);
  void refresh_sizes();
  void check_prices(bool initial);
  void sample(bool force);
  metering::Sample current() const;
  void log_event(const ReplicaEvent& e);

  metering::Meter& meter_;
  gateway::RouteTable& routes_;
  LocalMeterOptions options_;
  metering::History history_;
  std::optional<metering::PriceFile> price_file_;
  metering::PriceSheet flag_base_;
  std::ofstream events_;

  std::mutex queue_mu_;
  std::vector<ReplicaEvent> queue_;

  std::mutex mu_;  // what follows; the tick and the API handlers
  std::map<std::pair<std::string, std::string>, Run> runs_;  // by (key.str(), replica)
  std::map<FunctionKey, metering::ReplicaSize> sizes_;
  std::chrono::steady_clock::time_point next_sample_{};
  std::chrono::steady_clock::time_point next_sizes_{};

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace kubefn::platform::local::detail
