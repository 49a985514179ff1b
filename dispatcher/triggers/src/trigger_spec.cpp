#include "kubefn/triggers/trigger_spec.hpp"

#include <set>

#include "schedule_check.hpp"

namespace kubefn::triggers {
namespace {

using nlohmann::json;

struct Bad {
  std::string message;
};

[[noreturn]] void bad(std::string message) {
  throw Bad{std::move(message)};
}

std::string show(const std::string& s) {
  return json(s).dump();
}

const json* field(const json& obj, const char* name) {
  auto it = obj.find(name);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::string get_string(const json& obj, const char* name, const std::string& path) {
  const json* f = field(obj, name);
  if (f == nullptr) return {};
  if (!f->is_string()) bad(path + "." + name + " must be a string");
  return f->get<std::string>();
}

std::optional<std::int64_t> get_int(const json& obj, const char* name, const std::string& path,
                                    std::int64_t lo, std::int64_t hi) {
  const json* f = field(obj, name);
  if (f == nullptr) return std::nullopt;
  if (!f->is_number_integer()) bad(path + "." + name + " must be an integer");
  const auto v = f->get<std::int64_t>();
  if (v < lo || v > hi) {
    bad(path + "." + name + " is " + std::to_string(v) + "; it must be from " + std::to_string(lo) +
        " to " + std::to_string(hi));
  }
  return v;
}

// A trigger's name: a DNS label (it names consumers, groups, subjects and metric labels).
void check_name(const std::string& name, const std::string& path, std::set<std::string>& seen) {
  if (name.empty()) bad(path + ".name is required (a lower-case DNS label, e.g. orders)");
  bool ok = name.size() <= 63 && name.front() != '-' && name.back() != '-';
  for (char c : name)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  if (!ok) {
    bad(path + ".name " + show(name) +
        " must be a lower-case DNS label: letters, digits and '-', at most 63, not starting or "
        "ending with '-'");
  }
  if (name == "async") {
    bad(path + ".name \"async\" is the platform's own (asynchronous calls are metered and "
               "scaled as the trigger async): choose another name");
  }
  if (!seen.insert(name).second) {
    bad(path + ".name " + show(name) + " is taken by another trigger of this Function");
  }
}

std::chrono::milliseconds get_duration(const json& obj, const char* name, const std::string& path,
                                       std::chrono::milliseconds fallback) {
  const std::string text = get_string(obj, name, path);
  if (text.empty()) return fallback;
  const auto d = parse_duration(text);
  if (!d || d->count() <= 0) {
    bad(path + "." + name + " " + show(text) +
        " is not a duration: write a positive number with a unit, e.g. 500ms, 10s, 2m, 1h");
  }
  return *d;
}

RetryPolicy get_retry(const json& t, const std::string& path) {
  RetryPolicy r;
  if (auto v = get_int(t, "maxRetries", path, 0, 100)) r.max_retries = static_cast<int>(*v);
  r.backoff = get_duration(t, "retryBackoff", path, r.backoff);
  r.max_backoff = get_duration(t, "maxRetryBackoff", path, std::max(r.max_backoff, r.backoff));
  if (r.max_backoff < r.backoff) {
    bad(path + ".maxRetryBackoff must not be shorter than retryBackoff");
  }
  return r;
}

const json& list_of(const json& triggers, const char* name, const std::string& path) {
  static const json kEmpty = json::array();
  const json* f = field(triggers, name);
  if (f == nullptr) return kEmpty;
  if (!f->is_array()) bad(path + " must be a list");
  return *f;
}

std::string default_name(const std::string& ns, const std::string& function,
                         const std::string& trigger) {
  return "kubefn-" + ns + "-" + function + "-" + trigger;
}

// NATS subject tokens: no spaces, no empty token; wildcards only where they are allowed.
void check_subject(const std::string& s, const std::string& what, bool wildcards) {
  bool ok = !s.empty() && s.front() != '.' && s.back() != '.' && s.find("..") == std::string::npos;
  for (char c : s)
    ok = ok && c > ' ' && c != 0x7f;
  if (ok && !wildcards) ok = s.find_first_of("*>") == std::string::npos;
  if (!ok) {
    bad(what + " " + show(s) + " is not a NATS subject" + (wildcards ? "" : " without wildcards") +
        " (tokens separated by '.', no spaces)");
  }
}

// A JetStream stream or consumer name: no spaces, '.', '*', '>', path separators.
void check_js_name(const std::string& s, const std::string& what) {
  bool ok = !s.empty() && s.size() <= 255;
  for (char c : s)
    ok = ok && c > ' ' && c != '.' && c != '*' && c != '>' && c != '/' && c != '\\';
  if (!ok) bad(what + " " + show(s) + " must be a name without spaces, '.', '*', '>' or '/'");
}

void check_topic(const std::string& s, const std::string& what) {
  bool ok = !s.empty() && s.size() <= 249 && s != "." && s != "..";
  for (char c : s) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-');
  }
  if (!ok) {
    bad(what + " " + show(s) +
        " is not a Kafka topic name: letters, digits, '.', '_' and '-', at most 249");
  }
}

ScheduleTrigger parse_schedule(const json& t, const std::string& path,
                               std::set<std::string>& seen) {
  if (!t.is_object()) bad(path + " must be an object");
  ScheduleTrigger s;
  s.name = get_string(t, "name", path);
  check_name(s.name, path, seen);
  s.schedule = get_string(t, "schedule", path);
  if (s.schedule.empty()) {
    bad(path + ".schedule is required, e.g. \"*/5 * * * *\", \"@hourly\" or \"@every 30s\"");
  }
  s.time_zone = get_string(t, "timeZone", path);
  if (std::string e = detail::check_schedule(s.schedule, s.time_zone); !e.empty()) {
    bad(path + ": " + e);
  }
  if (const json* p = field(t, "payload")) s.payload = *p;
  const std::string policy = get_string(t, "concurrencyPolicy", path);
  if (!policy.empty()) {
    auto p = schedule::parse_concurrency_policy(policy);
    if (!p.ok()) bad(path + ".concurrencyPolicy " + show(policy) + ": " + p.error().message);
    s.concurrency = p.value();
  }
  s.starting_deadline_seconds = get_int(t, "startingDeadlineSeconds", path, 1, 31 * 24 * 3600);
  if (const json* f = field(t, "suspend")) {
    if (!f->is_boolean()) bad(path + ".suspend must be true or false");
    s.suspend = f->get<bool>();
  }
  s.retry = get_retry(t, path);
  return s;
}

int get_in_flight(const json& t, const char* name, const std::string& path, int fallback) {
  if (auto v = get_int(t, name, path, 1, 10000)) return static_cast<int>(*v);
  return fallback;
}

NatsTrigger parse_nats(const json& t, const std::string& path, std::set<std::string>& seen,
                       const std::string& ns, const std::string& function) {
  if (!t.is_object()) bad(path + " must be an object");
  NatsTrigger n;
  n.name = get_string(t, "name", path);
  check_name(n.name, path, seen);
  n.url = get_string(t, "url", path);
  if (!n.url.empty() && n.url.rfind("nats://", 0) != 0) {
    bad(path + ".url " + show(n.url) + " must start with nats:// (e.g. nats://nats:4222)");
  }
  n.secret.name = get_string(t, "secret", path);
  if (n.url.empty() && n.secret.name.empty()) {
    bad(path + " needs the server: url, or a secret whose key `url` holds it");
  }
  n.stream = get_string(t, "stream", path);
  if (n.stream.empty()) bad(path + ".stream is required: the JetStream stream to consume");
  check_js_name(n.stream, path + ".stream");
  n.subject = get_string(t, "subject", path);
  if (!n.subject.empty()) check_subject(n.subject, path + ".subject", true);
  n.consumer = get_string(t, "consumer", path);
  if (n.consumer.empty()) n.consumer = default_name(ns, function, n.name);
  check_js_name(n.consumer, path + ".consumer");
  n.dead_letter_subject = get_string(t, "deadLetterSubject", path);
  if (n.dead_letter_subject.empty()) {
    n.dead_letter_subject = "kubefn.deadletter." + ns + "." + function + "." + n.name;
  }
  check_subject(n.dead_letter_subject, path + ".deadLetterSubject", false);
  n.max_in_flight = get_in_flight(t, "maxInFlight", path, 0);
  n.retry = get_retry(t, path);
  return n;
}

KafkaTrigger parse_kafka(const json& t, const std::string& path, std::set<std::string>& seen,
                         const std::string& ns, const std::string& function) {
  if (!t.is_object()) bad(path + " must be an object");
  KafkaTrigger k;
  k.name = get_string(t, "name", path);
  check_name(k.name, path, seen);
  k.bootstrap_servers = get_string(t, "bootstrapServers", path);
  k.secret.name = get_string(t, "secret", path);
  if (k.bootstrap_servers.empty() && k.secret.name.empty()) {
    bad(path +
        " needs the brokers: bootstrapServers (host:port[,host:port]), or a secret whose "
        "key `bootstrapServers` holds them");
  }
  k.topic = get_string(t, "topic", path);
  if (k.topic.empty()) bad(path + ".topic is required");
  check_topic(k.topic, path + ".topic");
  k.consumer_group = get_string(t, "consumerGroup", path);
  if (k.consumer_group.empty()) k.consumer_group = default_name(ns, function, k.name);
  k.dead_letter_topic = get_string(t, "deadLetterTopic", path);
  if (k.dead_letter_topic.empty()) k.dead_letter_topic = k.topic + ".deadletter";
  check_topic(k.dead_letter_topic, path + ".deadLetterTopic");
  if (k.dead_letter_topic == k.topic) {
    bad(path + ".deadLetterTopic must not be the trigger's own topic");
  }
  k.in_flight_per_partition = get_in_flight(t, "inFlightPerPartition", path, 1);
  k.max_in_flight = get_in_flight(t, "maxInFlight", path, 0);
  k.retry = get_retry(t, path);
  return k;
}

}  // namespace

std::variant<Triggers, TriggerError> parse_triggers(const json* triggers, const std::string& ns,
                                                    const std::string& function) {
  Triggers out;
  if (triggers == nullptr || triggers->is_null()) return out;
  try {
    if (!triggers->is_object()) bad("spec.triggers must be an object");
    std::set<std::string> seen;
    const json& schedules = list_of(*triggers, "schedules", "spec.triggers.schedules");
    for (std::size_t i = 0; i < schedules.size(); ++i) {
      out.schedules.push_back(
          parse_schedule(schedules[i], "spec.triggers.schedules[" + std::to_string(i) + "]", seen));
    }
    const json& nats = list_of(*triggers, "nats", "spec.triggers.nats");
    for (std::size_t i = 0; i < nats.size(); ++i) {
      out.nats.push_back(
          parse_nats(nats[i], "spec.triggers.nats[" + std::to_string(i) + "]", seen, ns, function));
    }
    const json& kafka = list_of(*triggers, "kafka", "spec.triggers.kafka");
    for (std::size_t i = 0; i < kafka.size(); ++i) {
      out.kafka.push_back(parse_kafka(kafka[i], "spec.triggers.kafka[" + std::to_string(i) + "]",
                                      seen, ns, function));
    }
  } catch (const Bad& e) {
    return TriggerError{e.message};
  }
  return out;
}

}  // namespace kubefn::triggers
