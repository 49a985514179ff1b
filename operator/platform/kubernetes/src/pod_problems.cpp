#include "kubefn/platform/kubernetes/pod_problems.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace kubefn::platform::kubernetes {

using nlohmann::json;

namespace {

// The kubelet's messages are long (a registry's whole answer); the message keeps this much.
constexpr std::size_t kKubeletMessageBytes = 300;
constexpr std::size_t kTerminationMessageBytes = 200;

const json& field(const json& object, const char* name) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(name);
  return it == object.end() ? kNull : *it;
}

// The array at `name`, or an empty one: loops over it never copy.
const json& items(const json& object, const char* name) {
  static const json kEmpty = json::array();
  const json& v = field(object, name);
  return v.is_array() ? v : kEmpty;
}

std::string str(const json& object, const char* name) {
  const json& v = field(object, name);
  return v.is_string() ? v.get<std::string>() : std::string();
}

std::int64_t num(const json& object, const char* name) {
  const json& v = field(object, name);
  return v.is_number_integer() ? v.get<std::int64_t>() : 0;
}

const char* signal_name(std::int64_t n) {
  static const std::array<const char*, 32> kNames = {
      nullptr,     "SIGHUP",  "SIGINT",    "SIGQUIT", "SIGILL",   "SIGTRAP", "SIGABRT", "SIGBUS",
      "SIGFPE",    "SIGKILL", "SIGUSR1",   "SIGSEGV", "SIGUSR2",  "SIGPIPE", "SIGALRM", "SIGTERM",
      "SIGSTKFLT", "SIGCHLD", "SIGCONT",   "SIGSTOP", "SIGTSTP",  "SIGTTIN", "SIGTTOU", "SIGURG",
      "SIGXCPU",   "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO",   "SIGPWR",  "SIGSYS"};
  return n > 0 && n < static_cast<std::int64_t>(kNames.size()) ? kNames[n] : nullptr;
}

std::string times(std::int64_t n) {
  return n == 1 ? "once" : std::to_string(n) + " times";
}

std::string quoted(const std::string& s) {
  return "\"" + s + "\"";
}

// The scope's container in a pod's spec, or null.
const json& spec_container(const json& pod, const std::string& name) {
  static const json kNull;
  for (const auto& c : items(field(pod, "spec"), "containers")) {
    if (str(c, "name") == name) return c;
  }
  return kNull;
}

// How a container instance ended: "exited with code 139 (SIGSEGV)".
std::string how_it_ended(const json& terminated, const std::string& memory_limit) {
  const std::int64_t code = num(terminated, "exitCode");
  const std::int64_t signal = num(terminated, "signal");
  if (str(terminated, "reason") == "OOMKilled") {
    return "was killed for using more memory than its limit" +
           (memory_limit.empty() ? std::string() : " of " + memory_limit) +
           " (OOMKilled, exit code " + std::to_string(code) + ")";
  }
  if (signal > 0) {
    const char* name = signal_name(signal);
    return "was killed by signal " + std::to_string(signal) +
           (name != nullptr ? std::string(" (") + name + ")" : std::string());
  }
  const char* name = code > 128 ? signal_name(code - 128) : nullptr;
  return "exited with code " + std::to_string(code) +
         (name != nullptr ? std::string(" (") + name + ")" : std::string());
}

struct Candidate {
  int rank = 0;  // lower first
  PodProblem problem;
};

int rank_of(const std::string& reason) {
  static const std::array<const char*, 7> kOrder = {pod_reason::kInvalidImageName,
                                                    pod_reason::kImagePullBackOff,
                                                    pod_reason::kCreateContainerConfigError,
                                                    pod_reason::kCreateContainerError,
                                                    pod_reason::kRunContainerError,
                                                    pod_reason::kCrashLoopBackOff,
                                                    pod_reason::kUnschedulable};
  for (std::size_t i = 0; i < kOrder.size(); ++i) {
    if (reason == kOrder[i]) return static_cast<int>(i);
  }
  return static_cast<int>(kOrder.size());
}

class Describer {
 public:
  Describer(const json& pod, const PodScope& scope) : pod_(pod), scope_(scope) {
    name_ = str(field(pod, "metadata"), "name");
    const json& c = spec_container(pod, scope.container);
    image_ = str(c, "image");
    memory_limit_ = str(field(field(c, "resources"), "limits"), "memory");
  }

  std::string noun() const {
    return (scope_.kind == PodScope::Kind::kBuild ? "build pod " : "replica ") + name_;
  }

  PodProblem make(const char* reason, std::string summary, std::string advice) const {
    PodProblem p;
    p.reason = reason;
    p.pod = name_;
    p.summary = std::move(summary);
    p.advice = std::move(advice);
    return p;
  }

  // A waiting container the kubelet cannot get going, or nullopt for a reason that is not
  // the user's (ContainerCreating, PodInitializing, ...).
  std::optional<PodProblem> waiting(const std::string& reason, const std::string& message) const {
    const std::string said =
        reason + (message.empty() ? "" : ": " + clean_text(message, kKubeletMessageBytes));
    const bool build = scope_.kind == PodScope::Kind::kBuild;
    if (reason == "ErrImagePull" || reason == "ImagePullBackOff") {
      if (build) {
        return make(pod_reason::kImagePullBackOff,
                    noun() + " cannot pull the builder image " + quoted(image_) + " (" + said + ")",
                    "check the operator's --builder-image (the chart's images.builder), that the "
                    "nodes can reach its registry, and its pull credentials");
      }
      return make(pod_reason::kImagePullBackOff,
                  noun() + " cannot pull image " + quoted(image_) + " (" + said + ")",
                  scope_.user_image
                      ? "check spec.image, that the nodes can reach its registry, and, for a "
                        "private registry, the imagePullSecrets of the namespace's default "
                        "ServiceAccount"
                      : "the image was built into the operator's --registry: the nodes must "
                        "reach that registry (for a private one, give the namespace's default "
                        "ServiceAccount imagePullSecrets)");
    }
    if (reason == "InvalidImageName") {
      return make(pod_reason::kInvalidImageName,
                  noun() + ": " + (build ? "the builder image " : "image ") + quoted(image_) +
                      " is not a valid image reference (" + said + ")",
                  build ? "fix the operator's --builder-image"
                        : (scope_.user_image ? "fix spec.image and kubectl apply again"
                                             : "fix the operator's --registry"));
    }
    if (reason == "CreateContainerConfigError") {
      return make(pod_reason::kCreateContainerConfigError,
                  noun() + " cannot be started (" + said + ")",
                  build ? "see kubectl describe pod " + name_
                        : "create the Secret or ConfigMap it names, or fix spec.env and "
                          "spec.envFrom and kubectl apply again");
    }
    if (reason == "CreateContainerError") {
      return make(pod_reason::kCreateContainerError,
                  noun() + " cannot create its container (" + said + ")", start_advice());
    }
    if (reason == "RunContainerError") {
      return make(pod_reason::kRunContainerError,
                  noun() + " cannot start its container (" + said + ")", start_advice());
    }
    return std::nullopt;
  }

  // A container that ran and ended (`terminated`), restarted `restarts` times.
  PodProblem crashed(const json& terminated, std::int64_t restarts, bool previous,
                     const std::string& uid) const {
    const std::string why = str(terminated, "reason");
    // Never started (containerd's StartError: no such executable, exec format error, ...):
    // the image is at fault, not the handler, and the container logged nothing.
    if (why == "StartError" || why == "ContainerCannotRun") {
      return make(pod_reason::kRunContainerError,
                  noun() + " cannot start its container (" + why + ": " +
                      clean_text(str(terminated, "message"), kKubeletMessageBytes) + ")",
                  start_advice());
    }
    std::string summary = noun() + " " + how_it_ended(terminated, memory_limit_);
    if (restarts > 0) summary += ", restarted " + times(restarts);
    const std::string said = str(terminated, "message");
    if (!said.empty()) {
      summary += " (termination message: " + clean_text(said, kTerminationMessageBytes) + ")";
    }
    PodProblem p = make(pod_reason::kCrashLoopBackOff, std::move(summary),
                        why == "OOMKilled" ? "raise spec.resources.limits.memory or make the "
                                             "handler use less, and kubectl apply again"
                                           : "fix the handler and kubectl apply again");
    p.crashed = true;
    p.previous = previous;
    const std::string id = str(terminated, "containerID");
    p.instance = uid + "/" + scope_.container + "/" +
                 (id.empty() ? "restart-" + std::to_string(restarts) : id) +
                 (previous ? "/previous" : "/current");
    return p;
  }

  std::optional<PodProblem> unschedulable() const {
    for (const auto& c : items(field(pod_, "status"), "conditions")) {
      if (str(c, "type") != "PodScheduled" || str(c, "status") != "False" ||
          str(c, "reason") != "Unschedulable") {
        continue;
      }
      const std::string message = str(c, "message");
      return make(pod_reason::kUnschedulable,
                  noun() + " cannot be scheduled" +
                      (message.empty() ? "" : ": " + clean_text(message, kKubeletMessageBytes)),
                  scope_.kind == PodScope::Kind::kBuild
                      ? "free or add a node that fits the build's requests (see kubectl "
                        "describe pod " +
                            name_ + ")"
                      : "lower spec.resources.requests, or free or add nodes that fit them");
    }
    return std::nullopt;
  }

 private:
  std::string start_advice() const {
    if (scope_.kind == PodScope::Kind::kBuild) {
      return "check the operator's --builder-image: a kubefn builder image for the nodes' "
             "architecture";
    }
    return scope_.user_image
               ? "check that spec.image is a kubefn function image (on the kubefn runtime "
                 "base) built for the nodes' architecture"
               : "check that the operator's --base-image is the kubefn runtime base image for "
                 "the nodes' architecture";
  }

  const json& pod_;
  const PodScope& scope_;
  std::string name_;
  std::string image_;
  std::string memory_limit_;
};

// The problem of one container of a pod, if it has one.
std::optional<PodProblem> container_problem(const json& cs, const Describer& d,
                                            const std::string& uid) {
  const json& state = field(cs, "state");
  const json& last = field(field(cs, "lastState"), "terminated");
  const std::int64_t restarts = num(cs, "restartCount");
  if (const json& waiting = field(state, "waiting"); waiting.is_object()) {
    const std::string reason = str(waiting, "reason");
    if (reason == "CrashLoopBackOff") {
      if (last.is_object()) return d.crashed(last, restarts, true, uid);
      return d.make(pod_reason::kCrashLoopBackOff,
                    d.noun() + " keeps crashing, restarted " + times(restarts),
                    "fix the handler and kubectl apply again");
    }
    return d.waiting(reason, str(waiting, "message"));
  }
  // Ended badly and restarted before: it is between two tries.
  if (const json& terminated = field(state, "terminated"); terminated.is_object()) {
    if (num(terminated, "exitCode") != 0 && restarts > 0) {
      return d.crashed(terminated, restarts, false, uid);
    }
    return std::nullopt;
  }
  // Running again after a crash, and not ready yet: still the crash until it is (so that a
  // look between two crashes does not call it recovered).
  const json& ready = field(cs, "ready");
  if (field(state, "running").is_object() && !(ready.is_boolean() && ready.get<bool>()) &&
      last.is_object() && restarts > 0 &&
      (num(last, "exitCode") != 0 || str(last, "reason") == "OOMKilled")) {
    return d.crashed(last, restarts, true, uid);
  }
  return std::nullopt;
}

// The problem of one pod, if it has one.
std::optional<PodProblem> pod_problem(const json& pod, const PodScope& scope) {
  const json& meta = field(pod, "metadata");
  if (!field(meta, "deletionTimestamp").is_null()) return std::nullopt;
  const json& container = spec_container(pod, scope.container);
  if (container.is_null()) return std::nullopt;
  if (!scope.image.empty() && str(container, "image") != scope.image) return std::nullopt;
  Describer d(pod, scope);
  for (const auto& cs : items(field(pod, "status"), "containerStatuses")) {
    if (str(cs, "name") != scope.container) continue;
    if (auto p = container_problem(cs, d, str(meta, "uid"))) return p;
    break;
  }
  return d.unschedulable();
}

// Appends the UTF-8 character starting at text[i] to `out` (or '?' for an invalid byte) and
// returns the index after it.
std::size_t copy_char(std::string_view text, std::size_t i, std::string& out) {
  const auto b = static_cast<unsigned char>(text[i]);
  std::size_t len = 0;
  if (b < 0x80) {
    len = 1;
  } else if (b >= 0xC2 && b <= 0xDF) {
    len = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    len = 3;
  } else if (b >= 0xF0 && b <= 0xF4) {
    len = 4;
  }
  if (len == 0 || i + len > text.size()) {
    out += '?';
    return i + 1;
  }
  for (std::size_t k = 1; k < len; ++k) {
    if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) {
      out += '?';
      return i + 1;
    }
  }
  // Overlong three- and four-byte forms, surrogates and code points past U+10FFFF.
  const auto b1 = static_cast<unsigned char>(len > 1 ? text[i + 1] : 0);
  if ((b == 0xE0 && b1 < 0xA0) || (b == 0xED && b1 > 0x9F) || (b == 0xF0 && b1 < 0x90) ||
      (b == 0xF4 && b1 > 0x8F)) {
    out += '?';
    return i + 1;
  }
  out.append(text.substr(i, len));
  return i + len;
}

// Valid UTF-8, without control characters or terminal escape sequences; tabs are spaces.
std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b == 0x1B) {  // ESC [ parameters final-letter, or ESC and one character
      ++i;
      if (i < text.size() && text[i] == '[') {
        ++i;
        while (i < text.size() && !std::isalpha(static_cast<unsigned char>(text[i])))
          ++i;
      }
      if (i < text.size()) ++i;
      continue;
    }
    if (b == '\t') {
      out += ' ';
      ++i;
      continue;
    }
    if (b < 0x20 || b == 0x7F) {
      ++i;
      continue;
    }
    i = copy_char(text, i, out);
  }
  return out;
}

std::string trimmed(const std::string& s) {
  const auto first = s.find_first_not_of(' ');
  if (first == std::string::npos) return {};
  const auto last = s.find_last_not_of(' ');
  return s.substr(first, last - first + 1);
}

// A log line as it reads best: the runtime writes JSON lines, whose "msg" says it.
std::string readable_line(std::string_view line) {
  std::string text = trimmed(printable(line));
  if (text.size() < 2 || text.front() != '{' || text.back() != '}') return text;
  const json parsed = json::parse(text, nullptr, false);
  if (!parsed.is_object() || !field(parsed, "msg").is_string()) return text;
  std::string out = str(parsed, "msg");
  if (const std::string error = str(parsed, "error"); !error.empty()) out += ": " + error;
  return trimmed(printable(out));
}

// The start of the last `max_bytes` bytes of `s` that begins a UTF-8 character.
std::size_t keep_last_from(const std::string& s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return 0;
  std::size_t from = s.size() - max_bytes;
  while (from < s.size() && (static_cast<unsigned char>(s[from]) & 0xC0) == 0x80)
    ++from;
  return from;
}

}  // namespace

std::optional<PodProblem> find_pod_problem(const std::vector<json>& pods, const PodScope& scope) {
  std::vector<const json*> sorted;
  sorted.reserve(pods.size());
  for (const auto& p : pods)
    sorted.push_back(&p);
  std::sort(sorted.begin(), sorted.end(), [](const json* a, const json* b) {
    return str(field(*a, "metadata"), "name") < str(field(*b, "metadata"), "name");
  });
  std::optional<Candidate> best;
  for (const json* pod : sorted) {
    auto p = pod_problem(*pod, scope);
    if (!p) continue;
    const int rank = rank_of(p->reason);
    if (!best || rank < best->rank) best = Candidate{rank, std::move(*p)};
  }
  if (!best) return std::nullopt;
  return std::move(best->problem);
}

std::string clean_text(std::string_view text, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  for (std::size_t i = 0; i < text.size();)
    i = copy_char(text, i, out);
  if (out.size() <= max_bytes) return out;
  const std::string more = "...";
  std::size_t cut = max_bytes > more.size() ? max_bytes - more.size() : 0;
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80)
    --cut;
  out.resize(cut);
  return out + more;
}

std::string log_tail(std::string_view log, std::size_t max_lines, std::size_t max_bytes) {
  // The newest lines, read backwards until enough.
  std::vector<std::string> lines;
  std::size_t end = log.size();
  while (end > 0 && lines.size() < max_lines) {
    const std::size_t nl = log.rfind('\n', end - 1);
    const std::size_t start = nl == std::string_view::npos ? 0 : nl + 1;
    std::string line = readable_line(log.substr(start, end - start));
    if (!line.empty()) lines.push_back(std::move(line));
    if (nl == std::string_view::npos) break;
    end = nl;
  }
  std::string out;
  for (auto it = lines.rbegin(); it != lines.rend(); ++it)
    out += (out.empty() ? "" : " | ") + *it;
  if (out.size() <= max_bytes) return out;
  const std::string more = "...";
  if (max_bytes <= more.size()) return std::string();
  return more + out.substr(keep_last_from(out, max_bytes - more.size()));
}

std::string problem_message(const PodProblem& problem, const std::optional<std::string>& log_lines,
                            const std::string& log_missing, const std::string& extra) {
  std::string tail_text = extra.empty() ? "" : "; " + extra;
  tail_text += problem.advice.empty() ? "" : "; " + problem.advice;
  std::string log_part;
  if (log_lines) {
    log_part = log_lines->empty() ? "; it logged nothing" : "; last log lines: " + *log_lines;
  } else if (!log_missing.empty()) {
    log_part = "; " + log_missing;
  }
  const std::size_t fixed = problem.summary.size() + tail_text.size();
  if (fixed + log_part.size() > kMaxProblemMessageBytes) {
    // The log lines give way: keep their newest end within what is left.
    const std::size_t room = fixed < kMaxProblemMessageBytes ? kMaxProblemMessageBytes - fixed : 0;
    const std::string head = "; last log lines: ...";
    if (log_lines && !log_lines->empty() && room > head.size() + 16) {
      log_part = head + log_lines->substr(keep_last_from(*log_lines, room - head.size()));
    } else {
      log_part.clear();
    }
  }
  return clean_text(problem.summary + log_part + tail_text, kMaxProblemMessageBytes);
}

}  // namespace kubefn::platform::kubernetes
