// librdkafka's C API behind small RAII handles, and the one place its errors become Statuses.
// Private to the module: no public header includes librdkafka.
#pragma once

#include <librdkafka/rdkafka.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kubefn/kafka/config.hpp"
#include "kubefn/kafka/message.hpp"
#include "kubefn/kafka/status.hpp"
#include "kubefn/kafka/topic_partition.hpp"

namespace kubefn::kafka::detail {

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct ListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
struct TopicDeleter {
  void operator()(rd_kafka_topic_t* t) const { rd_kafka_topic_destroy(t); }
};
struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* m) const { rd_kafka_metadata_destroy(m); }
};
struct ErrorDeleter {
  void operator()(rd_kafka_error_t* e) const { rd_kafka_error_destroy(e); }
};
struct HeadersDeleter {
  void operator()(rd_kafka_headers_t* h) const { rd_kafka_headers_destroy(h); }
};
struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};

using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;
using HandlePtr = std::unique_ptr<rd_kafka_t, HandleDeleter>;
using ListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, ListDeleter>;
using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;
using TopicPtr = std::unique_ptr<rd_kafka_topic_t, TopicDeleter>;
using MetadataPtr = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;
using ErrorPtr = std::unique_ptr<rd_kafka_error_t, ErrorDeleter>;
using HeadersPtr = std::unique_ptr<rd_kafka_headers_t, HeadersDeleter>;
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;

// A configuration holding `properties`; kInvalidConfig naming the property librdkafka refused.
Result<ConfPtr> make_conf(const Properties& properties);
// rd_kafka_new, taking `conf` on success; kInvalidConfig with librdkafka's reason otherwise.
Result<HandlePtr> make_handle(rd_kafka_type_t type, ConfPtr conf);

// `what` was being done ("commit orders[0]@12"); `detail` replaces librdkafka's text for the
// code when it has a better one (an error string of the event).
Status status_from(rd_kafka_resp_err_t err, std::string_view what, std::string_view detail = {});
Status status_from(const rd_kafka_error_t* error, std::string_view what);
ErrorCode code_of(rd_kafka_resp_err_t err);

ListPtr to_list(const std::vector<TopicPartition>& partitions);
ListPtr to_list(const std::vector<PartitionOffset>& offsets);
std::vector<TopicPartition> partitions_of(const rd_kafka_topic_partition_list_t* list);
// The partitions of `list` with no error, with their offsets.
std::vector<PartitionOffset> offsets_of(const rd_kafka_topic_partition_list_t* list);
// The first partition error of `list`, success when none.
Status first_error(const rd_kafka_topic_partition_list_t* list, std::string_view what);

Message to_message(const rd_kafka_message_t* m);

}  // namespace kubefn::kafka::detail
