#include "late_call.hpp"

#include <algorithm>
#include <boost/asio.hpp>
#include <string_view>

namespace kubefn::gateway {

namespace asio = boost::asio;
using boost::system::error_code;
using http::ResponseState;

LateCall::LateCall(Worker& w, std::unique_ptr<Upstream> up, std::shared_ptr<EndpointLoad> load,
                   std::shared_ptr<const FunctionRoute> route, bool slot_held, bool head_request)
    : w_(w),
      core_(w.core),
      up_(std::move(up)),
      load_(std::move(load)),
      route_(std::move(route)),
      slot_held_(slot_held),
      resp_(w.core.options.max_response_body_bytes),
      timer_(w.io) {
  resp_.reset(head_request);
  held_ = up_->buf.size();
  core_.budget.take(held_, true);  // the session gave these bytes back
  core_.metrics.late_calls().Increment();
}

void LateCall::start() {
  timer_.expires_after(route_->timeout);
  timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (!ec) self->finish(false);
  });
  resume(resp_.parse(std::string_view(up_->buf.data(), up_->len)));
}

void LateCall::resume(ResponseState st) {
  if (done_) return;
  switch (st) {
    case ResponseState::kComplete:
      finish(reusable_after(resp_, *up_));
      return;
    case ResponseState::kError:
      finish(false);
      return;
    case ResponseState::kNeedMore:
      break;
  }
  if (up_->len == up_->buf.size()) {
    const std::size_t cap = resp_.max_body_bytes() + std::size_t{128} * 1024;
    const std::size_t next = std::min(cap, up_->buf.size() * 2);
    if (up_->buf.size() >= cap || !core_.budget.take(next - up_->buf.size(), false)) {
      finish(false);
      return;
    }
    held_ += next - up_->buf.size();
    up_->buf.resize(next);
    resp_.reset(resp_.head_request());
  }
  up_->sock.async_read_some(
      asio::buffer(up_->buf.data() + up_->len, up_->buf.size() - up_->len),
      [self = shared_from_this()](const error_code& ec, std::size_t n) {
        if (self->done_) return;
        const std::string_view data(self->up_->buf.data(), self->up_->len + (ec ? 0 : n));
        if (!ec) self->up_->len += n;
        if (ec && ec != asio::error::eof) {
          self->finish(false);
          return;
        }
        self->resume(ec ? self->resp_.finish_at_eof(data) : self->resp_.parse(data));
      });
}

void LateCall::finish(bool reusable) {
  if (done_) return;
  done_ = true;
  error_code ignored;
  timer_.cancel();
  load_->call_ended();
  if (slot_held_) core_.release_slot(route_);
  core_.metrics.late_calls().Decrement();
  core_.budget.give(held_);
  held_ = 0;
  if (reusable) {
    w_.pool.give_back(std::move(up_), load_.get(), core_.draining.load());
  } else {
    up_->sock.close(ignored);
  }
  w_.late_calls.erase(this);
}

}  // namespace kubefn::gateway
