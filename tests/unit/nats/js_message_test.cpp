#include "kubefn/nats/js_message.hpp"

#include <gtest/gtest.h>

namespace kubefn::nats {
namespace {

TEST(ParseAckSubject, RejectsWhatIsNotAnAckSubject) {
  for (const char* bad : {
           "", "_INBOX.abc.1", "$JS.API.CONSUMER.INFO.S.C", "$JS.ACK", "$JS.ACK.S.C.1.2.3.4",
           "$JS.ACK.S.C.1.2.3.4.5.6",             // 10 tokens: neither form
           "$JS.ACK.S.C.x.2.3.4.5",               // a counter that is not a number
           "$JS.ACK.S.C.1.2.3.4.-5",              // nor negative
           "$JS.ACK..C.1.2.3.4.5",                // no stream
           "$JS.ACK.D.ACC.S.C.1.2.3.4.five.tok",  // the new form, a bad counter
       }) {
    auto r = parse_ack_subject(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << bad;
  }
}

TEST(ParseAckSubject, ReadsTheOldForm) {
  // As nats-server 2.9.10 sends it.
  auto r = parse_ack_subject("$JS.ACK.ORDERS.dispatcher.2.17.5.1796221864367917506.3");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->domain, "");
  EXPECT_EQ(r->account_hash, "");
  EXPECT_EQ(r->stream, "ORDERS");
  EXPECT_EQ(r->consumer, "dispatcher");
  EXPECT_EQ(r->num_delivered, 2u);
  EXPECT_EQ(r->stream_sequence, 17u);
  EXPECT_EQ(r->consumer_sequence, 5u);
  EXPECT_EQ(r->timestamp_ns, 1796221864367917506);
  EXPECT_EQ(r->num_pending, 3u);
  EXPECT_EQ(
      std::chrono::duration_cast<std::chrono::seconds>(r->timestamp().time_since_epoch()).count(),
      1796221864);
}

TEST(ParseAckSubject, ReadsTheNewFormWithAndWithoutADomain) {
  auto r =
      parse_ack_subject("$JS.ACK.hub.ACCHASH.ORDERS.dispatcher.1.100.90.1700000000000000000.0.rnd");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->domain, "hub");
  EXPECT_EQ(r->account_hash, "ACCHASH");
  EXPECT_EQ(r->stream, "ORDERS");
  EXPECT_EQ(r->consumer, "dispatcher");
  EXPECT_EQ(r->num_delivered, 1u);
  EXPECT_EQ(r->stream_sequence, 100u);
  EXPECT_EQ(r->consumer_sequence, 90u);
  EXPECT_EQ(r->num_pending, 0u);

  auto no_domain = parse_ack_subject("$JS.ACK._.ACC.S.C.3.4.5.6.7.tok");
  ASSERT_TRUE(no_domain.ok());
  EXPECT_EQ(no_domain->domain, "");
  EXPECT_EQ(no_domain->num_delivered, 3u);
  EXPECT_EQ(no_domain->num_pending, 7u);

  // 11 tokens (no trailing random token) and more than 12 are read as the new form too.
  EXPECT_TRUE(parse_ack_subject("$JS.ACK._.ACC.S.C.3.4.5.6.7").ok());
  EXPECT_TRUE(parse_ack_subject("$JS.ACK._.ACC.S.C.3.4.5.6.7.tok.more").ok());
}

}  // namespace
}  // namespace kubefn::nats
