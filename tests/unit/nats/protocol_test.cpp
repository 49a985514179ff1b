#include "kubefn/nats/protocol.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace kubefn::nats {
namespace {

using Kind = ServerOp::Kind;

// Feeds `bytes` in pieces of `piece` bytes and returns every operation parsed.
std::vector<ServerOp> parse_all(std::string_view bytes, std::size_t piece,
                                Status* status = nullptr) {
  ProtocolParser parser;
  std::vector<ServerOp> out;
  Status st;
  for (std::size_t i = 0; i < bytes.size() && st.ok(); i += piece)
    st = parser.feed(bytes.substr(i, piece), out);
  if (status != nullptr) *status = st;
  return out;
}

TEST(ParseInfo, RejectsWhatIsNotAnObject) {
  for (const char* bad : {"", "nope", "[1]", "{\"max_payload\":0}", "{\"max_payload\":-5}"}) {
    auto r = parse_info(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), ErrorCode::kProtocol) << bad;
  }
}

TEST(ParseInfo, ReadsTheFieldsTheClientUses) {
  // As nats-server 2.9.10 sends it.
  auto r = parse_info(
      R"({"server_id":"NCD5","server_name":"n1","version":"2.9.10","proto":1,"go":"go1.19.8",)"
      R"("host":"127.0.0.1","port":35229,"headers":true,"max_payload":1048576,"jetstream":true,)"
      R"("client_id":4,"client_ip":"127.0.0.1","auth_required":true,)"
      R"("connect_urls":["10.0.0.1:4222","10.0.0.2:4222"]})");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->server_id, "NCD5");
  EXPECT_EQ(r->version, "2.9.10");
  EXPECT_EQ(r->proto, 1);
  EXPECT_TRUE(r->headers);
  EXPECT_TRUE(r->jetstream);
  EXPECT_TRUE(r->auth_required);
  EXPECT_FALSE(r->tls_required);
  EXPECT_EQ(r->max_payload, 1048576);
  EXPECT_EQ(r->client_id, 4u);
  EXPECT_EQ(r->connect_urls.size(), 2u);
}

TEST(ParseInfo, IgnoresFieldsOfTheWrongType) {
  auto r = parse_info(R"({"headers":"yes","max_payload":"big","server_id":7})");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->headers);
  EXPECT_EQ(r->max_payload, 1024 * 1024);
  EXPECT_EQ(r->server_id, "");
}

TEST(ProtocolParser, RejectsBrokenStreams) {
  const char* cases[] = {
      "HELLO\r\n",                                     // unknown operation
      "MSG foo\r\n",                                   // too few arguments
      "MSG foo 1 a b c 5\r\n",                         // too many
      "MSG foo x 5\r\nhello\r\n",                      // sid not a number
      "MSG foo 1 -5\r\n",                              // size not a number
      "MSG foo 1 5\r\nhelloXY",                        // payload not followed by CRLF
      "HMSG foo 1 10 5\r\n",                           // headers larger than the total
      "HMSG foo 1 5 5\r\nXXXXX\r\n",                   // header block without NATS/1.0
      "HMSG foo 1 16 16\r\nNATS/1.0 5x3\r\n\r\n\r\n",  // bad status
      "MSG foo 1 99999999999\r\n",                     // larger than any server sends
  };
  for (const char* bytes : cases) {
    Status st;
    parse_all(bytes, 1000, &st);
    EXPECT_EQ(st.code(), ErrorCode::kProtocol) << bytes;
  }
}

TEST(ProtocolParser, RejectsAnEndlessControlLine) {
  ProtocolParser parser;
  std::vector<ServerOp> out;
  const std::string chunk(std::size_t{16} * 1024, 'x');
  Status st;
  for (int i = 0; i < 8 && st.ok(); ++i)
    st = parser.feed(chunk, out);
  EXPECT_EQ(st.code(), ErrorCode::kProtocol);
}

TEST(ProtocolParser, ParsesEveryOperationWhateverThePieces) {
  // What the server writes, with its double blanks where a reply subject is absent.
  const std::string stream =
      "INFO {\"server_id\":\"S\",\"max_payload\":1024} \r\n"
      "PING\r\n"
      "pong\r\n"
      "+OK\r\n"
      "-ERR 'Permissions Violation for Publish to \"x\"'\r\n"
      "MSG _INBOX.x.1 1  23\r\n{\"stream\":\"T\", \"seq\":1}\r\n"
      "MSG s.a 7 $JS.ACK.S.C.1.1.1.1796221695667757593.0 5\r\nhe\r\no\r\n"
      "HMSG _INBOX.x.1 1  81 81\r\nNATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 2\r\n"
      "Nats-Pending-Bytes: 0\r\n\r\n\r\n"
      "HMSG d\t2\treply  24 29\r\nNATS/1.0\r\nA: b\r\nA: c\r\n\r\nhello\r\n"
      "MSG empty 3 0\r\n\r\n";
  for (std::size_t piece : {std::size_t{1}, std::size_t{2}, std::size_t{7}, stream.size()}) {
    Status st;
    const auto ops = parse_all(stream, piece, &st);
    ASSERT_TRUE(st.ok()) << "piece " << piece << ": " << st.to_string();
    ASSERT_EQ(ops.size(), 10u) << "piece " << piece;
    EXPECT_EQ(ops[0].kind, Kind::kInfo);
    EXPECT_EQ(nlohmann::json::parse(ops[0].text)["server_id"], "S");
    EXPECT_EQ(ops[1].kind, Kind::kPing);
    EXPECT_EQ(ops[2].kind, Kind::kPong);
    EXPECT_EQ(ops[3].kind, Kind::kOk);
    EXPECT_EQ(ops[4].kind, Kind::kErr);
    EXPECT_EQ(ops[4].text, "'Permissions Violation for Publish to \"x\"'");

    EXPECT_EQ(ops[5].kind, Kind::kMsg);
    EXPECT_EQ(ops[5].sid, 1u);
    EXPECT_EQ(ops[5].message.subject, "_INBOX.x.1");
    EXPECT_EQ(ops[5].message.reply, "");
    EXPECT_EQ(ops[5].message.data, "{\"stream\":\"T\", \"seq\":1}");

    EXPECT_EQ(ops[6].sid, 7u);
    EXPECT_EQ(ops[6].message.reply, "$JS.ACK.S.C.1.1.1.1796221695667757593.0");
    EXPECT_EQ(ops[6].message.data, "he\r\no");  // CRLF inside a payload is data
    EXPECT_EQ(ops[6].message.status, 0);

    EXPECT_EQ(ops[7].message.status, 408);
    EXPECT_EQ(ops[7].message.description, "Request Timeout");
    EXPECT_EQ(ops[7].message.headers.get(header::kPendingMessages), "2");
    EXPECT_EQ(ops[7].message.data, "");

    EXPECT_EQ(ops[8].sid, 2u);
    EXPECT_EQ(ops[8].message.subject, "d");
    EXPECT_EQ(ops[8].message.reply, "reply");
    EXPECT_EQ(ops[8].message.status, 0);
    EXPECT_EQ(ops[8].message.headers.get_all("a"), (std::vector<std::string_view>{"b", "c"}));
    EXPECT_EQ(ops[8].message.data, "hello");

    EXPECT_EQ(ops[9].message.subject, "empty");
    EXPECT_EQ(ops[9].message.data, "");
  }
}

TEST(ProtocolParser, ParsesAMessageNearMaxPayload) {
  std::string data(1024 * 1024 - 64, '\0');
  for (std::size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<char>(i * 31 + 7);
  const std::string stream =
      "MSG big 9 " + std::to_string(data.size()) + "\r\n" + data + "\r\nPING\r\n";
  Status st;
  const auto ops = parse_all(stream, std::size_t{64} * 1024, &st);
  ASSERT_TRUE(st.ok()) << st.to_string();
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_EQ(ops[0].message.data, data);
  EXPECT_EQ(ops[1].kind, Kind::kPing);
}

TEST(ParseHeaderBlock, ReadsStatusLines) {
  struct Case {
    const char* block;
    int status;
    const char* description;
  };
  const Case cases[] = {
      {"NATS/1.0\r\n\r\n", 0, ""},
      {"NATS/1.0 503\r\n\r\n", 503, ""},
      {"NATS/1.0 404 No Messages\r\n\r\n", 404, "No Messages"},
      {"NATS/1.0 408 Request Timeout\r\n\r\n", 408, "Request Timeout"},
      {"NATS/1.0 409 Consumer Deleted\r\n\r\n", 409, "Consumer Deleted"},
      {"NATS/1.0 409 Exceeded MaxAckPending\r\n\r\n", 409, "Exceeded MaxAckPending"},
      {"NATS/1.0 100 Idle Heartbeat\r\n\r\n", 100, "Idle Heartbeat"},
  };
  for (const auto& c : cases) {
    auto r = parse_header_block(c.block);
    ASSERT_TRUE(r.ok()) << c.block << r.status().to_string();
    EXPECT_EQ(r->status, c.status) << c.block;
    EXPECT_EQ(r->description, c.description) << c.block;
  }
}

TEST(ParseHeaderBlock, RejectsMalformedBlocks) {
  for (const char* bad : {"", "HTTP/1.1 200\r\n\r\n", "NATS/1.0 abc\r\n\r\n", "NATS/1.0 40\r\n\r\n",
                          "NATS/1.0\r\nno colon\r\n\r\n", "NATS/1.0\r\n: empty name\r\n\r\n",
                          "NATS/1.0503\r\n\r\n"}) {
    auto r = parse_header_block(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
}

TEST(ParseHeaderBlock, TrimsNamesAndValues) {
  auto r = parse_header_block("NATS/1.0\r\nName :  a value \r\nEmpty:\r\n\r\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->headers.get("name"), "a value");
  EXPECT_EQ(r->headers.get("Empty"), "");
}

TEST(ValidateSubject, Table) {
  struct Case {
    const char* subject;
    bool wildcards;
    bool ok;
  };
  const Case cases[] = {
      {"", false, false},
      {"a..b", false, false},
      {".a", false, false},
      {"a.", false, false},
      {"a b", false, false},
      {"a\tb", false, false},
      {"a\r\nPUB x 1", false, false},
      {"a.*", false, false},
      {"a.>", false, false},
      {"a.>.b", true, false},
      {"a", false, true},
      {"a.b.c", false, true},
      {"a.*.c", true, true},
      {"a.>", true, true},
      {">", true, true},
      {"a*b.c>", false, true},
      {"$JS.API.INFO", false, true},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(validate_subject(c.subject, c.wildcards).ok(), c.ok)
        << "'" << c.subject << "' wildcards=" << c.wildcards;
  }
}

TEST(EncodePublish, RefusesInjectionAndOversize) {
  Message m;
  m.subject = "a\r\nSUB x 1";
  EXPECT_EQ(encode_publish(m, 1024).status().code(), ErrorCode::kInvalidArgument);
  m.subject = "a";
  m.reply = "r t";
  EXPECT_EQ(encode_publish(m, 1024).status().code(), ErrorCode::kInvalidArgument);
  m.reply = "";
  m.headers.add("X", "v\r\nInjected: 1");
  EXPECT_EQ(encode_publish(m, 1024).status().code(), ErrorCode::kInvalidArgument);
  m.headers = {};
  m.headers.add("Bad Name", "v");
  EXPECT_EQ(encode_publish(m, 1024).status().code(), ErrorCode::kInvalidArgument);
  m.headers = {};
  m.headers.add("Bad:Name", "v");
  EXPECT_EQ(encode_publish(m, 1024).status().code(), ErrorCode::kInvalidArgument);

  m.headers = {};
  m.data = std::string(1024, 'x');
  EXPECT_TRUE(encode_publish(m, 1024).ok());
  m.data += 'x';
  EXPECT_EQ(encode_publish(m, 1024).status().code(), ErrorCode::kMaxPayload);
  // Headers count against max_payload too.
  m.data = std::string(1010, 'x');
  m.headers.add("A", "b");  // 18 bytes of header block
  EXPECT_EQ(encode_publish(m, 1024).status().code(), ErrorCode::kMaxPayload);
}

TEST(EncodePublish, WritesPubAndHpub) {
  Message m;
  m.subject = "orders.new";
  m.data = "hello";
  EXPECT_EQ(*encode_publish(m, 1024), "PUB orders.new 5\r\nhello\r\n");
  m.reply = "_INBOX.a.1";
  EXPECT_EQ(*encode_publish(m, 1024), "PUB orders.new _INBOX.a.1 5\r\nhello\r\n");
  m.headers.add("Nats-Msg-Id", "42");
  // "NATS/1.0\r\nNats-Msg-Id: 42\r\n\r\n" is 29 bytes.
  EXPECT_EQ(*encode_publish(m, 1024),
            "HPUB orders.new _INBOX.a.1 29 34\r\nNATS/1.0\r\nNats-Msg-Id: 42\r\n\r\nhello\r\n");
  m.data.clear();
  m.reply.clear();
  EXPECT_EQ(*encode_publish(m, 1024),
            "HPUB orders.new 29 29\r\nNATS/1.0\r\nNats-Msg-Id: 42\r\n\r\n\r\n");
}

TEST(Encode, SubscribeUnsubscribeConnect) {
  EXPECT_EQ(encode_subscribe("a.*", "", 3), "SUB a.* 3\r\n");
  EXPECT_EQ(encode_subscribe("a.*", "workers", 3), "SUB a.* workers 3\r\n");
  EXPECT_EQ(encode_unsubscribe(3), "UNSUB 3\r\n");
  EXPECT_EQ(encode_unsubscribe(3, 10), "UNSUB 3 10\r\n");

  ConnectRequest request;
  request.name = "dispatcher";
  request.user = "alice";
  request.pass = "p\"w";
  const std::string line = encode_connect(request);
  ASSERT_EQ(line.substr(0, 8), "CONNECT ");
  ASSERT_EQ(line.substr(line.size() - 2), "\r\n");
  const auto j = nlohmann::json::parse(line.substr(8, line.size() - 10));
  EXPECT_EQ(j["verbose"], false);
  EXPECT_EQ(j["pedantic"], false);
  EXPECT_EQ(j["headers"], true);
  EXPECT_EQ(j["no_responders"], true);
  EXPECT_EQ(j["name"], "dispatcher");
  EXPECT_EQ(j["user"], "alice");
  EXPECT_EQ(j["pass"], "p\"w");
  EXPECT_FALSE(j.contains("auth_token"));
  EXPECT_EQ(line.find('\n'), line.size() - 1);  // one line whatever the credentials hold
}

TEST(StatusFromServerError, MapsWhatACallerBranchesOn) {
  struct Case {
    const char* text;
    ErrorCode code;
  };
  const Case cases[] = {
      {"'Authorization Violation'", ErrorCode::kAuthorization},
      {"'Authentication Timeout'", ErrorCode::kAuthorization},
      {"'User Authentication Expired'", ErrorCode::kAuthorization},
      {"'Permissions Violation for Publish to \"x\"'", ErrorCode::kPermission},
      {"'Permissions Violation for Subscription to \"y\"'", ErrorCode::kPermission},
      {"'Maximum Payload Violation'", ErrorCode::kMaxPayload},
      {"'Stale Connection'", ErrorCode::kServerError},
      {"'Unknown Protocol Operation'", ErrorCode::kServerError},
  };
  for (const auto& c : cases) {
    const Status st = status_from_server_error(c.text);
    EXPECT_EQ(st.code(), c.code) << c.text;
  }
  EXPECT_EQ(status_from_server_error(" 'Authorization Violation' ").message(),
            "server: Authorization Violation");
}

}  // namespace
}  // namespace kubefn::nats
