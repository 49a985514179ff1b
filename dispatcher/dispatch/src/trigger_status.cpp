#include "trigger_status.hpp"

#include <ctime>

#include "kubefn/api/function.hpp"

namespace kubefn::dispatch {

using nlohmann::json;

std::optional<Instant> parse_time(const std::string& s) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr) return std::nullopt;
  if (*end == '.') {
    ++end;
    while (*end >= '0' && *end <= '9')
      ++end;
  }
  long offset = 0;
  if (*end == 'Z' || *end == 'z') {
    ++end;
  } else if (*end == '+' || *end == '-') {
    int hh = 0, mm = 0;
    if (std::sscanf(end + 1, "%2d:%2d", &hh, &mm) != 2) return std::nullopt;
    offset = (hh * 3600L + mm * 60L) * (*end == '+' ? 1 : -1);
    end += 6;
  } else {
    return std::nullopt;
  }
  if (*end != '\0') return std::nullopt;
  return Instant(std::chrono::seconds(static_cast<std::int64_t>(timegm(&tm)) - offset));
}

std::string format_time(Instant t) {
  std::time_t secs = static_cast<std::time_t>(t.time_since_epoch().count());
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {

const json* entry_of(const json& function, const std::string& trigger) {
  auto st = function.find("status");
  if (st == function.end() || !st->is_object()) return nullptr;
  auto list = st->find("triggers");
  if (list == st->end() || !list->is_array()) return nullptr;
  for (const json& e : *list) {
    if (e.is_object() && e.value("name", "") == trigger) return &e;
  }
  return nullptr;
}

std::optional<Instant> time_field(const json& e, const char* name) {
  auto it = e.find(name);
  if (it == e.end() || !it->is_string()) return std::nullopt;
  return parse_time(it->get<std::string>());
}

}  // namespace

TriggerState trigger_state(const json& function, const std::string& trigger) {
  TriggerState s;
  if (const json* e = entry_of(function, trigger)) {
    s.last_schedule = time_field(*e, "lastScheduleTime");
    s.last_completed = time_field(*e, "lastCompletedTime");
  }
  return s;
}

kube::Result<json> write_trigger_state(kube::KubeClient& client, json function,
                                       const std::string& trigger,
                                       const std::function<void(json& entry)>& change,
                                       const std::string& field_manager) {
  json& status = function["status"];
  if (!status.is_object()) status = json::object();
  json& list = status["triggers"];
  if (!list.is_array()) list = json::array();
  json* entry = nullptr;
  for (json& e : list) {
    if (e.is_object() && e.value("name", "") == trigger) entry = &e;
  }
  if (entry == nullptr) {
    list.push_back(json{{"name", trigger}});
    entry = &list.back();
  }
  change(*entry);
  return client.update_status(api::functions(), function, {field_manager});
}

}  // namespace kubefn::dispatch
