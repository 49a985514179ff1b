#pragma once

// The pods/log subresource. The emulator runs no kubelet, so what a container logged is what a
// test said it logged (KubeEmulator::set_pod_log); the API server's part is emulated as it is:
// the pod must exist, the container must be one of its own, a pod on no node has no log yet
// (204), and the kubelet's tailLines and limitBytes apply.

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>

#include "api_error.hpp"

namespace kubefn::emulator {

// The query of one GET .../pods/<name>/log.
struct PodLogQuery {
  std::string container;
  std::string previous;     // "true" (or "1") for the instance before the current one
  std::string tail_lines;   // as given; empty: the whole log
  std::string limit_bytes;  // as given; empty: no limit
};

// What the request is answered with: an error, 204 (no node yet) or 200 and the text.
struct PodLogReply {
  int status = 200;
  std::string text;
};

// Thread-safe.
class PodLogs {
 public:
  void set(const std::string& ns, const std::string& pod, const std::string& container,
           bool previous, std::string text);
  void clear();
  // `pod` is the stored Pod the request names.
  Result<PodLogReply> serve(const nlohmann::json& pod, const PodLogQuery& query) const;

 private:
  using Key = std::tuple<std::string, std::string, std::string, bool>;
  mutable std::mutex mu_;
  std::map<Key, std::string> logs_;
};

}  // namespace kubefn::emulator
