#include "kubefn/triggers/trigger_spec.hpp"

#include <gtest/gtest.h>

namespace kubefn::triggers {
namespace {

using nlohmann::json;

std::string error_of(const json& triggers) {
  auto r = parse_triggers(&triggers, "shop", "orders");
  if (auto* e = std::get_if<TriggerError>(&r)) return e->message;
  return {};
}

Triggers ok(const json& triggers) {
  auto r = parse_triggers(&triggers, "shop", "orders");
  EXPECT_TRUE(std::holds_alternative<Triggers>(r)) << error_of(triggers);
  return std::holds_alternative<Triggers>(r) ? std::get<Triggers>(r) : Triggers{};
}

struct BadCase {
  const char* name;
  json triggers;
  const char* says;  // a part of the message
};

TEST(TriggerSpec, BadTriggersNameTheFieldAndTheFix) {
  const std::vector<BadCase> cases = {
      {"not an object", json::array(), "spec.triggers must be an object"},
      {"schedules not a list",
       {{"schedules", json::object()}},
       "spec.triggers.schedules must be a list"},
      {"no name",
       {{"schedules", {{{"schedule", "@hourly"}}}}},
       "spec.triggers.schedules[0].name is required"},
      {"bad name",
       {{"schedules", {{{"name", "Nightly"}, {"schedule", "@hourly"}}}}},
       "lower-case DNS label"},
      {"the platform's own name",
       {{"nats", {{{"name", "async"}, {"url", "nats://h:4222"}, {"stream", "S"}}}}},
       "spec.triggers.nats[0].name \"async\" is the platform's own"},
      {"no schedule",
       {{"schedules", {{{"name", "a"}}}}},
       "spec.triggers.schedules[0].schedule is required"},
      {"bad minute",
       {{"schedules", {{{"name", "a"}, {"schedule", "61 * * * *"}}}}},
       "spec.triggers.schedules[0]: minute field"},
      {"bad zone",
       {{"schedules", {{{"name", "a"}, {"schedule", "@daily"}, {"timeZone", "Mars/Olympus"}}}}},
       "Mars/Olympus"},
      {"bad policy",
       {{"schedules", {{{"name", "a"}, {"schedule", "@daily"}, {"concurrencyPolicy", "forbid"}}}}},
       "concurrencyPolicy \"forbid\""},
      {"deadline 0",
       {{"schedules", {{{"name", "a"}, {"schedule", "@daily"}, {"startingDeadlineSeconds", 0}}}}},
       "startingDeadlineSeconds is 0"},
      {"duplicate names",
       {{"schedules", {{{"name", "a"}, {"schedule", "@daily"}}}},
        {"nats", {{{"name", "a"}, {"url", "nats://n:4222"}, {"stream", "S"}}}}},
       "spec.triggers.nats[0].name \"a\" is taken"},
      {"retries",
       {{"schedules", {{{"name", "a"}, {"schedule", "@daily"}, {"maxRetries", 101}}}}},
       "maxRetries is 101"},
      {"backoff",
       {{"schedules", {{{"name", "a"}, {"schedule", "@daily"}, {"retryBackoff", "soon"}}}}},
       "retryBackoff \"soon\" is not a duration"},
      {"backoff order",
       {{"schedules",
         {{{"name", "a"},
           {"schedule", "@daily"},
           {"retryBackoff", "2m"},
           {"maxRetryBackoff", "1m"}}}}},
       "maxRetryBackoff must not be shorter"},
      {"nats no server", {{"nats", {{{"name", "a"}, {"stream", "S"}}}}}, "needs the server"},
      {"nats url scheme",
       {{"nats", {{{"name", "a"}, {"url", "http://x"}, {"stream", "S"}}}}},
       "must start with nats://"},
      {"nats no stream",
       {{"nats", {{{"name", "a"}, {"url", "nats://n:4222"}}}}},
       "stream is required"},
      {"nats stream name",
       {{"nats", {{{"name", "a"}, {"url", "nats://n:4222"}, {"stream", "A.B"}}}}},
       "stream \"A.B\""},
      {"nats subject",
       {{"nats",
         {{{"name", "a"}, {"url", "nats://n:4222"}, {"stream", "S"}, {"subject", "a..b"}}}}},
       "not a NATS subject"},
      {"nats dlq wildcard",
       {{"nats",
         {{{"name", "a"},
           {"url", "nats://n:4222"},
           {"stream", "S"},
           {"deadLetterSubject", "dlq.*"}}}}},
       "without wildcards"},
      {"kafka no brokers", {{"kafka", {{{"name", "a"}, {"topic", "t"}}}}}, "needs the brokers"},
      {"kafka topic",
       {{"kafka", {{{"name", "a"}, {"bootstrapServers", "k:9092"}, {"topic", "a b"}}}}},
       "not a Kafka topic name"},
      {"kafka dlq same",
       {{"kafka",
         {{{"name", "a"},
           {"bootstrapServers", "k:9092"},
           {"topic", "t"},
           {"deadLetterTopic", "t"}}}}},
       "must not be the trigger's own topic"},
      {"kafka in flight",
       {{"kafka",
         {{{"name", "a"},
           {"bootstrapServers", "k:9092"},
           {"topic", "t"},
           {"inFlightPerPartition", 0}}}}},
       "inFlightPerPartition is 0"},
  };
  for (const auto& c : cases) {
    const std::string e = error_of(c.triggers);
    EXPECT_NE(e.find(c.says), std::string::npos) << c.name << ": got \"" << e << "\"";
  }
}

TEST(TriggerSpec, NoTriggersIsEmpty) {
  EXPECT_TRUE(std::get<Triggers>(parse_triggers(nullptr, "a", "b")).empty());
  EXPECT_TRUE(ok(json{{"http", {{"path", "/x"}}}}).empty());
}

TEST(TriggerSpec, ScheduleFieldsAndDefaults) {
  const Triggers t = ok({{"schedules",
                          {{{"name", "nightly"},
                            {"schedule", "0 3 * * *"},
                            {"timeZone", "Europe/Berlin"},
                            {"payload", {{"report", "daily"}}},
                            {"concurrencyPolicy", "Forbid"},
                            {"startingDeadlineSeconds", 300},
                            {"maxRetries", 5},
                            {"retryBackoff", "500ms"},
                            {"maxRetryBackoff", "10s"}},
                           {{"name", "tick"}, {"schedule", "@every 30s"}}}}});
  ASSERT_EQ(t.schedules.size(), 2u);
  const ScheduleTrigger& a = t.schedules[0];
  EXPECT_EQ(a.time_zone, "Europe/Berlin");
  EXPECT_EQ(a.payload->dump(), R"({"report":"daily"})");
  EXPECT_EQ(a.concurrency, ConcurrencyPolicy::kForbid);
  EXPECT_EQ(a.starting_deadline_seconds, 300);
  EXPECT_EQ(a.retry.max_retries, 5);
  EXPECT_EQ(a.retry.backoff, std::chrono::milliseconds(500));
  EXPECT_EQ(a.retry.max_backoff, std::chrono::seconds(10));
  const ScheduleTrigger& b = t.schedules[1];
  EXPECT_FALSE(b.payload.has_value());
  EXPECT_EQ(b.concurrency, ConcurrencyPolicy::kAllow);
  EXPECT_EQ(b.retry.max_retries, 3);
  EXPECT_EQ(b.retry.backoff, std::chrono::seconds(1));
  EXPECT_EQ(b.retry.max_backoff, std::chrono::seconds(60));
}

TEST(TriggerSpec, QueueDefaultsNameConsumersGroupsAndDeadLetters) {
  const Triggers t =
      ok({{"nats",
           {{{"name", "created"},
             {"url", "nats://n:4222"},
             {"stream", "ORDERS"},
             {"subject", "orders.>"}}}},
          {"kafka", {{{"name", "clicks"}, {"bootstrapServers", "k:9092"}, {"topic", "clicks"}}}}});
  ASSERT_EQ(t.nats.size(), 1u);
  EXPECT_EQ(t.nats[0].consumer, "kubefn-shop-orders-created");
  EXPECT_EQ(t.nats[0].dead_letter_subject, "kubefn.deadletter.shop.orders.created");
  EXPECT_EQ(t.nats[0].max_in_flight, 0);
  ASSERT_EQ(t.kafka.size(), 1u);
  EXPECT_EQ(t.kafka[0].consumer_group, "kubefn-shop-orders-clicks");
  EXPECT_EQ(t.kafka[0].dead_letter_topic, "clicks.deadletter");
  EXPECT_EQ(t.kafka[0].in_flight_per_partition, 1);
}

TEST(TriggerSpec, Durations) {
  EXPECT_EQ(parse_duration("1m30s"), std::chrono::seconds(90));
  EXPECT_EQ(parse_duration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(parse_duration("1.5h"), std::chrono::minutes(90));
  EXPECT_FALSE(parse_duration("").has_value());
  EXPECT_FALSE(parse_duration("10").has_value());
  EXPECT_FALSE(parse_duration("ten seconds").has_value());
}

}  // namespace
}  // namespace kubefn::triggers
