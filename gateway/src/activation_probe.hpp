// The activation probe: while calls wait for a first ready replica of a function, the gateway
// itself asks that function's started, not-yet-ready endpoints GET /readyz, and one that
// answers 200 takes calls at once instead of after the platform's own readiness probe and
// the pod watch (about a second on a node: the kubelet probes every second, then the Ready
// condition travels through the API server to the gateway's watch).
//
// Which endpoints may be probed, and when the probing stops, is admission's
// (probe_candidates); when each is probed, the schedule's; the probes themselves run on one
// worker's event loop, like that worker's upstream connections.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kubefn/gateway/route_table.hpp"

namespace kubefn::gateway {

class GatewayCore;

// What one probe found.
enum class ProbeResult {
  kReady,     // /readyz answered 200
  kNotReady,  // /readyz answered another status
  kError,     // no connection, no whole answer in time, or not HTTP
};
std::string_view probe_result_label(ProbeResult r);  // "ready", "not_ready", "error"

// When each endpoint is probed: never two probes of one endpoint at once, and a new one at
// least half an `interval` after the previous one started (the prober asks every interval).
// Pure (told the time), single-threaded.
class ProbeSchedule {
 public:
  explicit ProbeSchedule(std::int64_t interval_ns) : interval_ns_(interval_ns) {}

  // Of `candidates` (indexes into route.endpoints), those to probe at `now`; each is taken as
  // probed from now until finished().
  std::vector<std::size_t> due(const FunctionRoute& route,
                               const std::vector<std::size_t>& candidates, std::int64_t now);
  void finished(const EndpointLoad* load);
  // Forgets the endpoints of `route` that are not being probed (its probing stopped), and any
  // endpoint no longer listed.
  void forget(const FunctionRoute& route);
  bool in_flight(const EndpointLoad* load) const;
  std::size_t tracked() const { return entries_.size(); }

 private:
  struct Entry {
    std::shared_ptr<EndpointLoad> load;  // kept so that its address is not reused meanwhile
    std::int64_t started_ns = 0;
    bool in_flight = false;
  };
  const std::int64_t interval_ns_;
  std::unordered_map<const EndpointLoad*, Entry> entries_;
};

// Runs the probes: watches the functions it is told have calls waiting for a first replica
// (want()), and every interval probes their candidates on its event loop, each probe a
// non-blocking GET /readyz with no caller credential or data, given the probe timeout to
// connect and answer whole. A 200 marks the endpoint probed in the route table and wakes the
// calls waiting for the function on every worker; every probe is counted in
// kubefn_gateway_activation_probes_total, none is logged. A function stops being watched when
// it has a routable endpoint, no call waits for it, or it went away.
//
// Threading: want() from any thread; everything else on the event loop's thread.
class ActivationProber {
 public:
  ActivationProber(GatewayCore& core, boost::asio::io_context& io);
  ~ActivationProber();
  ActivationProber(const ActivationProber&) = delete;
  ActivationProber& operator=(const ActivationProber&) = delete;

  // Calls of `route`'s function wait for a first replica: one atomic load when it is already
  // watched.
  void want(const FunctionRoute& route);
  // Ends every probe and the ticks (stop).
  void close();

  class Probe;

 private:
  struct Watched {
    std::string ns, name;
    std::shared_ptr<FunctionState> state;
  };
  void watch(Watched w);
  // One function's step: false when it is no longer watched.
  bool step(const Watched& w, std::int64_t now);
  void tick();
  void arm();
  void start_probe(const Watched& w, const FunctionRoute& route, std::size_t i);
  void finished(Probe* p, ProbeResult result);

  GatewayCore& core_;
  boost::asio::io_context& io_;
  boost::asio::steady_timer timer_;
  ProbeSchedule schedule_;
  std::map<const FunctionState*, Watched> watched_;
  std::unordered_map<Probe*, std::shared_ptr<Probe>> probes_;
  bool armed_ = false;
  bool closed_ = false;
};

}  // namespace kubefn::gateway
