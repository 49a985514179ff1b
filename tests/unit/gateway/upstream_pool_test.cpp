// The upstream pool's rules on real loopback connections: which connections go back to the
// pool and with what buffer, which idle ones are skipped when taken, and the pruning of
// replicas no longer listed; all of it against the buffer budget.
#include "upstream_pool.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <boost/asio.hpp>
#include <cerrno>
#include <string>
#include <utility>

namespace kubefn::gateway {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Waits (poll, 5 s at most) until `fd` has something to read or its peer closed.
bool readable(int fd) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  return ::poll(&p, 1, 5000) == 1;
}

// True when the connection's other end closed it (after waiting for that, 5 s at most): an end
// of stream, or a reset when it closed with bytes left unread.
bool closed_by_other_end(tcp::socket& s) {
  if (!readable(s.native_handle())) return false;
  char c;
  const ssize_t r = ::recv(s.native_handle(), &c, 1, MSG_DONTWAIT);
  return r == 0 || (r < 0 && errno == ECONNRESET);
}

// Connections on 127.0.0.1: the gateway's end in an Upstream, the replica's end beside it.
class Loopback {
 public:
  Loopback() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}

  struct Pair {
    std::unique_ptr<Upstream> up;
    tcp::socket replica;
  };
  Pair connect(std::size_t buffer = 4 * kInitialBuffer) {
    auto up = std::make_unique<Upstream>(io_);
    up->sock.connect(acceptor_.local_endpoint());
    tcp::socket replica(io_);
    acceptor_.accept(replica);
    up->buf.resize(buffer);
    up->len = 5;
    return Pair{std::move(up), std::move(replica)};
  }
  std::shared_ptr<EndpointLoad> load() const {
    return std::make_shared<EndpointLoad>("127.0.0.1", acceptor_.local_endpoint().port());
  }

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_;
};

TEST(UpstreamPool, PoolsAConnectionWithTheInitialBufferOnlyAndHandsItOut) {
  Loopback net;
  BufferBudget budget(std::size_t{1} << 20, nullptr);
  UpstreamPool pool(budget);
  auto load = net.load();
  Pool& p = pool.pool_for(load);
  auto c = net.connect();
  const int fd = c.up->sock.native_handle();

  pool.give_back(std::move(c.up), load.get(), /*draining=*/false);
  EXPECT_EQ(pool.idle_count(load.get()), 1u);
  EXPECT_EQ(budget.held(), kInitialBuffer);  // the gateway's while idle

  auto taken = pool.take_idle(p);
  ASSERT_NE(taken, nullptr);
  EXPECT_EQ(taken->sock.native_handle(), fd);
  EXPECT_TRUE(taken->reused);
  EXPECT_EQ(taken->len, 0u);
  EXPECT_EQ(taken->buf.size(), kInitialBuffer);
  EXPECT_EQ(budget.held(), 0u);  // the taker's from here
  EXPECT_EQ(pool.take_idle(p), nullptr);
}

TEST(UpstreamPool, ClosesWhatMayNotGoBack) {
  struct Row {
    const char* what;
    bool removed = false;
    bool draining = false;
    bool full = false;
    bool no_pool = false;
  };
  for (const Row& row : {
           Row{"the replica is no longer listed", true},
           Row{"the gateway is draining", false, true},
           Row{"the replica's pool is full", false, false, true},
           Row{"the replica has no pool here", false, false, false, true},
       }) {
    SCOPED_TRACE(row.what);
    Loopback net;
    BufferBudget budget(std::size_t{1} << 20, nullptr);
    UpstreamPool pool(budget, /*max_idle_per_endpoint=*/1);
    auto load = net.load();
    if (!row.no_pool) pool.pool_for(load);
    auto first = net.connect();
    if (row.full) pool.give_back(std::move(first.up), load.get(), false);
    const std::size_t idle = pool.idle_count(load.get());
    const std::size_t held = budget.held();
    load->removed = row.removed;

    auto c = net.connect();
    pool.give_back(std::move(c.up), load.get(), row.draining);

    EXPECT_TRUE(closed_by_other_end(c.replica));
    EXPECT_EQ(pool.idle_count(load.get()), idle);
    EXPECT_EQ(budget.held(), held);
  }
}

TEST(UpstreamPool, TakingSkipsConnectionsTheReplicaClosedOrWroteTo) {
  Loopback net;
  BufferBudget budget(std::size_t{1} << 20, nullptr);
  UpstreamPool pool(budget);
  auto load = net.load();
  Pool& p = pool.pool_for(load);
  // Taken last in, first out: the closed one, then the one with stray bytes, then the good one.
  auto good = net.connect();
  auto chatty = net.connect();
  auto closed = net.connect();
  const int good_fd = good.up->sock.native_handle();
  pool.give_back(std::move(good.up), load.get(), false);
  pool.give_back(std::move(chatty.up), load.get(), false);
  pool.give_back(std::move(closed.up), load.get(), false);
  EXPECT_EQ(budget.held(), 3 * kInitialBuffer);

  asio::write(chatty.replica, asio::buffer(std::string("HTTP/1.1 200 OK\r\n")));
  closed.replica.close();
  for (const auto& up : p.idle)
    ASSERT_TRUE(up->sock.native_handle() == good_fd || readable(up->sock.native_handle()));

  auto taken = pool.take_idle(p);
  ASSERT_NE(taken, nullptr);
  EXPECT_EQ(taken->sock.native_handle(), good_fd);
  EXPECT_TRUE(closed_by_other_end(chatty.replica));  // closed before any request went on it
  EXPECT_EQ(pool.idle_count(load.get()), 0u);
  EXPECT_EQ(budget.held(), 0u);
}

TEST(UpstreamPool, PruningForgetsReplicasNoLongerListed) {
  Loopback net;
  BufferBudget budget(std::size_t{1} << 20, nullptr);
  UpstreamPool pool(budget);
  auto kept = net.load();
  auto gone = net.load();
  pool.pool_for(kept);
  pool.pool_for(gone);
  auto a = net.connect();
  auto b = net.connect();
  pool.give_back(std::move(a.up), kept.get(), false);
  pool.give_back(std::move(b.up), gone.get(), false);
  EXPECT_EQ(pool.pool_count(), 2u);

  pool.prune();  // nothing removed yet
  EXPECT_EQ(pool.pool_count(), 2u);

  gone->removed = true;
  pool.prune();
  EXPECT_EQ(pool.pool_count(), 1u);
  EXPECT_EQ(pool.idle_count(gone.get()), 0u);
  EXPECT_EQ(pool.idle_count(kept.get()), 1u);
  EXPECT_EQ(budget.held(), kInitialBuffer);
  EXPECT_TRUE(closed_by_other_end(b.replica));

  pool.close_idle();  // drain: the pools stay, their connections go
  EXPECT_EQ(pool.pool_count(), 1u);
  EXPECT_EQ(budget.held(), 0u);
  EXPECT_TRUE(closed_by_other_end(a.replica));
  pool.clear();
  EXPECT_EQ(pool.pool_count(), 0u);
}

TEST(UpstreamPool, PoolForResolvesTheReplicaOnce) {
  BufferBudget budget(std::size_t{1} << 20, nullptr);
  UpstreamPool pool(budget);
  auto local = std::make_shared<EndpointLoad>("localhost", 8080);
  auto ip = std::make_shared<EndpointLoad>("10.1.2.3", 9000);
  auto name = std::make_shared<EndpointLoad>("replica.svc", 8080);
  Pool& l = pool.pool_for(local);
  EXPECT_TRUE(l.address_ok);
  EXPECT_EQ(l.address, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 8080));
  EXPECT_EQ(&pool.pool_for(local), &l);
  EXPECT_EQ(pool.pool_for(ip).address, tcp::endpoint(asio::ip::make_address("10.1.2.3"), 9000));
  EXPECT_FALSE(pool.pool_for(name).address_ok);
  EXPECT_EQ(pool.pool_count(), 3u);
}

// The rule a session and a late call both apply before giving a connection back.
TEST(UpstreamPool, ReusableAfterAWholeResponseOnly) {
  struct Row {
    const char* what;
    std::string bytes;
    bool reusable;
  };
  const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  for (const Row& row : {
           Row{"whole, keep-alive", ok, true},
           Row{"bytes past the response", ok + "HTTP/1.1 200 OK\r\n", false},
           Row{"the replica closes",
               "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", false},
           Row{"HTTP/1.0 without keep-alive", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
               false},
       }) {
    SCOPED_TRACE(row.what);
    asio::io_context io;
    Upstream up(io);
    up.buf.assign(row.bytes.begin(), row.bytes.end());
    up.len = up.buf.size();
    http::HttpResponseParser resp;
    resp.reset();
    ASSERT_EQ(resp.parse(std::string_view(up.buf.data(), up.len)), http::ResponseState::kComplete);
    EXPECT_EQ(reusable_after(resp, up), row.reusable);
  }
}

}  // namespace
}  // namespace kubefn::gateway
