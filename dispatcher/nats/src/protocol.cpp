#include "kubefn/nats/protocol.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>

namespace kubefn::nats {
namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kHeaderVersion = "NATS/1.0";

Status protocol_error(std::string message) {
  return Status(ErrorCode::kProtocol, std::move(message));
}

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

// Control characters, space and DEL cannot be part of a subject or a header name.
bool is_subject_forbidden(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u <= 0x20 || u == 0x7f;
}

std::vector<std::string_view> split_blanks(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_blank(s[i]))
      ++i;
    const std::size_t start = i;
    while (i < s.size() && !is_blank(s[i]))
      ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back()))
    s.remove_suffix(1);
  return s;
}

template <typename T>
T field(const nlohmann::json& j, const char* key, T fallback) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if constexpr (std::is_same_v<T, bool>) {
    return it->is_boolean() ? it->get<bool>() : fallback;
  } else if constexpr (std::is_integral_v<T>) {
    return it->is_number_integer() ? it->get<T>() : fallback;
  } else {
    return it->is_string() ? it->get<std::string>() : fallback;
  }
}

}  // namespace

Result<ServerInfo> parse_info(std::string_view json) {
  const auto j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return protocol_error("INFO is not a JSON object: " + std::string(json.substr(0, 200)));
  ServerInfo info;
  info.server_id = field<std::string>(j, "server_id", "");
  info.server_name = field<std::string>(j, "server_name", "");
  info.version = field<std::string>(j, "version", "");
  info.proto = field<int>(j, "proto", 0);
  info.headers = field<bool>(j, "headers", false);
  info.auth_required = field<bool>(j, "auth_required", false);
  info.tls_required = field<bool>(j, "tls_required", false);
  info.jetstream = field<bool>(j, "jetstream", false);
  info.lame_duck_mode = field<bool>(j, "ldm", false);
  info.max_payload = field<std::int64_t>(j, "max_payload", info.max_payload);
  if (info.max_payload <= 0) return protocol_error("INFO has a max_payload <= 0");
  info.client_id = field<std::uint64_t>(j, "client_id", 0);
  if (const auto it = j.find("connect_urls"); it != j.end() && it->is_array()) {
    for (const auto& u : *it)
      if (u.is_string()) info.connect_urls.push_back(u.get<std::string>());
  }
  return info;
}

std::string encode_connect(const ConnectRequest& request) {
  nlohmann::json j = {
      {"verbose", request.verbose}, {"pedantic", request.pedantic},
      {"tls_required", false},      {"lang", "cpp"},
      {"version", "kubefn-0.1.0"},  {"protocol", 1},
      {"headers", request.headers}, {"no_responders", request.no_responders},
      {"echo", request.echo},
  };
  if (!request.name.empty()) j["name"] = request.name;
  if (!request.user.empty()) j["user"] = request.user;
  if (!request.pass.empty()) j["pass"] = request.pass;
  if (!request.auth_token.empty()) j["auth_token"] = request.auth_token;
  return "CONNECT " + j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\r\n";
}

Status validate_subject(std::string_view subject, bool wildcards) {
  const auto bad = [&](std::string_view why) {
    return Status(ErrorCode::kInvalidArgument,
                  "bad subject '" + std::string(subject.substr(0, 200)) + "': " + std::string(why));
  };
  if (subject.empty()) return bad("empty");
  if (std::any_of(subject.begin(), subject.end(), is_subject_forbidden))
    return bad("whitespace or a control character");
  std::size_t start = 0;
  for (;;) {
    const auto dot = subject.find('.', start);
    const std::string_view token =
        subject.substr(start, dot == std::string_view::npos ? subject.npos : dot - start);
    if (token.empty()) return bad("an empty token");
    if (token == "*" || token == ">") {
      if (!wildcards) return bad("a wildcard where a concrete subject is needed");
      if (token == ">" && dot != std::string_view::npos) return bad("'>' must be the last token");
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return {};
}

Status validate_queue_group(std::string_view queue) {
  if (std::any_of(queue.begin(), queue.end(), is_subject_forbidden)) {
    return Status(ErrorCode::kInvalidArgument, "bad queue group '" + std::string(queue) +
                                                   "': whitespace or a control character");
  }
  return {};
}

Result<std::string> encode_headers(const Headers& headers) {
  std::string out(kHeaderVersion);
  out += kCrlf;
  for (const auto& [name, value] : headers.entries()) {
    if (name.empty() || name.find(':') != std::string::npos ||
        std::any_of(name.begin(), name.end(), is_subject_forbidden)) {
      return Status(ErrorCode::kInvalidArgument,
                    "bad header name '" + name + "': empty, or holds ':' or whitespace");
    }
    if (value.find_first_of("\r\n") != std::string::npos)
      return Status(ErrorCode::kInvalidArgument,
                    "header '" + name + "' has a CR or LF in its value");
    out += name;
    out += ": ";
    out += value;
    out += kCrlf;
  }
  out += kCrlf;
  return out;
}

Result<std::string> encode_publish(const Message& message, std::int64_t max_payload) {
  if (auto st = validate_subject(message.subject, false); !st.ok()) return st;
  if (!message.reply.empty()) {
    if (auto st = validate_subject(message.reply, false); !st.ok())
      return Status(ErrorCode::kInvalidArgument, "reply: " + st.message());
  }
  std::string header_block;
  if (!message.headers.empty()) {
    auto encoded = encode_headers(message.headers);
    if (!encoded.ok()) return encoded.status();
    header_block = std::move(*encoded);
  }
  const std::size_t total = header_block.size() + message.data.size();
  if (static_cast<std::int64_t>(total) > max_payload) {
    return Status(ErrorCode::kMaxPayload, "message of " + std::to_string(total) +
                                              " bytes (headers and data) to '" + message.subject +
                                              "' is larger than the server's max_payload of " +
                                              std::to_string(max_payload));
  }
  std::string out;
  out.reserve(message.subject.size() + message.reply.size() + total + 48);
  out += header_block.empty() ? "PUB " : "HPUB ";
  out += message.subject;
  out += ' ';
  if (!message.reply.empty()) {
    out += message.reply;
    out += ' ';
  }
  if (!header_block.empty()) {
    out += std::to_string(header_block.size());
    out += ' ';
  }
  out += std::to_string(total);
  out += kCrlf;
  out += header_block;
  out += message.data;
  out += kCrlf;
  return out;
}

std::string encode_subscribe(std::string_view subject, std::string_view queue, std::uint64_t sid) {
  std::string out = "SUB ";
  out += subject;
  if (!queue.empty()) {
    out += ' ';
    out += queue;
  }
  out += ' ';
  out += std::to_string(sid);
  out += kCrlf;
  return out;
}

std::string encode_unsubscribe(std::uint64_t sid, std::uint64_t max) {
  std::string out = "UNSUB " + std::to_string(sid);
  if (max > 0) out += " " + std::to_string(max);
  out += kCrlf;
  return out;
}

Result<HeaderBlock> parse_header_block(std::string_view block) {
  if (block.substr(0, kHeaderVersion.size()) != kHeaderVersion)
    return protocol_error("header block does not start with NATS/1.0");
  HeaderBlock out;
  auto line_end = block.find(kCrlf);
  const std::string_view first =
      block.substr(kHeaderVersion.size(),
                   line_end == block.npos ? block.npos : line_end - kHeaderVersion.size());
  if (!first.empty()) {
    if (!is_blank(first.front()))
      return protocol_error("bad header line 'NATS/1.0" + std::string(first) + "'");
    const std::string_view rest = trim(first);
    const auto blank = std::find_if(rest.begin(), rest.end(), is_blank);
    const std::string_view code = rest.substr(0, static_cast<std::size_t>(blank - rest.begin()));
    std::uint64_t status = 0;
    if (code.size() != 3 || !parse_u64(code, status))
      return protocol_error("bad status '" + std::string(code) + "' in header line");
    out.status = static_cast<int>(status);
    out.description = std::string(trim(rest.substr(code.size())));
  }
  std::size_t pos = line_end == block.npos ? block.size() : line_end + kCrlf.size();
  while (pos < block.size()) {
    line_end = block.find(kCrlf, pos);
    const std::string_view line =
        block.substr(pos, line_end == block.npos ? block.npos : line_end - pos);
    pos = line_end == block.npos ? block.size() : line_end + kCrlf.size();
    if (line.empty()) break;  // the blank line that ends the block
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0)
      return protocol_error("bad header line '" + std::string(line.substr(0, 200)) + "'");
    out.headers.add(std::string(trim(line.substr(0, colon))),
                    std::string(trim(line.substr(colon + 1))));
  }
  return out;
}

Status status_from_server_error(std::string_view text) {
  std::string_view t = trim(text);
  if (t.size() >= 2 && t.front() == '\'' && t.back() == '\'') t = t.substr(1, t.size() - 2);
  const std::string l = lower(t);
  const std::string message = "server: " + std::string(t);
  for (std::string_view auth :
       {"authorization violation", "authentication timeout", "authentication expired",
        "authentication revoked", "user authentication"}) {
    if (l.find(auth) != std::string::npos) return Status(ErrorCode::kAuthorization, message);
  }
  if (l.find("permissions violation") != std::string::npos)
    return Status(ErrorCode::kPermission, message);
  if (l.find("maximum payload") != std::string::npos)
    return Status(ErrorCode::kMaxPayload, message);
  return Status(ErrorCode::kServerError, message);
}

void ProtocolParser::reset() {
  buffer_.clear();
  pos_ = 0;
  in_message_ = false;
  pending_ = ServerOp{};
  header_bytes_ = 0;
  total_bytes_ = 0;
}

Status ProtocolParser::feed(std::string_view bytes, std::vector<ServerOp>& out) {
  buffer_.append(bytes);
  Status result;
  for (;;) {
    if (in_message_) {
      if (buffered() < total_bytes_ + kCrlf.size()) break;
      const std::string_view payload(buffer_.data() + pos_, total_bytes_);
      if (buffer_.compare(pos_ + total_bytes_, kCrlf.size(), kCrlf) != 0) {
        result = protocol_error("message payload not followed by CRLF (sid " +
                                std::to_string(pending_.sid) + ")");
        break;
      }
      result = finish_message(payload, out);
      pos_ += total_bytes_ + kCrlf.size();
      in_message_ = false;
      if (!result.ok()) break;
      continue;
    }
    const auto end = buffer_.find(kCrlf, pos_);
    if (end == std::string::npos) {
      if (buffered() > kMaxControlLine) result = protocol_error("control line too long");
      break;
    }
    if (end - pos_ > kMaxControlLine) {
      result = protocol_error("control line too long");
      break;
    }
    const std::string line = buffer_.substr(pos_, end - pos_);
    pos_ = end + kCrlf.size();
    result = parse_control_line(line, out);
    if (!result.ok()) break;
  }
  // Keep what is not parsed yet at the front, without moving bytes on every call.
  if (pos_ == buffer_.size()) {
    buffer_.clear();
    pos_ = 0;
  } else if (pos_ > std::size_t{64} * 1024) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
  return result;
}

Status ProtocolParser::parse_control_line(std::string_view line, std::vector<ServerOp>& out) {
  const auto op_end = std::find_if(line.begin(), line.end(), is_blank);
  const std::string op = upper(line.substr(0, static_cast<std::size_t>(op_end - line.begin())));
  const std::string_view rest = trim(line.substr(op.size()));
  ServerOp parsed;
  if (op == "MSG" || op == "HMSG") {
    const bool with_headers = op == "HMSG";
    const auto args = split_blanks(rest);
    const std::size_t sizes = with_headers ? 2 : 1;
    if (args.size() != 2 + sizes && args.size() != 3 + sizes)
      return protocol_error("bad " + op + " line '" + std::string(line.substr(0, 200)) + "'");
    pending_ = ServerOp{};
    pending_.kind = ServerOp::Kind::kMsg;
    pending_.message.subject = std::string(args[0]);
    if (!parse_u64(args[1], pending_.sid))
      return protocol_error("bad sid in '" + std::string(line.substr(0, 200)) + "'");
    if (args.size() == 3 + sizes) pending_.message.reply = std::string(args[2]);
    std::uint64_t header_bytes = 0;
    std::uint64_t total_bytes = 0;
    if (!parse_u64(args.back(), total_bytes) ||
        (with_headers && !parse_u64(args[args.size() - 2], header_bytes)))
      return protocol_error("bad size in '" + std::string(line.substr(0, 200)) + "'");
    if (header_bytes > total_bytes || total_bytes > kMaxMessage)
      return protocol_error("bad size in '" + std::string(line.substr(0, 200)) + "'");
    header_bytes_ = static_cast<std::size_t>(header_bytes);
    total_bytes_ = static_cast<std::size_t>(total_bytes);
    in_message_ = true;
    return {};
  }
  if (op == "PING") {
    parsed.kind = ServerOp::Kind::kPing;
  } else if (op == "PONG") {
    parsed.kind = ServerOp::Kind::kPong;
  } else if (op == "+OK") {
    parsed.kind = ServerOp::Kind::kOk;
  } else if (op == "-ERR") {
    parsed.kind = ServerOp::Kind::kErr;
    parsed.text = std::string(rest);
  } else if (op == "INFO") {
    parsed.kind = ServerOp::Kind::kInfo;
    parsed.text = std::string(rest);
  } else {
    return protocol_error("unknown operation '" + std::string(line.substr(0, 200)) + "'");
  }
  out.push_back(std::move(parsed));
  return {};
}

Status ProtocolParser::finish_message(std::string_view payload, std::vector<ServerOp>& out) {
  if (header_bytes_ > 0) {
    auto block = parse_header_block(payload.substr(0, header_bytes_));
    if (!block.ok()) return block.status();
    pending_.message.status = block->status;
    pending_.message.description = std::move(block->description);
    pending_.message.headers = std::move(block->headers);
  }
  pending_.message.data = std::string(payload.substr(header_bytes_));
  out.push_back(std::move(pending_));
  pending_ = ServerOp{};
  return {};
}

}  // namespace kubefn::nats
