// What keeps a Function's pods from running, read from their status as the kubelet and the
// scheduler report it, and said as a condition the user can act on: a container that crashes
// (with the last lines its previous instance logged), an image that cannot be pulled, a
// container that cannot be created or started, a pod no node can take. Pure: pods in,
// problem and message out; the platform lists the pods and fetches the log.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kubefn::platform::kubernetes {

// Condition reasons, as the kubelet and the scheduler name them. ErrImagePull and
// ImagePullBackOff, which a kubelet alternates between while it retries, are both
// ImagePullBackOff (the one seen is in the message), so the reason, and its Event, stay put.
namespace pod_reason {
inline constexpr const char* kCrashLoopBackOff = "CrashLoopBackOff";
inline constexpr const char* kImagePullBackOff = "ImagePullBackOff";
inline constexpr const char* kInvalidImageName = "InvalidImageName";
inline constexpr const char* kCreateContainerConfigError = "CreateContainerConfigError";
inline constexpr const char* kCreateContainerError = "CreateContainerError";
inline constexpr const char* kRunContainerError = "RunContainerError";
inline constexpr const char* kUnschedulable = "Unschedulable";
}  // namespace pod_reason

// The most a condition message built here holds, log lines included.
inline constexpr std::size_t kMaxProblemMessageBytes = 1024;
// How much of a crashed container's log is asked for (GET pods/{name}/log tailLines and
// limitBytes), and how much of it the message keeps.
inline constexpr std::int64_t kLogTailLines = 10;
inline constexpr std::int64_t kLogLimitBytes = std::int64_t{16} * 1024;
inline constexpr std::size_t kLogLinesShown = 5;
inline constexpr std::size_t kLogBytesShown = 512;

// Whose pods are looked at.
struct PodScope {
  enum class Kind {
    kReplica,  // a Function's Deployment: its pods run `container` of `image`
    kBuild,    // a build Job: its pod runs `container` of the builder image
  };
  Kind kind = Kind::kReplica;
  std::string container = "function";
  // Only pods whose `container` runs this image (the one the Deployment runs now: pods of an
  // earlier template are on their way out). Empty: any.
  std::string image;
  // The image is spec.image (the user's); otherwise kubefn built it into its registry.
  bool user_image = true;
};

struct PodProblem {
  std::string reason;  // a pod_reason
  std::string pod;     // the pod's name
  // What happened: "replica hello-7d9-abc exited with code 139 (SIGSEGV), restarted 3 times".
  std::string summary;
  std::string advice;  // what to do: "fix the handler and kubectl apply again"
  // A container crashed: the log of that instance says why. `previous` is what to ask the
  // log for (true: the instance before the current one, as in CrashLoopBackOff); `instance`
  // names it (pod uid, container ID or restart count), so its log is fetched once.
  bool crashed = false;
  bool previous = false;
  std::string instance;
};

// The first problem among `pods` that is the user's to fix, or nullopt (none yet: pods still
// pending, pulling, starting; or none at all). Pods being deleted, and pods without the
// scope's container or of another image, are not looked at. Deterministic: the most
// blocking reason first (an image that cannot be pulled before a crash before a pod no node
// takes), then the pod names in order.
std::optional<PodProblem> find_pod_problem(const std::vector<nlohmann::json>& pods,
                                           const PodScope& scope);

// The last lines of a log on one line, for a condition message: at most `max_lines` non-blank
// lines, joined with " | ", the newest kept when cut (at most `max_bytes`, "..." in front).
// JSON log lines (the runtime's) show as their "msg" (and "error"); control characters and
// terminal escapes are dropped and invalid UTF-8 replaced, so the message is valid JSON text.
std::string log_tail(std::string_view log, std::size_t max_lines = kLogLinesShown,
                     std::size_t max_bytes = kLogBytesShown);

// The condition message: the summary, then what the log said ("last log lines: ...", or
// `log_missing` when the log could not be read: why, and the kubectl command that reads it),
// then `extra` (e.g. "the previous replicas keep serving") and the advice. At most
// kMaxProblemMessageBytes: the log lines give way first.
std::string problem_message(const PodProblem& problem, const std::optional<std::string>& log_lines,
                            const std::string& log_missing = {}, const std::string& extra = {});

// `text` with invalid UTF-8 replaced by '?', then cut to at most `max_bytes` at a character
// boundary ("..." at the end when cut).
std::string clean_text(std::string_view text, std::size_t max_bytes);

}  // namespace kubefn::platform::kubernetes
