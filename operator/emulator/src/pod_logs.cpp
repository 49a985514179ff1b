#include "pod_logs.hpp"

#include <cctype>
#include <cstdint>
#include <vector>

namespace kubefn::emulator {
namespace {

using nlohmann::json;

// A non-negative decimal integer, or -1.
std::int64_t non_negative(const std::string& text) {
  if (text.empty() || text.size() > 18) return -1;
  std::int64_t v = 0;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::vector<std::string> container_names(const json& pod) {
  std::vector<std::string> names;
  const json& spec = pod.value("spec", json::object());
  for (const char* list : {"containers", "initContainers", "ephemeralContainers"}) {
    for (const auto& c : spec.value(list, json::array())) {
      if (c.is_object() && c.value("name", "") != "") names.push_back(c.value("name", ""));
    }
  }
  return names;
}

// The last `n` lines of `text` (a last line without its newline counts).
std::string tail(const std::string& text, std::int64_t n) {
  if (n == 0) return "";
  std::size_t end = text.size();
  if (end > 0 && text[end - 1] == '\n') --end;
  std::size_t pos = end;
  for (std::int64_t seen = 0; pos > 0;) {
    const std::size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    if (++seen == n) return text.substr(nl + 1);
    pos = nl;
  }
  return text;
}

}  // namespace

void PodLogs::set(const std::string& ns, const std::string& pod, const std::string& container,
                  bool previous, std::string text) {
  std::lock_guard lock(mu_);
  logs_[Key{ns, pod, container, previous}] = std::move(text);
}

void PodLogs::clear() {
  std::lock_guard lock(mu_);
  logs_.clear();
}

Result<PodLogReply> PodLogs::serve(const json& pod, const PodLogQuery& query) const {
  const std::string name = pod["metadata"].value("name", "");
  const std::string ns = pod["metadata"].value("namespace", "");
  // As the API server's LogLocation: the container named, or the only one.
  const std::vector<std::string> names = container_names(pod);
  std::string container = query.container;
  if (container.empty()) {
    if (names.size() != 1) {
      std::string choices;
      for (const auto& n : names)
        choices += (choices.empty() ? "" : " ") + n;
      return bad_request("a container name must be specified for pod " + name +
                         ", choose one of: [" + choices + "]");
    }
    container = names.front();
  } else {
    bool known = false;
    for (const auto& n : names)
      known = known || n == container;
    if (!known) return bad_request("container " + container + " is not valid for pod " + name);
  }
  const std::int64_t tail_lines = query.tail_lines.empty() ? -2 : non_negative(query.tail_lines);
  const std::int64_t limit = query.limit_bytes.empty() ? -2 : non_negative(query.limit_bytes);
  if (tail_lines == -1) return bad_request("tailLines: Invalid value: " + query.tail_lines);
  if (limit == -1 || limit == 0) {
    return bad_request("limitBytes: Invalid value: " + query.limit_bytes +
                       ": must be greater than 0");
  }
  // A pod on no node yet: no kubelet to ask, and no content.
  if (pod.value("spec", json::object()).value("nodeName", "").empty()) return PodLogReply{204, ""};
  const bool previous = query.previous == "true" || query.previous == "1";
  std::string text;
  {
    std::lock_guard lock(mu_);
    auto it = logs_.find(Key{ns, name, container, previous});
    if (it == logs_.end() && previous) {
      // The kubelet's answer when the container has not restarted.
      return bad_request("previous terminated container \"" + container + "\" in pod \"" + name +
                         "\" not found");
    }
    if (it != logs_.end()) text = it->second;
  }
  if (tail_lines >= 0) text = tail(text, tail_lines);
  if (limit > 0 && text.size() > static_cast<std::size_t>(limit)) text.resize(limit);
  return PodLogReply{200, std::move(text)};
}

}  // namespace kubefn::emulator
