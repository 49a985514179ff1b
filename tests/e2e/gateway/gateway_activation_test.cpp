// The activation probe, end to end: while a call waits for a first ready replica, the gateway
// asks the function's started, not-yet-ready replicas GET /readyz itself, and the call goes to
// the first that answers 200, long before the (here simulated) pod watch says it is ready.
// The replicas are small scripted servers on 127.0.0.1 port 0 whose /readyz answers what the
// test says, and which count what they receive.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include "gateway_fixture.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::gateway {
namespace {

using e2e::local;
using e2e::make_route;
using kubefn::testing::http_request;
using kubefn::testing::wait_until;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

// A replica whose readiness the test scripts. It is bound from the start (so its port is
// known) but refuses connections until listen(), as a runtime that has not started yet; then
// /readyz answers as `readyz` says (503, 200, or never), and any other request "served by ID".
class ScriptedReplica {
 public:
  enum class Readyz { kUnavailable, kReady, kNever };

  explicit ScriptedReplica(std::string id, Readyz readyz = Readyz::kUnavailable)
      : id_(std::move(id)), readyz_(readyz) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~ScriptedReplica() {
    stop_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& t : conns_)
      t.join();
    ::close(fd_);
  }

  std::uint16_t port() const { return port_; }
  void listen() {
    ::listen(fd_, 64);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  void set_readyz(Readyz r) { readyz_ = r; }
  int readyz_hits() const { return readyz_hits_.load(); }
  int calls() const { return calls_.load(); }
  // Every head received, probes and calls alike.
  std::vector<std::string> heads() const {
    std::lock_guard<std::mutex> lock(mu_);
    return heads_;
  }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 10) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::lock_guard<std::mutex> lock(mu_);
      conns_.emplace_back([this, c] {
        serve(c);
        ::close(c);
      });
    }
  }

  // One request per connection at most matters here: probes close, calls are answered.
  void serve(int c) {
    std::string in;
    char tmp[4096];
    while (!stop_) {
      std::size_t end;
      while ((end = in.find("\r\n\r\n")) == std::string::npos) {
        pollfd p{c, POLLIN, 0};
        if (stop_) return;
        if (::poll(&p, 1, 10) <= 0) continue;
        ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
        if (n <= 0) return;
        in.append(tmp, static_cast<std::size_t>(n));
      }
      const std::string head = in.substr(0, end + 4);
      in.erase(0, end + 4);
      {
        std::lock_guard<std::mutex> lock(mu_);
        heads_.push_back(head);
      }
      std::string answer;
      if (head.rfind("GET /readyz ", 0) == 0) {
        ++readyz_hits_;
        const Readyz r = readyz_.load();
        if (r == Readyz::kNever) {
          while (!stop_) {  // holds the probe until the gateway gives up on it
            pollfd p{c, POLLIN, 0};
            if (::poll(&p, 1, 10) > 0 && ::recv(c, tmp, sizeof tmp, 0) <= 0) return;
          }
          return;
        }
        answer = r == Readyz::kReady ? reply(200, "ready\n") : reply(503, "not ready\n");
      } else {
        ++calls_;
        answer = reply(200, "served by " + id_ + "\n");
      }
      if (::send(c, answer.data(), answer.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(answer.size()))
        return;
    }
  }

  static std::string reply(int status, const std::string& body) {
    return "HTTP/1.1 " + std::to_string(status) + (status == 200 ? " OK" : " Service Unavailable") +
           "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
  }

  const std::string id_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<Readyz> readyz_;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<std::thread> conns_;
  std::vector<std::string> heads_;
  std::atomic<int> readyz_hits_{0};
  std::atomic<int> calls_{0};
};

// What the pod watch says of a pod whose container runs but whose readiness the kubelet has
// not passed yet.
Endpoint started(const std::string& id, std::uint16_t port) {
  Endpoint e = local(id, port);
  e.ready = false;
  e.started = true;
  return e;
}

class GatewayActivation : public e2e::GatewayTest {
 protected:
  GatewayOptions waiting(milliseconds activation) {
    GatewayOptions o;
    o.activation_timeout = activation;
    o.on_demand = [this](const std::string&, const std::string&) { ++demanded_; };
    return o;
  }
  // One call of `target` on its own thread.
  std::future<std::optional<kubefn::testing::HttpReply>> call(
      const std::string& target, std::map<std::string, std::string> headers = {}) {
    return std::async(std::launch::async, [this, target, headers] {
      return http_request(port(), "GET", target, "", headers, seconds(30));
    });
  }
  double probes(const std::string& function, const std::string& result) {
    return metric("kubefn_gateway_activation_probes_total{function=\"" + function +
                  "\",namespace=\"default\",result=\"" + result + "\"}")
        .value_or(0);
  }
  std::atomic<int> demanded_{0};
};

TEST_F(GatewayActivation, AWaitingCallGoesToTheFirstReplicaWhoseReadyzAnswers) {
  ScriptedReplica replica("r0");
  routes_.upsert(make_route("fn", {started("r0", replica.port())}, Access::kPrivate));
  keys_.set({"caller-token"});
  start(waiting(seconds(10)));
  auto pending = call("/default/fn/x?q=1", {{"Authorization", "Bearer caller-token"},
                                            {"X-Caller-Data", "secret-stuff"}});

  // The runtime has not started: its port refuses, and the gateway keeps probing.
  ASSERT_TRUE(wait_until([&] { return probes("fn", "error") >= 2; }, seconds(10)));
  // It listens, but /readyz says not yet.
  replica.listen();
  ASSERT_TRUE(wait_until([&] { return probes("fn", "not_ready") >= 2; }, seconds(10)));
  EXPECT_EQ(pending.wait_for(milliseconds(0)), std::future_status::timeout) << "still waiting";

  // /readyz answers 200: the call is answered within ~100 ms, the watch still says not ready.
  const auto ready_at = Clock::now();
  replica.set_readyz(ScriptedReplica::Readyz::kReady);
  ASSERT_EQ(pending.wait_for(seconds(10)), std::future_status::ready);
  const auto answered_in =
      std::chrono::duration_cast<milliseconds>(Clock::now() - ready_at).count();
  auto r = pending.get();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "served by r0\n");
  EXPECT_LT(answered_in, 100) << "ms from /readyz answering 200 to the call's answer";
  EXPECT_EQ(replica.calls(), 1);
  EXPECT_EQ(probes("fn", "ready"), 1);
  auto fn = routes_.find("default", "fn");
  ASSERT_EQ(fn->endpoints.size(), 1u);
  EXPECT_FALSE(fn->endpoints[0].ready);
  EXPECT_TRUE(fn->endpoints[0].probed);
  EXPECT_GE(demanded_.load(), 1);

  // The probes carried nothing of the caller's.
  for (const std::string& head : replica.heads()) {
    if (head.rfind("GET /readyz ", 0) != 0) continue;
    EXPECT_EQ(head.find("caller-token"), std::string::npos) << head;
    EXPECT_EQ(head.find("secret-stuff"), std::string::npos) << head;
    EXPECT_EQ(head.find("/x?q=1"), std::string::npos) << head;
  }

  // Later calls go straight to it, and no more probes are sent: the function has a replica.
  const int hits = replica.readyz_hits();
  for (int i = 0; i < 5; ++i) {
    auto again =
        http_request(port(), "GET", "/default/fn/", "", {{"Authorization", "Bearer caller-token"}});
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 200);
  }
  EXPECT_EQ(replica.readyz_hits(), hits);

  // The watch catches up (ready), then says the pod is being deleted: that wins.
  Endpoint ready = local("r0", replica.port());
  ready.started = true;
  routes_.set_endpoints("default", "fn", {ready});
  EXPECT_EQ(
      http_request(port(), "GET", "/default/fn/", "", {{"Authorization", "Bearer caller-token"}})
          ->status,
      200);
  Endpoint deleting = local("r0", replica.port());
  deleting.ready = false;
  routes_.set_endpoints("default", "fn", {deleting});
  EXPECT_EQ(routes_.find("default", "fn")->ready_endpoints, 0);
}

TEST_F(GatewayActivation, ReplicasThatNeverAnswerReadyzKeepTheCallWaitingUntilTheTimeout) {
  ScriptedReplica hangs("hangs", ScriptedReplica::Readyz::kNever);
  ScriptedReplica unready("unready", ScriptedReplica::Readyz::kUnavailable);
  hangs.listen();
  unready.listen();
  routes_.upsert(
      make_route("fn", {started("hangs", hangs.port()), started("unready", unready.port())}));
  start(waiting(milliseconds(800)));
  const auto t0 = Clock::now();
  auto r = http_request(port(), "GET", "/default/fn", "", {}, seconds(30));
  const auto waited = std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->header("retry-after"), "1");
  EXPECT_NE(r->body.find("no replica of this function became ready in time"), std::string::npos);
  EXPECT_GE(waited, 790);
  // Both were probed, each over and over; neither got the call.
  EXPECT_GE(hangs.readyz_hits(), 2) << "a probe that gets no answer ends at its timeout";
  EXPECT_GE(unready.readyz_hits(), 5);
  EXPECT_EQ(hangs.calls() + unready.calls(), 0);
  EXPECT_GE(probes("fn", "error"), 2);
  EXPECT_GE(probes("fn", "not_ready"), 5);
  EXPECT_EQ(probes("fn", "ready"), 0);

  // No call waits: the probing stops.
  ASSERT_TRUE(wait_until([&] { return !routes_.find("default", "fn")->state->probing.load(); },
                         seconds(5)));
  const int hits = unready.readyz_hits();
  // Calls to another function for 200 ms (eight probe intervals): no probe of "fn" meanwhile.
  ScriptedReplica other("other", ScriptedReplica::Readyz::kReady);
  other.listen();
  routes_.upsert(make_route("other", {local("o0", other.port())}));
  const auto until = Clock::now() + milliseconds(200);
  while (Clock::now() < until) {
    ASSERT_EQ(http_request(port(), "GET", "/default/other")->status, 200);
  }
  EXPECT_EQ(unready.readyz_hits(), hits);
}

TEST_F(GatewayActivation, NoProbeWhileAReplicaIsReadyOrNoCallWaits) {
  ScriptedReplica warm("warm", ScriptedReplica::Readyz::kReady);
  ScriptedReplica starting("starting", ScriptedReplica::Readyz::kReady);
  ScriptedReplica idle("idle", ScriptedReplica::Readyz::kReady);
  warm.listen();
  starting.listen();
  idle.listen();
  // "fn" has a ready replica and one the kubelet has not passed (yet, or any more): it is
  // never probed, nor given calls. "idle" has a started replica and no call.
  routes_.upsert(
      make_route("fn", {local("warm", warm.port()), started("starting", starting.port())}));
  routes_.upsert(make_route("idle", {started("idle", idle.port())}));
  start(waiting(seconds(10)));
  int calls = 0;
  const auto until = Clock::now() + milliseconds(300);  // a dozen probe intervals
  while (Clock::now() < until) {
    auto r = http_request(port(), "GET", "/default/fn");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "served by warm\n");
    ++calls;
  }
  EXPECT_EQ(warm.calls(), calls);
  EXPECT_EQ(starting.readyz_hits() + starting.calls(), 0);
  EXPECT_EQ(idle.readyz_hits() + idle.calls(), 0);
  EXPECT_EQ(warm.readyz_hits(), 0);
  EXPECT_EQ(metrics().find("kubefn_gateway_activation_probes_total{"), std::string::npos);
}

// A probed replica that then refuses a connection is not routable any more, and the call
// (which no replica saw) is admitted again: it waits for a first replica, or gets 503.
TEST_F(GatewayActivation, AProbedReplicaThatRefusesLosesItsStatusAndTheCallWaitsOn) {
  ScriptedReplica gone("gone");  // bound, never listening: refuses
  ScriptedReplica later("later", ScriptedReplica::Readyz::kReady);
  later.listen();
  routes_.upsert(make_route("fn", {started("gone", gone.port())}));
  start(waiting(seconds(10)));
  // As if its /readyz had answered 200 a moment ago.
  auto fn = routes_.find("default", "fn");
  ASSERT_TRUE(routes_.set_probed("default", "fn", fn->loads[0].get(), true));
  auto pending = call("/default/fn");
  ASSERT_TRUE(
      wait_until([&] { return !routes_.find("default", "fn")->endpoints[0].probed; }, seconds(10)));
  ASSERT_TRUE(wait_until([&] { return demanded_.load() >= 1; }, seconds(10)))
      << "back to waiting for a first replica";
  EXPECT_EQ(pending.wait_for(milliseconds(0)), std::future_status::timeout);
  // The watch brings a ready replica.
  routes_.set_endpoints("default", "fn",
                        {started("gone", gone.port()), local("later", later.port())});
  ASSERT_EQ(pending.wait_for(seconds(10)), std::future_status::ready);
  auto r = pending.get();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "served by later\n");
  EXPECT_EQ(later.calls(), 1);
}

TEST_F(GatewayActivation, WithoutAnActivationWaitAProbedReplicaThatRefusesIs503) {
  ScriptedReplica gone("gone");
  routes_.upsert(make_route("fn", {started("gone", gone.port())}));
  start();  // no activation wait, hence no probes; the table says it was probed
  ASSERT_TRUE(
      routes_.set_probed("default", "fn", routes_.find("default", "fn")->loads[0].get(), true));
  auto r = http_request(port(), "GET", "/default/fn");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_NE(r->body.find("no ready replica of this function"), std::string::npos);
  EXPECT_FALSE(routes_.find("default", "fn")->endpoints[0].probed);
}

}  // namespace
}  // namespace kubefn::gateway
