#include "upstream_pool.hpp"

#include <sys/socket.h>

#include <boost/asio/ip/address.hpp>
#include <cerrno>
#include <string>

namespace kubefn::gateway {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

Pool& UpstreamPool::pool_for(const std::shared_ptr<EndpointLoad>& load) {
  auto [it, inserted] = pools_.try_emplace(load.get());
  Pool& p = it->second;
  if (inserted) {
    p.load = load;
    error_code ec;
    std::string host = load->host == "localhost" ? "127.0.0.1" : load->host;
    auto addr = asio::ip::make_address(host, ec);
    p.address_ok = !ec;
    if (!ec) p.address = tcp::endpoint(addr, load->port);
  }
  return p;
}

std::unique_ptr<Upstream> UpstreamPool::take_idle(Pool& pool) {
  while (!pool.idle.empty()) {
    std::unique_ptr<Upstream> c = std::move(pool.idle.back());
    pool.idle.pop_back();
    budget_.give(c->buf.size());  // the taker counts it from here
    // Nothing to read and no end of stream: the replica still keeps it open, and quiet.
    char probe;
    ssize_t r = ::recv(c->sock.native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      c->reused = true;
      c->len = 0;
      return c;
    }
    error_code ignored;
    c->sock.close(ignored);  // closed (r == 0), reset, or unexpected bytes
  }
  return nullptr;
}

void UpstreamPool::give_back(std::unique_ptr<Upstream> up, const EndpointLoad* key, bool draining) {
  auto it = pools_.find(key);
  if (it != pools_.end() && !it->second.load->removed.load(std::memory_order_relaxed) &&
      it->second.idle.size() < max_idle_ && !draining) {
    up->len = 0;
    // An idle connection keeps the initial buffer only, counted as the gateway's.
    if (up->buf.size() != kInitialBuffer) std::vector<char>(kInitialBuffer).swap(up->buf);
    budget_.take(up->buf.size(), true);
    it->second.idle.push_back(std::move(up));
    return;
  }
  error_code ignored;
  up->sock.close(ignored);
}

void UpstreamPool::prune() {
  for (auto it = pools_.begin(); it != pools_.end();) {
    if (it->second.load->removed.load(std::memory_order_relaxed)) {
      close_idle(it->second);
      it = pools_.erase(it);
    } else {
      ++it;
    }
  }
}

void UpstreamPool::close_idle() {
  for (auto& [key, pool] : pools_)
    close_idle(pool);
}

void UpstreamPool::clear() {
  close_idle();
  pools_.clear();
}

std::size_t UpstreamPool::idle_count(const EndpointLoad* key) const {
  auto it = pools_.find(key);
  return it == pools_.end() ? 0 : it->second.idle.size();
}

void UpstreamPool::close_idle(Pool& pool) {
  for (auto& c : pool.idle) {
    error_code ignored;
    c->sock.close(ignored);
    budget_.give(c->buf.size());
  }
  pool.idle.clear();
}

}  // namespace kubefn::gateway
