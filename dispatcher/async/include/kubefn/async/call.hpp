// Asynchronous calls: what the gateway queues and the dispatcher runs, on NATS JetStream.
//
// The gateway answers POST /async/{namespace}/{function}/... (or any call carrying
// `Prefer: respond-async`) with 202 and a call id once the call is stored in the stream
// KUBEFN_ASYNC, subject kubefn.async.call.<namespace>.<function>.<id> (one publish: a call
// still in the queue is its own `queued` state). The dispatcher's durable consumer of the
// function's calls runs it through the gateway with the retry rules of events, dead-letters it
// after them (kubefn.deadletter.async.<namespace>.<function>, stream KUBEFN_DEADLETTER), and
// POSTs the outcome to the caller's callback URL. From its first attempt on, a call's latest
// state is the last message on kubefn.async.state.<namespace>.<function>.<id> of
// KUBEFN_ASYNC_CALLS (one per subject, kept for a day), written before the call leaves the
// queue; GET /async/{namespace}/{function}/calls/{id} reads that, or the call in the queue.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kubefn/nats/jetstream_api.hpp"
#include "kubefn/nats/message.hpp"
#include "kubefn/nats/status.hpp"

namespace kubefn::async {

inline constexpr std::string_view kCallStream = "KUBEFN_ASYNC";
inline constexpr std::string_view kStateStream = "KUBEFN_ASYNC_CALLS";
inline constexpr std::string_view kDeadLetterStream = "KUBEFN_DEADLETTER";
// The dispatchers' durable consumer of kCallStream (replicas share it).
inline constexpr std::string_view kConsumer = "kubefn-async";
// How long a call's state can be read after its last change.
inline constexpr std::chrono::hours kStateKept{24};
// The most of a function's answer a state keeps (the callback gets all of it).
inline constexpr std::size_t kMaxStoredResult = 256 * 1024;

std::string call_subject(std::string_view ns, std::string_view function, std::string_view id);
// Every call of one function (its consumer's filter).
std::string call_filter(std::string_view ns, std::string_view function);
std::string state_subject(std::string_view ns, std::string_view function, std::string_view id);
std::string dead_letter_subject(std::string_view ns, std::string_view function);

// Work queue: a call leaves the stream when the dispatcher acknowledges it (done, or
// dead-lettered).
nats::StreamConfig call_stream_config();
// The latest state of each call (one message per subject), kStateKept after it was written.
nats::StreamConfig state_stream_config();
// Where failed events and calls end (the dispatcher's queue triggers use it too).
nats::StreamConfig dead_letter_stream_config();

struct Call {
  std::string id;  // new_call_id()
  std::string ns, function;
  std::string method = "POST";  // of the request the function gets
  std::string target = "/";     // its path and query, after /{namespace}/{function}
  std::string callback_url;     // empty: none
  // Request headers passed to the function (forwarded_header() ones), names in lower case.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::system_clock::time_point queued_at;
};

// 32 lower-case hex digits from the system's random source: unguessable, so the id is the
// only thing one needs, besides access to the function, to read the call's state.
std::string new_call_id();
bool valid_call_id(std::string_view id);
// Empty when `url` can receive callbacks (http://host[:port][/path][?query]), else what is
// wrong with it, in words for the caller.
std::string callback_url_problem(std::string_view url);
// The host of a callback URL that callback_url_problem() took, lower case, without its port
// or an IPv6 address's brackets.
std::string callback_host(std::string_view url);
// Whether a caller's request header (lower-case name) goes on to the function of an
// asynchronous call: never credentials (authorization, cookie), hop-by-hop or framing
// headers, the asynchronous call's own (prefer, x-callback-url), or the platform's
// (kubefn-*, ce-*, event-*).
bool forwarded_header(std::string_view lower_name);

// The call as a message of kCallStream (headers Kubefn-*, the body as data; Nats-Msg-Id is
// the call id, so a publish retried after a lost PubAck is stored once).
nats::Message to_message(const Call& call);
// The call a message of kCallStream holds; kInvalidArgument naming what is missing.
nats::Result<Call> from_message(const nats::Message& message);

enum class State { kQueued, kRunning, kSucceeded, kFailed };
std::string_view to_string(State state);

// What GET .../calls/{id} answers (as JSON, fields in camelCase).
struct CallState {
  std::string id, ns, function;
  State state = State::kQueued;
  int attempts = 0;          // calls made to the function so far
  std::string queued_at;     // RFC 3339
  std::string started_at;    // first attempt
  std::string finished_at;   // succeeded or failed
  int status = 0;            // the function's last HTTP status (0: no answer)
  std::string reason;        // why the last attempt failed
  std::string content_type;  // of the result
  std::string result;        // the function's answer, up to kMaxStoredResult
  bool result_truncated = false;
  std::string callback_url;
  std::string callback;  // "", "delivered", "failed: <why>"
};
nlohmann::json to_json(const CallState& state);
// The state of a message of kStateStream; kProtocol when it is not one.
nats::Result<CallState> state_from_json(std::string_view json);

// Standard base64 with padding (results that are not UTF-8 text are stored so).
std::string base64_encode(std::string_view bytes);

}  // namespace kubefn::async
