// A NATS message as published and as received: subject, reply subject, headers and data, and
// for a status message (a server's answer carried in the header line) its status code.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kubefn::nats {

// Message headers in the order they came, names compared without regard to case (the server
// writes Nats-Msg-Id, a client may ask for nats-msg-id). A name may appear more than once.
class Headers {
 public:
  using Entry = std::pair<std::string, std::string>;

  void add(std::string name, std::string value);
  // Replaces every value of `name` with one.
  void set(std::string name, std::string value);
  void remove(std::string_view name);
  // The first value of `name`.
  std::optional<std::string_view> get(std::string_view name) const;
  std::vector<std::string_view> get_all(std::string_view name) const;

  bool empty() const { return entries_.empty(); }
  std::size_t size() const { return entries_.size(); }
  const std::vector<Entry>& entries() const { return entries_; }
  bool operator==(const Headers&) const = default;

 private:
  std::vector<Entry> entries_;
};

// Headers the server and JetStream read or write.
namespace header {
inline constexpr std::string_view kMsgId = "Nats-Msg-Id";
inline constexpr std::string_view kExpectedStream = "Nats-Expected-Stream";
inline constexpr std::string_view kExpectedLastSequence = "Nats-Expected-Last-Sequence";
inline constexpr std::string_view kPendingMessages = "Nats-Pending-Messages";
inline constexpr std::string_view kPendingBytes = "Nats-Pending-Bytes";
}  // namespace header

struct Message {
  std::string subject;
  std::string reply;  // empty when none
  Headers headers;
  std::string data;
  // Received only: the status of a status message ("NATS/1.0 503" gives 503; 404, 408 and 409
  // answer pull requests), 0 for an ordinary message, and the text after the status.
  int status = 0;
  std::string description;
};

}  // namespace kubefn::nats
