// The gateway's handling of client sessions against hostile or unlucky callers and
// replicas: what it buffers, what it forwards, when it cuts a connection, and what a late
// replica keeps. The replicas here are scripted HTTP/1.1 servers on real sockets, so a test
// decides exactly what a replica receives, answers and when.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "gateway_fixture.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::gateway {
namespace {

using e2e::local;
using e2e::make_route;
using kubefn::testing::build_request;
using kubefn::testing::http_request;
using kubefn::testing::http_status;
using kubefn::testing::HttpConnection;
using kubefn::testing::wait_until;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kKiB = 1024;
constexpr std::size_t kMiB = 1024 * 1024;

int connect_to(std::uint16_t port, int rcvbuf = 0) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Appends what arrives on `fd` to `out` until `done(out)` or the peer closes or the deadline;
// true when done() held.
template <typename Done>
bool read_until(int fd, std::string& out, Done done, milliseconds timeout = seconds(10)) {
  const auto deadline = Clock::now() + timeout;
  char tmp[65536];
  while (!done(out)) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<long>(left, 50))) <= 0) continue;
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return done(out);
    out.append(tmp, static_cast<std::size_t>(n));
  }
  return true;
}

// Everything until the peer closes; nullopt when it does not close in time.
std::optional<std::string> read_to_close(int fd, milliseconds timeout = seconds(10)) {
  const auto deadline = Clock::now() + timeout;
  std::string out;
  char tmp[65536];
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return out;
    out.append(tmp, static_cast<std::size_t>(n));
  }
  return std::nullopt;
}

// A scripted replica: a real HTTP/1.1 server on 127.0.0.1 (port 0). For each request the
// handler returns the raw response; with `hold` the replica keeps the request until
// release() (or the gateway closing the connection).
class FakeReplica {
 public:
  struct Answer {
    std::string bytes;
    bool hold = false;
  };
  using Handler = std::function<Answer(const std::string& head, const std::string& body)>;

  explicit FakeReplica(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listen_fd_, 64);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~FakeReplica() {
    stop_ = true;
    release();
    acceptor_.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& t : conns_)
      t.join();
    ::close(listen_fd_);
  }

  std::uint16_t port() const { return port_; }
  int connections() const { return connections_.load(); }
  int requests() const { return requests_.load(); }
  // Held requests whose connection the gateway closed before release().
  int closed_while_held() const { return closed_while_held_.load(); }
  int held() const { return held_.load(); }
  std::vector<std::string> heads() const {
    std::lock_guard<std::mutex> lock(mu_);
    return heads_;
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++connections_;
      std::lock_guard<std::mutex> lock(mu_);
      conns_.emplace_back([this, fd] {
        serve(fd);
        ::close(fd);
      });
    }
  }

  void serve(int fd) {
    std::string in;
    while (!stop_) {
      std::size_t end = std::string::npos;
      if (!read_until(
              fd, in,
              [&](const std::string& b) {
                end = b.find("\r\n\r\n");
                return end != std::string::npos || stop_;
              },
              seconds(20)) ||
          end == std::string::npos) {
        return;
      }
      std::string head = in.substr(0, end + 4);
      std::size_t length = 0;
      std::string lower = head;
      for (auto& c : lower)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::size_t cl = lower.find("\r\ncontent-length: ");
      if (cl != std::string::npos) length = std::stoul(lower.substr(cl + 18));
      if (!read_until(
              fd, in, [&](const std::string& b) { return b.size() >= end + 4 + length || stop_; },
              seconds(20)) ||
          stop_) {
        return;
      }
      std::string body = in.substr(end + 4, length);
      in.erase(0, end + 4 + length);
      {
        std::lock_guard<std::mutex> lock(mu_);
        heads_.push_back(head);
      }
      ++requests_;
      Answer a = handler_(head, body);
      if (a.hold) {
        ++held_;
        std::unique_lock<std::mutex> lock(mu_);
        while (!released_) {
          cv_.wait_for(lock, milliseconds(10));
          char c;
          if (::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
            ++closed_while_held_;
            return;
          }
        }
      }
      if (!send_all(fd, a.bytes)) return;
    }
  }

  Handler handler_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  std::vector<std::thread> conns_;
  std::vector<std::string> heads_;
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::atomic<int> closed_while_held_{0};
  std::atomic<int> held_{0};
};

std::string ok(const std::string& body, const std::string& extra = {}) {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

// Answers each request with its own head as the body.
FakeReplica::Answer echo_head(const std::string& head, const std::string&) {
  return {ok(head)};
}

// The route of `name` to a replica on each of `ports`.
FunctionRoute route(const std::string& name, const std::vector<std::uint16_t>& ports,
                    Access access = Access::kPublic) {
  std::vector<Endpoint> endpoints;
  for (std::size_t i = 0; i < ports.size(); ++i)
    endpoints.push_back(local(name + std::to_string(i), ports[i]));
  return make_route(name, std::move(endpoints), access);
}

class GatewaySession : public e2e::GatewayTest {
 protected:
  double buffered() { return metric("kubefn_gateway_buffered_bytes").value_or(-1); }
  double connections() { return metric("kubefn_gateway_connections").value_or(-1); }
};

// ---------------------------------------------------------------------------------------
// Memory: nothing is buffered for a caller without access; buffers are bounded and shrink.

TEST_F(GatewaySession, RefusesFromTheHeadBeforeReadingOrAcknowledgingABody) {
  FakeReplica replica(echo_head);
  routes_.upsert(route("secret", {replica.port()}, Access::kPrivate));
  keys_.set({"good-token"});
  start();
  const std::string upload = "Content-Length: " + std::to_string(8 * kMiB) + "\r\n";

  // Expect: 100-continue gets the refusal, never a 100.
  HttpConnection expecting(port());
  ASSERT_TRUE(expecting.send("POST /default/secret HTTP/1.1\r\nHost: gw\r\n" + upload +
                             "Expect: 100-continue\r\n\r\n"));
  auto r = expecting.read_reply(seconds(5));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(expecting.closed_by_peer());

  // Without Expect: answered while the body is still coming, and its bytes are not kept.
  const std::string part(kMiB, 'x');
  struct Case {
    std::string target, auth;
    int status;
  };
  for (const Case& c : {Case{"/default/secret", "", 401},
                        Case{"/default/secret", "Authorization: Bearer bad\r\n", 403},
                        Case{"/default/nothing", "", 404}}) {
    HttpConnection conn(port());
    ASSERT_TRUE(conn.send("POST " + c.target + " HTTP/1.1\r\nHost: gw\r\n" + c.auth + upload +
                          "\r\n" + part));
    auto refused = conn.read_reply(seconds(5));
    ASSERT_TRUE(refused) << c.target;
    EXPECT_EQ(refused->status, c.status) << c.target;
    EXPECT_EQ(refused->header("connection"), "close") << c.target;
  }

  // Twenty uploads at once, all still open: each holds its initial buffer only.
  std::vector<std::unique_ptr<HttpConnection>> open;
  for (int i = 0; i < 20; ++i) {
    open.push_back(std::make_unique<HttpConnection>(port()));
    ASSERT_TRUE(open.back()->send("POST /default/secret HTTP/1.1\r\nHost: gw\r\n" + upload +
                                  "\r\n" + std::string(256 * kKiB, 'y')));
  }
  for (auto& c : open) {
    auto refused = c->read_reply(seconds(5));
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 401);
  }
  const double held = buffered();
  EXPECT_GT(held, 0);
  EXPECT_LE(held, 20 * 24 * kKiB) << "buffered bytes with 20 refused uploads open";
  EXPECT_EQ(replica.requests(), 0);
}

TEST_F(GatewaySession, OverTheBufferBudgetANewRequestGets503) {
  FakeReplica replica(echo_head);
  routes_.upsert(route("open", {replica.port()}));
  GatewayOptions o;
  o.max_buffered_bytes = kMiB;
  start(o);
  HttpConnection big(port());
  ASSERT_TRUE(big.send("POST /default/open HTTP/1.1\r\nHost: gw\r\nContent-Length: " +
                       std::to_string(2 * kMiB) + "\r\nExpect: 100-continue\r\n\r\n"));
  auto r = big.read_reply(seconds(5));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->header("retry-after"), "1");
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_NE(r->body.find("buffer space"), std::string::npos) << r->body;
  EXPECT_EQ(metric("kubefn_gateway_buffer_rejections_total"), 1);
  // What fits is served.
  auto small = http_request(port(), "POST", "/default/open", std::string(100 * kKiB, 'z'));
  ASSERT_TRUE(small);
  EXPECT_EQ(small->status, 200);
  EXPECT_EQ(replica.requests(), 1);
}

TEST_F(GatewaySession, IdleKeepAliveConnectionsKeepOnlyTheirInitialBuffer) {
  FakeReplica replica(
      [](const std::string&, const std::string& body) { return FakeReplica::Answer{ok(body)}; });
  routes_.upsert(route("echo", {replica.port()}));
  start();
  HttpConnection c(port());
  const std::string body(4 * kMiB, 'b');
  ASSERT_TRUE(c.send(build_request("POST", "/default/echo", body, {{"Host", "gw"}})));
  auto r = c.read_reply(seconds(20));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.size(), body.size());
  std::string chunked =
      "POST /default/echo HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 16; ++i)
    chunked += "10000\r\n" + std::string(0x10000, 'c') + "\r\n";
  chunked += "0\r\n\r\n";
  ASSERT_TRUE(c.send(chunked));
  r = c.read_reply(seconds(20));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body.size(), 16u * 0x10000);
  // The connection stays open and idle: back to its 16 KiB, and the pooled connection to the
  // replica to its 16 KiB (plus the few hundred bytes of heads kept for the next request).
  ASSERT_TRUE(wait_until([&] { return buffered() <= 2 * 16 * kKiB + 2 * kKiB; }, seconds(5)))
      << buffered();
  EXPECT_GE(buffered(), 2 * 16 * kKiB);
  EXPECT_EQ(connections(), 1);
  EXPECT_EQ(replica.connections(), 1);
}

TEST_F(GatewaySession, ConnectionsOverTheLimitAreClosedAtAccept) {
  FakeReplica replica(echo_head);
  routes_.upsert(route("open", {replica.port()}));
  GatewayOptions o;
  o.max_connections = 2;
  start(o);
  auto a = std::make_unique<HttpConnection>(port());
  HttpConnection b(port());
  for (HttpConnection* c : {a.get(), &b}) {
    ASSERT_TRUE(c->send(build_request("GET", "/default/open", "", {{"Host", "gw"}})));
    auto r = c->read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  HttpConnection third(port());
  EXPECT_TRUE(third.closed_by_peer());
  EXPECT_EQ(metric("kubefn_gateway_rejected_connections_total"), 1);
  a.reset();
  ASSERT_TRUE(wait_until([&] { return connections() == 1; }, seconds(5)));
  auto r = http_request(port(), "GET", "/default/open");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

// ---------------------------------------------------------------------------------------
// A call answered 504 keeps the replica's capacity until the replica is done with it.

TEST_F(GatewaySession, ALateCallKeepsItsSlotUntilTheReplicaAnswers) {
  std::atomic<int> seen{0};
  FakeReplica replica([&](const std::string&, const std::string&) {
    const bool first = seen.fetch_add(1) == 0;
    return FakeReplica::Answer{ok(first ? "late" : "next"), first};
  });
  auto r0 = route("slow", {replica.port()});
  r0.concurrency = 1;
  r0.timeout = milliseconds(300);
  routes_.upsert(r0);
  GatewayOptions o;
  o.threads = 1;  // one connection pool, so reuse of the late call's connection shows
  start(o);
  auto fn = routes_.find("default", "slow");

  auto timed_out = http_request(port(), "GET", "/default/slow");
  ASSERT_TRUE(timed_out);
  EXPECT_EQ(timed_out->status, 504);
  EXPECT_EQ(timed_out->header("retry-after"), "");
  // The replica still works on it: the slot and the in-flight count stay taken.
  EXPECT_EQ(fn->state->limiter.inflight(), 1);
  EXPECT_EQ(fn->loads[0]->inflight.load(), 1);
  EXPECT_EQ(metric("kubefn_gateway_late_calls"), 1);

  // So the next call waits in the gateway instead of piling onto the busy replica.
  HttpConnection next(port());
  ASSERT_TRUE(next.send(build_request("GET", "/default/slow", "", {{"Host", "gw"}})));
  ASSERT_TRUE(wait_until([&] { return fn->state->limiter.queued() == 1; }, seconds(5)));
  EXPECT_EQ(replica.requests(), 1);

  replica.release();  // the late answer arrives: dropped, and the slot goes to the next call
  auto r = next.read_reply(seconds(10));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "next");
  EXPECT_EQ(replica.requests(), 2);
  EXPECT_EQ(replica.connections(), 1) << "the late call's connection is pooled again";
  ASSERT_TRUE(wait_until([&] { return fn->state->limiter.inflight() == 0; }, seconds(5)));
  EXPECT_EQ(fn->loads[0]->inflight.load(), 0);
  EXPECT_EQ(metric("kubefn_gateway_late_calls"), 0);
}

TEST_F(GatewaySession, ALateCallIsCutAfterAGraceOfTheFunctionTimeout) {
  FakeReplica replica([](const std::string&, const std::string&) {
    return FakeReplica::Answer{ok("never"), true};
  });
  auto r0 = route("stuck", {replica.port()});
  r0.concurrency = 1;
  r0.timeout = milliseconds(200);
  routes_.upsert(r0);
  start();
  auto fn = routes_.find("default", "stuck");
  auto r = http_request(port(), "GET", "/default/stuck");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  ASSERT_TRUE(wait_until([&] { return replica.closed_while_held() == 1; }, seconds(5)));
  ASSERT_TRUE(wait_until([&] { return fn->state->limiter.inflight() == 0; }, seconds(5)));
  EXPECT_EQ(fn->loads[0]->inflight.load(), 0);
}

// ---------------------------------------------------------------------------------------
// Writing: a slow reader that keeps reading is served whole; one that stops is cut.

TEST_F(GatewaySession, ASlowReaderThatKeepsReadingIsNotCutOff) {
  const std::string big(6 * kMiB, 'r');
  FakeReplica replica(
      [&](const std::string&, const std::string&) { return FakeReplica::Answer{ok(big)}; });
  routes_.upsert(route("big", {replica.port()}));
  GatewayOptions o;
  o.read_timeout = milliseconds(100);  // once bounded the whole response too
  o.write_timeout = seconds(3);
  start(o);
  int fd = connect_to(port(), 16 * 1024);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, "GET /default/big HTTP/1.1\r\nHost: gw\r\n\r\n"));
  // The reader's own pace, 2 MiB/s: the response takes about 3 s to read, far longer than
  // the gateway needs to write it, so its writes wait on the reader all along.
  constexpr double kBytesPerSecond = 2.0 * kMiB;
  std::string got;
  std::size_t want = std::string::npos;
  char tmp[64 * 1024];
  const auto start_time = Clock::now();
  while (got.size() < want && Clock::now() < start_time + seconds(30)) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0) continue;
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) break;
    got.append(tmp, static_cast<std::size_t>(n));
    const std::size_t head = got.find("\r\n\r\n");
    if (want == std::string::npos && head != std::string::npos) want = head + 4 + big.size();
    const auto due = start_time + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(got.size() / kBytesPerSecond));
    std::this_thread::sleep_until(due);
  }
  ::close(fd);
  const std::size_t head = got.find("\r\n\r\n");
  ASSERT_NE(head, std::string::npos);
  EXPECT_EQ(got.size() - head - 4, big.size()) << "the response was cut";
}

TEST_F(GatewaySession, AReaderThatStopsIsCutAfterTheWriteTimeout) {
  const std::string big(32 * kMiB, 's');
  FakeReplica replica(
      [&](const std::string&, const std::string&) { return FakeReplica::Answer{ok(big)}; });
  routes_.upsert(route("big", {replica.port()}));
  GatewayOptions o;
  o.write_timeout = milliseconds(300);
  start(o);
  int fd = connect_to(port(), 16 * 1024);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, "GET /default/big HTTP/1.1\r\nHost: gw\r\n\r\n"));
  ASSERT_TRUE(wait_until([&] { return replica.requests() == 1; }, seconds(5)));
  ASSERT_TRUE(wait_until([&] { return connections() == 0; }, seconds(10)));
  ::close(fd);
}

// ---------------------------------------------------------------------------------------
// What reaches the replica.

TEST_F(GatewaySession, TheTokenAPrivateFunctionWasCalledWithNeverReachesIt) {
  FakeReplica replica(echo_head);
  routes_.upsert(route("secret", {replica.port()}, Access::kPrivate));
  routes_.upsert(route("open", {replica.port()}));
  keys_.set({"good-token"});
  start();
  auto r =
      http_request(port(), "GET", "/default/secret", "", {{"Authorization", "Bearer good-token"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.find("good-token"), std::string::npos) << r->body;
  EXPECT_EQ(r->body.find("authorization"), std::string::npos) << r->body;
  // A public function's caller gave the gateway nothing: the header passes as sent.
  r = http_request(port(), "GET", "/default/open", "", {{"Authorization", "Bearer its-own"}});
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("authorization: Bearer its-own\r\n"), std::string::npos) << r->body;
  // ... but a key of the gateway's own (the dispatcher's, say) is a platform credential: it
  // never reaches code, public or not.
  r = http_request(port(), "GET", "/default/open", "", {{"Authorization", "Bearer good-token"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.find("good-token"), std::string::npos) << r->body;
}

TEST_F(GatewaySession, ConnectionCannotStripHost) {
  FakeReplica replica(echo_head);
  routes_.upsert(route("open", {replica.port()}));
  start();
  HttpConnection c(port());
  ASSERT_TRUE(
      c.send("GET /default/open HTTP/1.1\r\nHost: api.example\r\nevent-id: e-1\r\n"
             "Connection: Host, event-id\r\n\r\n"));
  auto r = c.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("\r\nhost: api.example\r\n"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("\r\nevent-id: e-1\r\n"), std::string::npos) << r->body;
}

TEST_F(GatewaySession, AHeadTooLargeForTheRuntimeOnceForwardedIs431) {
  FakeReplica replica(echo_head);
  routes_.upsert(route("open", {replica.port()}));
  start();
  // Fits the runtime's 64 KiB as sent, not with what the gateway adds.
  const std::string near(64 * kKiB - 200, 'h');
  auto r = http_request(port(), "GET", "/default/open", "", {{"X-Big", near}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(r->header("content-type"), "application/json");
  // A long Host is repeated in X-Forwarded-Host, so it counts twice.
  const std::string host(33 * kKiB, 'a');
  r = http_request(port(), "GET", "/default/open", "", {{"Host", host}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(replica.requests(), 0);
  // What fits with the headroom is forwarded, within the runtime's limit.
  const std::string fits(60 * kKiB, 'f');
  r = http_request(port(), "GET", "/default/open", "", {{"X-Big", fits}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  ASSERT_EQ(replica.heads().size(), 1u);
  EXPECT_LE(replica.heads()[0].size(), 64 * kKiB);
}

TEST_F(GatewaySession, TheRuntimesOwnPathsAreNotForwarded) {
  FakeReplica replica(echo_head);
  kube::ClaimPolicy hosts;
  hosts.allowances = {{"default", "open.example.com"}};
  routes_.set_claim_policy(hosts);
  auto r0 = route("open", {replica.port()});
  r0.host = "open.example.com";
  routes_.upsert(r0);
  start();
  // By the Function's host: /metrics is not the gateway's any more, and not the replica's.
  auto by_host = http_request(port(), "GET", "/metrics", "", {{"Host", "open.example.com"}});
  ASSERT_TRUE(by_host);
  EXPECT_EQ(by_host->status, 404);
  for (const char* target : {"/default/open/metrics", "/default/open/healthz",
                             "/default/open/readyz?x=1", "/default/open/metrics?"}) {
    for (const char* method : {"GET", "POST"}) {
      auto r = http_request(port(), method, target);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 404) << method << " " << target;
    }
  }
  EXPECT_EQ(replica.requests(), 0);
  auto r = http_request(port(), "GET", "/default/open/metricsx");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

// ---------------------------------------------------------------------------------------
// What reaches the caller.

TEST_F(GatewaySession, HeadAnswersCarryTheLengthAGetWouldAndNoBody) {
  FakeReplica replica([](const std::string& head, const std::string&) {
    if (head.rfind("HEAD /chunked", 0) == 0) {
      return FakeReplica::Answer{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"};
    }
    return FakeReplica::Answer{"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"};
  });
  routes_.upsert(route("open", {replica.port()}));
  start();
  // Pipelined on one connection: any stray body byte would break the next answer.
  int fd = connect_to(port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd,
                       "HEAD /default/open HTTP/1.1\r\nHost: gw\r\n\r\n"
                       "HEAD /default/open/chunked HTTP/1.1\r\nHost: gw\r\n\r\n"
                       "HEAD /healthz HTTP/1.1\r\nHost: gw\r\n\r\n"
                       "HEAD /default/nothing HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"));
  auto all = read_to_close(fd);
  ::close(fd);
  ASSERT_TRUE(all);
  std::vector<std::string> heads;
  std::size_t pos = 0;
  for (std::size_t end; (end = all->find("\r\n\r\n", pos)) != std::string::npos; pos = end + 4)
    heads.push_back(all->substr(pos, end + 4 - pos));
  EXPECT_EQ(pos, all->size()) << "bytes after the last head: " << all->substr(pos);
  ASSERT_EQ(heads.size(), 4u) << *all;
  EXPECT_NE(heads[0].find("content-length: 1234\r\n"), std::string::npos) << heads[0];
  EXPECT_EQ(heads[1].find("content-length"), std::string::npos) << heads[1];
  EXPECT_NE(heads[2].find("content-length: 3\r\n"), std::string::npos) << heads[2];
  EXPECT_EQ(heads[3].rfind("HTTP/1.1 404", 0), 0u) << heads[3];
  EXPECT_EQ(heads[3].find("content-length: 0\r\n"), std::string::npos) << heads[3];
}

TEST_F(GatewaySession, AResponseOverTheLimitIs502SaysSoAndIsNotRetried) {
  const std::string big(2 * kMiB, 'L');
  auto answer = [&](const std::string& head, const std::string&) {
    if (head.find("chunked") != std::string::npos) {
      std::string r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
      for (int i = 0; i < 32; ++i)
        r += "10000\r\n" + std::string(0x10000, 'c') + "\r\n";
      return FakeReplica::Answer{r + "0\r\n\r\n"};
    }
    return FakeReplica::Answer{ok(big)};
  };
  FakeReplica one(answer);
  FakeReplica two(answer);
  routes_.upsert(route("big", {one.port(), two.port()}));
  GatewayOptions o;
  o.max_response_body_bytes = kMiB;
  start(o);
  for (const char* target : {"/default/big", "/default/big/chunked"}) {
    auto r = http_request(port(), "GET", target);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 502) << target;
    EXPECT_NE(r->body.find("exceeded the limit (1048576 bytes)"), std::string::npos) << r->body;
  }
  EXPECT_EQ(one.requests() + two.requests(), 2) << "never tried on another replica";
  EXPECT_EQ(metric("kubefn_gateway_responses_too_large_total"), 2);
}

TEST_F(GatewaySession, AReplicas408PassesAsItIsWithoutARetry) {
  auto answer = [](const std::string&, const std::string&) {
    return FakeReplica::Answer{
        "HTTP/1.1 408 Request Timeout\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow"};
  };
  FakeReplica one(answer);
  FakeReplica two(answer);
  routes_.upsert(route("open", {one.port(), two.port()}));
  start();
  auto r = http_request(port(), "GET", "/default/open");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  EXPECT_EQ(r->header("retry-after"), "");
  EXPECT_EQ(one.requests() + two.requests(), 1);
}

TEST_F(GatewaySession, MetricsAreOnlyOnTheMetricsListener) {
  FakeReplica replica(echo_head);
  routes_.upsert(route("secret", {replica.port()}, Access::kPrivate));
  start();
  auto r = http_request(port(), "GET", "/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body.find("kubefn_gateway"), std::string::npos);
  EXPECT_EQ(http_status(port(), "/healthz"), 200);
  EXPECT_EQ(http_status(port(), "/readyz"), 200);

  ASSERT_NE(gateway_->metrics_port(), 0);
  ASSERT_NE(gateway_->metrics_port(), port());
  r = http_request(gateway_->metrics_port(), "GET", "/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("kubefn_gateway_requests_total{code=\"404\""), std::string::npos)
      << r->body;
  EXPECT_NE(r->body.find("process_cpu_seconds_total"), std::string::npos);
  EXPECT_EQ(http_status(gateway_->metrics_port(), "/default/secret"), 404);
  EXPECT_EQ(replica.requests(), 0);
}

TEST(GatewayMetricsListener, IsOffUnlessAsked) {
  RouteTable routes;
  KeyRing keys;
  Gateway gw(routes, keys, GatewayOptions{});
  ASSERT_TRUE(gw.start().ok());
  EXPECT_EQ(gw.metrics_port(), 0);
  EXPECT_EQ(http_status(gw.port(), "/metrics"), 404);
}

}  // namespace
}  // namespace kubefn::gateway
