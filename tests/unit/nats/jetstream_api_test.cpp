#include "kubefn/nats/jetstream_api.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace kubefn::nats {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

TEST(ApiErrorFromJson, MapsTheErrorObject) {
  const Status st = api_error_from_json(
      R"({"type":"io.nats.jetstream.api.v1.stream_info_response","error":{"code":404,)"
      R"("err_code":10059,"description":"stream not found"},"total":0})");
  EXPECT_EQ(st.code(), ErrorCode::kJetStream);
  EXPECT_EQ(st.server_code(), 404);
  EXPECT_EQ(st.js_err_code(), 10059);
  EXPECT_EQ(st.message(), "stream not found");
  EXPECT_TRUE(st.is_not_found());

  const Status in_use = api_error_from_json(
      R"({"error":{"code":400,"err_code":10058,"description":"stream name already in use with a different configuration"}})");
  EXPECT_EQ(in_use.server_code(), 400);
  EXPECT_FALSE(in_use.is_not_found());

  EXPECT_TRUE(api_error_from_json(R"({"type":"x","success":true})").ok());
  EXPECT_EQ(api_error_from_json("not json").code(), ErrorCode::kProtocol);
  EXPECT_EQ(api_error_from_json(R"({"error":"boom"})").code(), ErrorCode::kProtocol);
  // An error without a description still says what it is.
  EXPECT_EQ(api_error_from_json(R"({"error":{"code":503}})").message(), "JetStream API error 503");
}

TEST(StreamInfoFromJson, ErrorsComeFirst) {
  auto r = stream_info_from_json(
      R"({"error":{"code":404,"err_code":10059,"description":"stream not found"}})");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().is_not_found());
  EXPECT_EQ(stream_info_from_json(R"({"type":"x"})").status().code(), ErrorCode::kProtocol);
}

TEST(StreamInfoFromJson, ReadsConfigAndState) {
  // A nats-server 2.9.10 answer.
  auto r = stream_info_from_json(
      R"({"type":"io.nats.jetstream.api.v1.stream_create_response","config":{"name":"T",)"
      R"("subjects":["t.\u003e"],"retention":"workqueue","max_consumers":-1,"max_msgs":-1,)"
      R"("max_bytes":-1,"max_age":3600000000000,"max_msgs_per_subject":-1,"max_msg_size":-1,)"
      R"("discard":"old","storage":"memory","num_replicas":1,"duplicate_window":120000000000,)"
      R"("allow_direct":false},"created":"2026-12-02T14:30:21.980223932Z","state":{"messages":5,)"
      R"("bytes":230,"first_seq":1,"first_ts":"x","last_seq":5,"last_ts":"y","consumer_count":2},)"
      R"("did_create":true})");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->config.name, "T");
  EXPECT_EQ(r->config.subjects, std::vector<std::string>{"t.>"});
  EXPECT_EQ(r->config.storage, StorageType::kMemory);
  EXPECT_EQ(r->config.retention, RetentionPolicy::kWorkQueue);
  EXPECT_EQ(r->config.max_age, 1h);
  EXPECT_EQ(r->config.duplicate_window, 2min);
  EXPECT_EQ(r->state.messages, 5u);
  EXPECT_EQ(r->state.last_seq, 5u);
  EXPECT_EQ(r->state.consumer_count, 2);
  EXPECT_EQ(r->created, "2026-12-02T14:30:21.980223932Z");
}

TEST(StreamConfigToJson, WritesWhatTheServerReads) {
  StreamConfig c;
  c.name = "EVENTS";
  c.subjects = {"events.>", "calls.*"};
  c.storage = StorageType::kMemory;
  c.retention = RetentionPolicy::kInterest;
  c.max_age = 24h;
  c.duplicate_window = 30s;
  const auto j = json::parse(stream_config_to_json(c));
  EXPECT_EQ(j["name"], "EVENTS");
  EXPECT_EQ(j["subjects"], json::array({"events.>", "calls.*"}));
  EXPECT_EQ(j["storage"], "memory");
  EXPECT_EQ(j["retention"], "interest");
  EXPECT_EQ(j["discard"], "old");
  EXPECT_EQ(j["max_age"], 86400000000000);
  EXPECT_EQ(j["duplicate_window"], 30000000000);
  EXPECT_EQ(j["max_msgs"], -1);
  EXPECT_FALSE(j.contains("description"));
  c.duplicate_window = 0s;
  EXPECT_FALSE(json::parse(stream_config_to_json(c)).contains("duplicate_window"));
}

TEST(ConsumerCreateRequestJson, WritesADurablePullConsumer) {
  ConsumerConfig c;
  c.durable_name = "dispatcher";
  c.filter_subject = "events.orders";
  c.ack_wait = 30s;
  c.max_deliver = 5;
  c.max_ack_pending = 100;
  c.deliver_policy = DeliverPolicy::kByStartSequence;
  c.opt_start_seq = 42;
  c.backoff = {1s, 5s};
  const auto j = json::parse(consumer_create_request_json("EVENTS", c));
  EXPECT_EQ(j["stream_name"], "EVENTS");
  const auto& config = j["config"];
  EXPECT_EQ(config["durable_name"], "dispatcher");
  EXPECT_EQ(config["filter_subject"], "events.orders");
  EXPECT_EQ(config["ack_policy"], "explicit");
  EXPECT_EQ(config["ack_wait"], 30000000000);
  EXPECT_EQ(config["max_deliver"], 5);
  EXPECT_EQ(config["max_ack_pending"], 100);
  EXPECT_EQ(config["deliver_policy"], "by_start_sequence");
  EXPECT_EQ(config["opt_start_seq"], 42);
  EXPECT_EQ(config["backoff"], json::array({1000000000, 5000000000}));
  EXPECT_FALSE(config.contains("deliver_subject"));  // a pull consumer

  ConsumerConfig defaults;
  defaults.durable_name = "d";
  const auto d = json::parse(consumer_create_request_json("S", defaults))["config"];
  EXPECT_FALSE(d.contains("ack_wait"));
  EXPECT_FALSE(d.contains("max_ack_pending"));
  EXPECT_FALSE(d.contains("filter_subject"));
  EXPECT_FALSE(d.contains("opt_start_seq"));
  EXPECT_EQ(d["deliver_policy"], "all");
}

TEST(ConsumerInfoFromJson, ReadsCountsTheAutoscalerUses) {
  auto r = consumer_info_from_json(
      R"({"type":"io.nats.jetstream.api.v1.consumer_info_response","stream_name":"T","name":"D",)"
      R"("created":"2026-12-02T14:30:22Z","config":{"durable_name":"D","deliver_policy":"all",)"
      R"("ack_policy":"explicit","ack_wait":2000000000,"max_deliver":3,"filter_subject":"t.a",)"
      R"("replay_policy":"instant","max_waiting":512,"max_ack_pending":3,"num_replicas":0},)"
      R"("delivered":{"consumer_seq":9,"stream_seq":5},"ack_floor":{"consumer_seq":4,"stream_seq":2},)"
      R"("num_ack_pending":3,"num_redelivered":2,"num_waiting":1,"num_pending":7})");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->stream_name, "T");
  EXPECT_EQ(r->name, "D");
  EXPECT_EQ(r->config.ack_wait, 2s);
  EXPECT_EQ(r->config.max_deliver, 3);
  EXPECT_EQ(r->config.filter_subject, "t.a");
  EXPECT_EQ(r->config.max_ack_pending, 3);
  EXPECT_EQ(r->delivered.consumer_seq, 9u);
  EXPECT_EQ(r->delivered.stream_seq, 5u);
  EXPECT_EQ(r->ack_floor.stream_seq, 2u);
  EXPECT_EQ(r->num_ack_pending, 3);
  EXPECT_EQ(r->num_redelivered, 2);
  EXPECT_EQ(r->num_waiting, 1);
  EXPECT_EQ(r->num_pending, 7u);
  EXPECT_EQ(r->backlog(), 10u);

  auto missing = consumer_info_from_json(
      R"({"error":{"code":404,"err_code":10014,"description":"consumer not found"}})");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.status().is_not_found());
  EXPECT_EQ(missing.status().js_err_code(), 10014);
}

TEST(PubAckFromJson, ReadsSequenceAndDuplicate) {
  auto ack = pub_ack_from_json(R"({"stream":"T", "seq":1})");
  ASSERT_TRUE(ack.ok()) << ack.status().to_string();
  EXPECT_EQ(ack->stream, "T");
  EXPECT_EQ(ack->seq, 1u);
  EXPECT_FALSE(ack->duplicate);
  auto dup = pub_ack_from_json(R"({"stream":"T","seq":1,"duplicate":true})");
  ASSERT_TRUE(dup.ok());
  EXPECT_TRUE(dup->duplicate);
  auto refused = pub_ack_from_json(
      R"({"error":{"code":400,"err_code":10060,"description":"expected stream does not match"}})");
  EXPECT_EQ(refused.status().code(), ErrorCode::kJetStream);
  EXPECT_EQ(refused.status().js_err_code(), 10060);
  EXPECT_EQ(pub_ack_from_json("").status().code(), ErrorCode::kProtocol);
  EXPECT_EQ(pub_ack_from_json(R"({"seq":3})").status().code(), ErrorCode::kProtocol);
}

TEST(StoredMessageFromJson, DecodesDataAndHeaders) {
  // "NATS/1.0\r\nStatus: done\r\n\r\n" and "m1".
  auto r = stored_message_from_json(
      R"({"type":"io.nats.jetstream.api.v1.stream_msg_get_response","message":{"subject":"t.a",)"
      R"("seq":2,"hdrs":"TkFUUy8xLjANClN0YXR1czogZG9uZQ0KDQo=","data":"bTE=",)"
      R"("time":"2026-12-02T14:31:04.367917506Z"}})");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->subject, "t.a");
  EXPECT_EQ(r->seq, 2u);
  EXPECT_EQ(r->data, "m1");
  EXPECT_EQ(r->headers.get("status"), "done");
  auto none = stored_message_from_json(
      R"({"error":{"code":404,"err_code":10037,"description":"no message found"}})");
  EXPECT_TRUE(none.status().is_not_found());
  EXPECT_EQ(
      stored_message_from_json(R"({"message":{"subject":"a","data":"!!!!"}})").status().code(),
      ErrorCode::kProtocol);
}

TEST(Base64Decode, Table) {
  struct Case {
    const char* in;
    bool ok;
    const char* out;
  };
  const Case cases[] = {
      {"", true, ""},
      {"bTE=", true, "m1"},
      {"aGVsbG8=", true, "hello"},
      {"aGVsbA==", true, "hell"},
      {"aGVs", true, "hel"},
      {"aGV", false, ""},
      {"a===", false, ""},
      {"aG=s", false, ""},
      {"aGVs!A==", false, ""},
      {"aGVs\nbA==", false, ""},
      {"=GVs", false, ""},
  };
  for (const auto& c : cases) {
    auto r = base64_decode(c.in);
    EXPECT_EQ(r.ok(), c.ok) << c.in;
    if (c.ok && r.ok()) {
      EXPECT_EQ(*r, c.out) << c.in;
    }
  }
}

TEST(PullRequestJson, BatchAndExpiresInNanoseconds) {
  const auto j = json::parse(pull_request_json(10, 500ms));
  EXPECT_EQ(j["batch"], 10);
  EXPECT_EQ(j["expires"], 500000000);
  EXPECT_FALSE(j.contains("no_wait"));
}

TEST(ValidateApiName, Table) {
  for (const char* bad : {"", "a.b", "a*", "a>", "a b", "a/b", "a\tb"})
    EXPECT_EQ(validate_api_name("stream", bad).code(), ErrorCode::kInvalidArgument) << bad;
  for (const char* good : {"ORDERS", "fn-calls_1", "KV_status"})
    EXPECT_TRUE(validate_api_name("stream", good).ok()) << good;
}

}  // namespace
}  // namespace kubefn::nats
