#include "kubefn/async/call_store.hpp"

#include <ctime>
#include <fstream>

namespace kubefn::async {
namespace {

std::string rfc3339_ms(std::chrono::system_clock::time_point t) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

}  // namespace

std::optional<QueueCredentials> read_queue_credentials(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
    line.pop_back();
  QueueCredentials c;
  if (const auto colon = line.find(':'); colon != std::string::npos) {
    c.user = line.substr(0, colon);
    c.password = line.substr(colon + 1);
  } else {
    c.token = line;
  }
  return c;
}

CallStore::CallStore(const nats::Connection& connection, std::chrono::milliseconds timeout)
    : js_(connection, [&] {
        nats::JetStreamOptions o;
        o.timeout = timeout;
        return o;
      }()) {}

nats::Status CallStore::ensure_streams() {
  for (const nats::StreamConfig& c :
       {call_stream_config(), state_stream_config(), dead_letter_stream_config()}) {
    auto info = js_.stream_info(c.name);
    if (info.ok()) continue;
    if (!info.status().is_not_found()) return info.status();
    auto made = js_.create_or_update_stream(c);
    if (!made.ok()) return made.status();
  }
  return {};
}

nats::Status CallStore::enqueue(const Call& call) {
  nats::PublishOptions o;
  o.msg_id = call.id;
  o.expected_stream = std::string(kCallStream);
  auto ack = js_.publish(to_message(call), o);
  return ack.ok() ? nats::Status() : ack.status();
}

std::string CallStore::time_text(std::chrono::system_clock::time_point t) {
  return rfc3339_ms(t);
}

nats::Status CallStore::write_state(const CallState& state) {
  auto ack = js_.publish(state_subject(state.ns, state.function, state.id), to_json(state).dump());
  return ack.ok() ? nats::Status() : ack.status();
}

nats::Result<CallState> CallStore::state(const std::string& ns, const std::string& function,
                                         const std::string& id) {
  auto m = js_.get_last_message(kStateStream, state_subject(ns, function, id));
  if (m.ok()) return state_from_json(m.value().data);
  if (!m.status().is_not_found()) return m.status();
  // No attempt yet: the call in the queue is its state (the dispatcher writes `running`
  // before a call can leave the queue, so a call is always in one place or the other).
  auto queued = js_.get_last_message(kCallStream, call_subject(ns, function, id));
  if (!queued.ok()) return queued.status();
  nats::Message message;
  message.subject = queued.value().subject;
  message.headers = queued.value().headers;
  message.data = queued.value().data;
  auto call = from_message(message);
  if (!call.ok()) return nats::Status(nats::ErrorCode::kProtocol, call.status().message());
  CallState s;
  s.id = call.value().id;
  s.ns = call.value().ns;
  s.function = call.value().function;
  s.state = State::kQueued;
  s.queued_at = time_text(call.value().queued_at);
  s.callback_url = call.value().callback_url;
  return s;
}

CallFront::CallFront(CallFrontOptions options) : options_(std::move(options)) {
  const int n = std::max(1, options_.threads);
  for (int i = 0; i < n; ++i)
    threads_.emplace_back([this] { run(); });
}

CallFront::~CallFront() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_)
    t.join();
  store_.reset();
  if (connection_) connection_->close();
}

std::int64_t CallFront::max_payload() const {
  return max_payload_.load();
}

void CallFront::run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping, nothing left
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

void CallFront::submit(std::function<void()> task, std::function<void()> refuse) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_ && tasks_.size() < options_.max_waiting) {
      tasks_.push_back(std::move(task));
      cv_.notify_one();
      return;
    }
  }
  refuse();
}

nats::Result<CallStore*> CallFront::store() {
  std::lock_guard<std::mutex> lock(connect_mu_);
  if (connection_ && connection_->state() == nats::ConnectionState::kClosed) {
    store_.reset();
    connection_.reset();
  }
  if (!connection_ && !failure_.ok() &&
      std::chrono::steady_clock::now() - failed_at_ < std::chrono::seconds(1)) {
    return failure_;
  }
  if (!connection_) {
    nats::Options o;
    o.url = options_.url;
    o.user = options_.user;
    o.password = options_.password;
    o.token = options_.token;
    o.name = options_.name;
    o.connect_timeout = std::min(options_.timeout, std::chrono::milliseconds(2000));
    auto c = nats::Connection::connect(o);
    if (!c.ok()) {
      failure_ = c.status();
      failed_at_ = std::chrono::steady_clock::now();
      return c.status();
    }
    failure_ = nats::Status();
    connection_.emplace(std::move(c).value());
    max_payload_ = connection_->max_payload();
  }
  if (!store_) {
    auto s = std::make_unique<CallStore>(*connection_, options_.timeout);
    if (nats::Status st = s->ensure_streams(); !st.ok()) return st;
    store_ = std::move(s);
  }
  return store_.get();
}

void CallFront::enqueue(Call call, std::function<void(nats::Status)> done) {
  auto shared = std::make_shared<std::function<void(nats::Status)>>(std::move(done));
  submit(
      [this, call = std::move(call), shared] {
        auto s = store();
        if (!s.ok()) {
          (*shared)(s.status());
          return;
        }
        (*shared)(s.value()->enqueue(call));
      },
      [shared] {
        (*shared)(nats::Status(nats::ErrorCode::kDisconnected,
                               "too many asynchronous calls waiting to be queued"));
      });
}

void CallFront::lookup(std::string ns, std::string function, std::string id,
                       std::function<void(nats::Result<CallState>)> done) {
  auto shared = std::make_shared<std::function<void(nats::Result<CallState>)>>(std::move(done));
  submit(
      [this, ns = std::move(ns), function = std::move(function), id = std::move(id), shared] {
        auto s = store();
        if (!s.ok()) {
          (*shared)(s.status());
          return;
        }
        (*shared)(s.value()->state(ns, function, id));
      },
      [shared] {
        (*shared)(nats::Status(nats::ErrorCode::kDisconnected,
                               "too many asynchronous call lookups waiting"));
      });
}

}  // namespace kubefn::async
