#include "activation_probe.hpp"

#include <array>
#include <boost/asio.hpp>

#include "admission.hpp"
#include "gateway_core.hpp"
#include "kubefn/http/response_parser.hpp"

namespace kubefn::gateway {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

std::string_view probe_result_label(ProbeResult r) {
  switch (r) {
    case ProbeResult::kReady:
      return "ready";
    case ProbeResult::kNotReady:
      return "not_ready";
    case ProbeResult::kError:
      break;
  }
  return "error";
}

// ---------------------------------------------------------------------------------------
// ProbeSchedule

std::vector<std::size_t> ProbeSchedule::due(const FunctionRoute& route,
                                            const std::vector<std::size_t>& candidates,
                                            std::int64_t now) {
  std::vector<std::size_t> out;
  for (std::size_t i : candidates) {
    if (i >= route.loads.size() || !route.loads[i]) continue;
    const std::shared_ptr<EndpointLoad>& load = route.loads[i];
    auto [it, inserted] = entries_.try_emplace(load.get());
    Entry& e = it->second;
    // Ticks come every interval; a function watched between two ticks is probed at once, so
    // half an interval keeps the next tick from probing it again right after.
    if (!inserted && (e.in_flight || now - e.started_ns < interval_ns_ / 2)) continue;
    e.load = load;
    e.started_ns = now;
    e.in_flight = true;
    out.push_back(i);
  }
  return out;
}

void ProbeSchedule::finished(const EndpointLoad* load) {
  auto it = entries_.find(load);
  if (it == entries_.end()) return;
  it->second.in_flight = false;
  if (it->second.load->removed.load(std::memory_order_relaxed)) entries_.erase(it);
}

void ProbeSchedule::forget(const FunctionRoute& route) {
  for (const auto& load : route.loads) {
    auto it = entries_.find(load.get());
    if (it != entries_.end() && !it->second.in_flight) entries_.erase(it);
  }
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (!it->second.in_flight && it->second.load->removed.load(std::memory_order_relaxed)) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

bool ProbeSchedule::in_flight(const EndpointLoad* load) const {
  auto it = entries_.find(load);
  return it != entries_.end() && it->second.in_flight;
}

// ---------------------------------------------------------------------------------------
// One probe: connect, GET /readyz, read the answer, all before its deadline.

class ActivationProber::Probe : public std::enable_shared_from_this<Probe> {
 public:
  Probe(asio::io_context& io, ActivationProber* owner, std::string ns, std::string name,
        std::shared_ptr<FunctionState> state, std::shared_ptr<EndpointLoad> load)
      : ns(std::move(ns)),
        name(std::move(name)),
        state(std::move(state)),
        load(std::move(load)),
        owner_(owner),
        sock_(io),
        deadline_(io),
        resp_(/*max_body_bytes=*/1024, /*max_header_bytes=*/sizeof(buf_) - 1024) {}

  void start(const tcp::endpoint& address, std::string request, std::chrono::milliseconds timeout) {
    request_ = std::move(request);
    deadline_.expires_after(timeout);
    deadline_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (!ec) self->end(ProbeResult::kError);
    });
    sock_.async_connect(address, [self = shared_from_this()](const error_code& ec) {
      if (self->done_) return;
      if (ec) {
        self->end(ProbeResult::kError);
        return;
      }
      asio::async_write(self->sock_, asio::buffer(self->request_),
                        [self](const error_code& wec, std::size_t) {
                          if (self->done_) return;
                          if (wec) {
                            self->end(ProbeResult::kError);
                            return;
                          }
                          self->read();
                        });
    });
  }

  // Ends it without a word to its owner (stop).
  void abort() {
    done_ = true;
    error_code ignored;
    deadline_.cancel();
    sock_.close(ignored);
  }

  const std::string ns, name;
  const std::shared_ptr<FunctionState> state;
  const std::shared_ptr<EndpointLoad> load;

 private:
  void read() {
    if (len_ == sizeof(buf_)) {
      end(ProbeResult::kError);
      return;
    }
    sock_.async_read_some(
        asio::buffer(buf_.data() + len_, sizeof(buf_) - len_),
        [self = shared_from_this()](const error_code& ec, std::size_t n) {
          if (self->done_) return;
          const std::string_view data(self->buf_.data(), self->len_ + n);
          http::ResponseState st;
          if (ec == asio::error::eof) {
            st = self->resp_.finish_at_eof(data);
          } else if (ec) {
            self->end(ProbeResult::kError);
            return;
          } else {
            self->len_ += n;
            st = self->resp_.parse(data);
          }
          switch (st) {
            case http::ResponseState::kNeedMore:
              if (ec) break;
              self->read();
              return;
            case http::ResponseState::kComplete:
              self->end(self->resp_.status() == 200 ? ProbeResult::kReady : ProbeResult::kNotReady);
              return;
            case http::ResponseState::kError:
              break;
          }
          self->end(ProbeResult::kError);
        });
  }

  void end(ProbeResult result) {
    if (done_) return;
    abort();
    owner_->finished(this, result);
  }

  ActivationProber* owner_;
  tcp::socket sock_;
  asio::steady_timer deadline_;
  std::string request_;
  std::array<char, 8192> buf_{};
  std::size_t len_ = 0;
  http::HttpResponseParser resp_;
  bool done_ = false;
};

// ---------------------------------------------------------------------------------------
// ActivationProber

ActivationProber::ActivationProber(GatewayCore& core, asio::io_context& io)
    : core_(core), io_(io), timer_(io), schedule_(to_ns(core.options.activation_probe_interval)) {}

ActivationProber::~ActivationProber() = default;

void ActivationProber::want(const FunctionRoute& route) {
  FunctionState* s = route.state.get();
  if (s == nullptr || s->probing.load(std::memory_order_relaxed)) return;
  if (s->probing.exchange(true)) return;
  asio::post(io_, [this, w = Watched{route.ns, route.name, route.state}]() mutable {
    watch(std::move(w));
  });
}

void ActivationProber::watch(Watched w) {
  if (closed_) return;
  auto [it, inserted] = watched_.try_emplace(w.state.get(), std::move(w));
  if (!step(it->second, now_ns())) watched_.erase(it);
  arm();
}

bool ActivationProber::step(const Watched& w, std::int64_t now) {
  auto route = core_.routes.find(w.ns, w.name);
  const bool same = route && route->state == w.state;
  const int activating = w.state->activating.load(std::memory_order_relaxed);
  if (!same || activating <= 0 || route->ready_endpoints > 0) {
    // A replica takes calls, none waits, or the function went away: probing stops. A call
    // that waits again asks again (want()).
    if (same) schedule_.forget(*route);
    w.state->probing.store(false);
    return false;
  }
  for (std::size_t i : schedule_.due(*route, probe_candidates(*route, activating), now)) {
    start_probe(w, *route, i);
  }
  return true;
}

void ActivationProber::tick() {
  armed_ = false;
  if (closed_) return;
  const std::int64_t now = now_ns();
  for (auto it = watched_.begin(); it != watched_.end();) {
    if (step(it->second, now)) {
      ++it;
    } else {
      it = watched_.erase(it);
    }
  }
  arm();
}

void ActivationProber::arm() {
  if (armed_ || closed_ || watched_.empty()) return;
  armed_ = true;
  timer_.expires_after(core_.options.activation_probe_interval);
  timer_.async_wait([this](const error_code& ec) {
    if (ec) {
      armed_ = false;
      return;
    }
    tick();
  });
}

void ActivationProber::start_probe(const Watched& w, const FunctionRoute& route, std::size_t i) {
  const Endpoint& e = route.endpoints[i];
  const std::shared_ptr<EndpointLoad>& load = route.loads[i];
  error_code ec;
  auto addr = asio::ip::make_address(e.host == "localhost" ? "127.0.0.1" : e.host, ec);
  if (ec) {
    schedule_.finished(load.get());
    core_.metrics.activation_probes(w.ns, w.name, probe_result_label(ProbeResult::kError))
        .Increment();
    return;
  }
  // No caller's credential or data: the probe is the gateway's own request.
  std::string request = "GET /readyz HTTP/1.1\r\nHost: ";
  request += addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
  request += ":" + std::to_string(e.port);
  request += "\r\nUser-Agent: kubefn-gateway/activation-probe\r\nConnection: close\r\n\r\n";
  auto p = std::make_shared<Probe>(io_, this, w.ns, w.name, w.state, load);
  probes_.emplace(p.get(), p);
  p->start(tcp::endpoint(addr, e.port), std::move(request), core_.options.activation_probe_timeout);
}

void ActivationProber::finished(Probe* p, ProbeResult result) {
  auto it = probes_.find(p);
  if (it == probes_.end()) return;
  std::shared_ptr<Probe> probe = std::move(it->second);
  probes_.erase(it);
  schedule_.finished(probe->load.get());
  core_.metrics.activation_probes(probe->ns, probe->name, probe_result_label(result)).Increment();
  if (result != ProbeResult::kReady || closed_) return;
  if (!core_.routes.set_probed(probe->ns, probe->name, probe->load.get(), true)) return;
  // The function has a routable endpoint now: its waiting calls go at once, on every worker.
  for (auto& w : core_.workers) {
    Worker* raw = w.get();
    asio::post(raw->io, [raw, state = probe->state] { raw->wake_activation(state.get()); });
  }
}

void ActivationProber::close() {
  closed_ = true;
  timer_.cancel();
  for (auto& [raw, p] : probes_)
    p->abort();
  probes_.clear();
  for (auto& [s, w] : watched_)
    w.state->probing.store(false);
  watched_.clear();
}

}  // namespace kubefn::gateway
