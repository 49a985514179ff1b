#pragma once

// Maps one HTTP request onto the store: routing, verbs, patch types, subresources, list/Table
// rendering, discovery and OpenAPI, and the fault switches. Independent of the transport.

#include <atomic>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "fault_switches.hpp"
#include "object_store.hpp"
#include "pod_logs.hpp"
#include "watch_stream.hpp"

namespace kubefn::emulator {

struct HttpRequest {
  std::string method;
  std::string target;  // path and query
  std::string content_type;
  std::string accept;
  std::string body;
};

struct HttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Either a complete reply, or a watch to stream (reply then holds its status line data).
struct Handled {
  HttpReply reply;
  std::unique_ptr<WatchStream> watch;
};

class ApiHandler {
 public:
  ApiHandler(ObjectStore& store, FaultSwitches& faults,
             std::chrono::milliseconds bookmark_interval);

  // `with_faults` is false for in-process calls from tests.
  // Never throws: an unexpected exception becomes a 500 Status.
  Handled handle(const HttpRequest& request, bool with_faults);
  // The port the transport listens on, reported by legacy discovery.
  void set_server_port(uint16_t port) { server_port_ = port; }
  std::size_t open_watches() const { return open_watches_.load(); }
  // What pods/<name>/log serves.
  PodLogs& pod_logs() { return pod_logs_; }

 private:
  Handled handle_unchecked(const HttpRequest& request, bool with_faults);
  // The 404 for a path below /apis/<group> nothing serves: a Status for the built-in groups, a
  // plain "404 page not found" for the others (custom resource groups, unknown ones).
  HttpReply group_not_found(const std::string& group) const;

  ObjectStore& store_;
  FaultSwitches& faults_;
  std::chrono::milliseconds bookmark_interval_;
  std::atomic<uint16_t> server_port_{0};
  std::atomic<std::size_t> open_watches_{0};
  PodLogs pod_logs_;
};

}  // namespace kubefn::emulator
