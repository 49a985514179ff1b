#include "kubefn/kafka/producer.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "rdkafka.hpp"

namespace kubefn::kafka {
namespace {

using namespace detail;  // NOLINT(google-build-using-namespace): the module's own wrappers

// One produce() call waiting for its delivery report.
struct Delivery {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Status status;
  DeliveryReport report;
};

class KafkaProducer final : public Producer {
 public:
  explicit KafkaProducer(ClientEvents* events) : events_(events) {}
  ~KafkaProducer() override;
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  Status init(const ProducerConfig& config);
  Result<DeliveryReport> produce(const OutgoingMessage& message) override;
  Status flush(std::chrono::milliseconds timeout) override;

 private:
  static void delivery_cb(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);
  static void error_cb(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  static void log_cb(const rd_kafka_t* rk, int level, const char* facility, const char* text);
  Status fatal_error() const;

  ClientEvents* const events_;
  HandlePtr rk_;
  std::atomic<bool> stop_{false};
  std::thread poller_;  // serves delivery reports and errors
};

KafkaProducer::~KafkaProducer() {
  stop_ = true;
  if (poller_.joinable()) poller_.join();
  rk_.reset();
}

Status KafkaProducer::init(const ProducerConfig& config) {
  auto properties = producer_properties(config);
  if (!properties.ok()) return properties.status();
  auto conf = make_conf(*properties);
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_opaque(conf->get(), this);
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &KafkaProducer::delivery_cb);
  if (events_ != nullptr) {
    rd_kafka_conf_set_error_cb(conf->get(), &KafkaProducer::error_cb);
    rd_kafka_conf_set_log_cb(conf->get(), &KafkaProducer::log_cb);
  }
  auto handle = make_handle(RD_KAFKA_PRODUCER, std::move(conf).value());
  if (!handle.ok()) return handle.status();
  rk_ = std::move(handle).value();
  poller_ = std::thread([this] {
    while (!stop_)
      rd_kafka_poll(rk_.get(), 100);
  });
  return {};
}

void KafkaProducer::delivery_cb(rd_kafka_t* rk, const rd_kafka_message_t* m, void*) {
  auto* delivery = static_cast<Delivery*>(m->_private);
  Status status;
  if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
    char fatal[512] = "";
    rd_kafka_fatal_error(rk, fatal, sizeof fatal);
    status =
        status_from(m->err, "deliver to '" + std::string(rd_kafka_topic_name(m->rkt)) + "'", fatal);
  } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    status = status_from(m->err, "deliver to '" + std::string(rd_kafka_topic_name(m->rkt)) + "'");
  }
  DeliveryReport report;
  report.partition = m->partition;
  report.offset = m->offset;
  const std::int64_t ms = rd_kafka_message_timestamp(m, nullptr);
  if (ms >= 0)
    report.timestamp = std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
  // Notified under the lock: the waiter owns `delivery` and may free it once it sees done.
  std::lock_guard lock(delivery->mu);
  delivery->status = std::move(status);
  delivery->report = report;
  delivery->done = true;
  delivery->cv.notify_all();
}

void KafkaProducer::error_cb(rd_kafka_t*, int err, const char* reason, void* opaque) {
  auto* self = static_cast<KafkaProducer*>(opaque);
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  Status status = code == RD_KAFKA_RESP_ERR__FATAL ? self->fatal_error()
                                                   : status_from(code, "Kafka producer", reason);
  if (self->events_ != nullptr && !status.ok()) self->events_->on_error(status);
}

void KafkaProducer::log_cb(const rd_kafka_t* rk, int level, const char* facility,
                           const char* text) {
  auto* self = static_cast<KafkaProducer*>(rd_kafka_opaque(rk));
  if (self != nullptr && self->events_ != nullptr) self->events_->on_log(level, facility, text);
}

Status KafkaProducer::fatal_error() const {
  char reason[512] = "";
  const auto cause = rd_kafka_fatal_error(rk_.get(), reason, sizeof reason);
  if (cause == RD_KAFKA_RESP_ERR_NO_ERROR) return {};
  return status_from(RD_KAFKA_RESP_ERR__FATAL, "Kafka producer",
                     std::string(rd_kafka_err2name(cause)) + ": " + reason);
}

Result<DeliveryReport> KafkaProducer::produce(const OutgoingMessage& message) {
  if (message.topic.empty()) return Status(ErrorCode::kInvalidArgument, "produce: no topic given");
  if (Status s = fatal_error(); !s.ok()) return s;
  HeadersPtr headers(rd_kafka_headers_new(message.headers.size()));
  for (const auto& h : message.headers) {
    rd_kafka_header_add(headers.get(), h.key.data(), static_cast<ssize_t>(h.key.size()),
                        h.value.data(), static_cast<ssize_t>(h.value.size()));
  }
  Delivery delivery;
  const void* key = message.key ? message.key->data() : nullptr;
  const size_t key_size = message.key ? message.key->size() : 0;
  const auto err = rd_kafka_producev(
      rk_.get(), RD_KAFKA_V_TOPIC(message.topic.c_str()),
      RD_KAFKA_V_PARTITION(message.partition.value_or(RD_KAFKA_PARTITION_UA)),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_VALUE(const_cast<char*>(message.value.data()), message.value.size()),
      RD_KAFKA_V_KEY(key, key_size), RD_KAFKA_V_HEADERS(headers.get()),
      RD_KAFKA_V_OPAQUE(&delivery), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return status_from(err, "produce to '" + message.topic + "'");
  (void)headers.release();  // the record owns them now
  // librdkafka reports every record, at the latest when message.timeout.ms has passed.
  std::unique_lock lock(delivery.mu);
  delivery.cv.wait(lock, [&] { return delivery.done; });
  if (!delivery.status.ok()) return delivery.status;
  return delivery.report;
}

Status KafkaProducer::flush(std::chrono::milliseconds timeout) {
  return status_from(rd_kafka_flush(rk_.get(), static_cast<int>(timeout.count())),
                     "flush the producer");
}

}  // namespace

Result<std::unique_ptr<Producer>> make_producer(const ProducerConfig& config,
                                                ClientEvents* events) {
  auto producer = std::make_unique<KafkaProducer>(events);
  if (Status s = producer->init(config); !s.ok()) return s;
  return std::unique_ptr<Producer>(std::move(producer));
}

}  // namespace kubefn::kafka
