// The NATS client protocol as bytes: what the server sends (INFO, MSG, HMSG, PING, PONG, +OK,
// -ERR) parsed incrementally, and what a client sends (CONNECT, PUB, HPUB, SUB, UNSUB) encoded
// after checking subjects and headers, so that no caller can inject a protocol line. Pure: no
// sockets, no threads; the Connection drives it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kubefn/nats/message.hpp"
#include "kubefn/nats/status.hpp"

namespace kubefn::nats {

// The fields of the server's INFO this client uses.
struct ServerInfo {
  std::string server_id;
  std::string server_name;
  std::string version;
  int proto = 0;
  bool headers = false;
  bool auth_required = false;
  bool tls_required = false;
  bool jetstream = false;
  bool lame_duck_mode = false;
  std::int64_t max_payload = std::int64_t{1} << 20;
  std::uint64_t client_id = 0;
  std::vector<std::string> connect_urls;
};

// Parses the JSON after "INFO ". kProtocol when it is not a JSON object.
Result<ServerInfo> parse_info(std::string_view json);

struct ConnectRequest {
  bool verbose = false;
  bool pedantic = false;
  bool headers = true;
  bool no_responders = true;
  bool echo = true;
  std::string name;
  std::string user;
  std::string pass;
  std::string auth_token;
};

// "CONNECT {...}\r\n"; empty credentials are left out.
std::string encode_connect(const ConnectRequest& request);

// A subject to publish to: tokens separated by '.', none empty, no whitespace or control
// characters; with `wildcards` (to subscribe) '*' may be a whole token and '>' the last one.
Status validate_subject(std::string_view subject, bool wildcards);
Status validate_queue_group(std::string_view queue);

// "NATS/1.0\r\nName: value\r\n...\r\n": kInvalidArgument for a name that is empty or holds ':'
// or whitespace, or a value with CR or LF.
Result<std::string> encode_headers(const Headers& headers);

// "PUB subject [reply] n\r\ndata\r\n", or HPUB when there are headers. kMaxPayload when headers
// and data together exceed `max_payload` (the server would close the connection).
Result<std::string> encode_publish(const Message& message, std::int64_t max_payload);

std::string encode_subscribe(std::string_view subject, std::string_view queue, std::uint64_t sid);
// "UNSUB sid [max]": with max > 0 the server removes the interest after that many messages.
std::string encode_unsubscribe(std::uint64_t sid, std::uint64_t max = 0);

// The header block of an HMSG: "NATS/1.0[ status[ description]]\r\n" then "Name: value" lines
// and an empty line.
struct HeaderBlock {
  int status = 0;
  std::string description;
  Headers headers;
};
Result<HeaderBlock> parse_header_block(std::string_view block);

// What a -ERR means for a caller: the text between the quotes, mapped to kAuthorization,
// kPermission, kMaxPayload or kServerError.
Status status_from_server_error(std::string_view text);

// One thing the server said.
struct ServerOp {
  enum class Kind { kInfo, kMsg, kPing, kPong, kOk, kErr };
  Kind kind = Kind::kPing;
  std::string text;  // INFO: the JSON; -ERR: the text after "-ERR "
  std::uint64_t sid = 0;
  Message message;  // MSG and HMSG
};

// Parses the server's byte stream as it arrives, in pieces of any size. After an error the
// stream is out of step and the connection must be closed.
class ProtocolParser {
 public:
  // INFO lines list a cluster's URLs and can be long.
  static constexpr std::size_t kMaxControlLine = std::size_t{64} * 1024;
  // Larger than any max_payload a server allows (64 MiB), to bound what a broken peer costs.
  static constexpr std::size_t kMaxMessage = 64u * 1024 * 1024 + 4096;

  // Appends `bytes` and moves every operation they complete to `out`.
  Status feed(std::string_view bytes, std::vector<ServerOp>& out);
  void reset();
  // Bytes received but not yet a whole operation.
  std::size_t buffered() const { return buffer_.size() - pos_; }

 private:
  Status parse_control_line(std::string_view line, std::vector<ServerOp>& out);
  Status finish_message(std::string_view payload, std::vector<ServerOp>& out);

  std::string buffer_;
  std::size_t pos_ = 0;
  // Set while the payload of a MSG or HMSG is awaited.
  bool in_message_ = false;
  ServerOp pending_;
  std::size_t header_bytes_ = 0;
  std::size_t total_bytes_ = 0;
};

}  // namespace kubefn::nats
