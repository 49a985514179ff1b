#include "kubefn/dispatch/dispatcher.hpp"

#include <unistd.h>

#include "async_calls.hpp"
#include "context.hpp"
#include "kafka_runner.hpp"
#include "kubefn/api/function.hpp"
#include "kubefn/controller/function_spec.hpp"
#include "nats_runner.hpp"
#include "schedule_runner.hpp"
#include "secret_values.hpp"

namespace kubefn::dispatch {

using nlohmann::json;

Dispatcher::Dispatcher(kube::KubeClient& client, kube::Clock& clock,
                       controller::EventRecorder& events, delivery::FunctionCaller& caller,
                       prometheus::Registry& registry, DispatcherOptions options)
    : options_(std::move(options)),
      log_(std::make_unique<telemetry::LineWriter>(STDERR_FILENO, 0)) {
  ctx_ =
      std::unique_ptr<Context>(new Context{client, clock, events, caller, DispatchMetrics(registry),
                                           schedule::TimeZoneDatabase(options_.zone_directory),
                                           options_.field_manager, *log_, BacklogBoard()});
  auto changed = [this](const json& fn) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      changed_[kube::object_key(fn)] = fn;
    }
    cv_.notify_one();
  };
  kube::InformerHandlers h;
  h.on_add = changed;
  h.on_update = [changed](const json&, const json& fn) { changed(fn); };
  h.on_delete = [this](const json& fn) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      changed_[kube::object_key(fn)] = std::nullopt;
    }
    cv_.notify_one();
  };
  std::vector<std::string> namespaces = options_.namespaces;
  if (namespaces.empty()) namespaces.push_back("");
  for (const std::string& ns : namespaces) {
    kube::InformerOptions io;
    io.resource = api::functions();
    io.ns = ns;
    informers_.push_back(std::make_unique<kube::Informer>(client, clock, io, h));
  }
}

bool Dispatcher::synced() const {
  for (const auto& i : informers_) {
    if (!i->has_synced()) return false;
  }
  return true;
}

Dispatcher::~Dispatcher() {
  stop();
}

void Dispatcher::start() {
  worker_ = std::thread([this] { work(); });
  for (auto& i : informers_)
    i->start();
}

void Dispatcher::stop() {
  for (auto& i : informers_)
    i->stop();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  for (auto& [_, g] : gates_)
    g->close();
  running_.clear();  // each runner stops and joins
  running_count_ = 0;
  ctx_->backlog.clear();
}

std::size_t Dispatcher::running_triggers() const {
  return running_count_.load();
}

std::vector<Backlog> Dispatcher::backlog() const {
  return ctx_->backlog.all();
}

void Dispatcher::work() {
  for (;;) {
    std::map<std::string, std::optional<json>> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !changed_.empty(); });
      if (stopping_) return;
      batch.swap(changed_);
    }
    for (auto& [key, fn] : batch)
      sync(key, fn ? &*fn : nullptr);
    running_count_ = running_.size();
  }
}

void Dispatcher::sync(const std::string& key, const json* function) {
  const bool live =
      function != nullptr && !function->contains(json::json_pointer("/metadata/deletionTimestamp"));
  // Status writes (every schedule run's claim among them) change a Function but not its spec:
  // only a new generation is read again (its Secrets too). A sync that could not read a
  // trigger's Secret is not remembered, so the next change tries again.
  std::string version;
  if (live) {
    const std::int64_t generation = function->value(json::json_pointer("/metadata/generation"), 0);
    if (generation != 0) {
      version = function->value(json::json_pointer("/metadata/uid"), "") + "/" +
                std::to_string(generation);
    }
    if (!version.empty() && synced_[key] == version) return;
  }
  bool incomplete = false;
  std::map<std::string, std::pair<std::string, std::function<std::unique_ptr<TriggerRunner>()>>>
      wanted;
  if (live) {
    auto parsed = controller::parse_function(*function);
    if (auto* spec = std::get_if<controller::FunctionSpec>(&parsed)) {
      const json* tr = nullptr;
      if (auto s = function->find("spec"); s != function->end()) {
        if (auto t = s->find("triggers"); t != s->end()) tr = &*t;
      }
      auto events = triggers::parse_triggers(tr, spec->ns, spec->name);
      const triggers::Triggers* set = std::get_if<triggers::Triggers>(&events);
      const triggers::Triggers no_triggers;
      const bool async_calls = !options_.async_nats_url.empty();
      if ((set != nullptr && !set->empty()) || async_calls) {
        const int capacity = static_cast<int>(std::min<std::int64_t>(
            spec->concurrency * std::max<std::int64_t>(1, spec->max_replicas), 1 << 20));
        auto& gate = gates_[key];
        if (!gate) gate = std::make_shared<delivery::InFlightGate>(capacity);
        gate->resize(capacity);
        FunctionInfo info{spec->ns, spec->name, std::chrono::seconds(spec->timeout_seconds), gate};
        const std::string fn_part = std::to_string(spec->timeout_seconds) + "/" +
                                    function->value(json::json_pointer("/metadata/uid"), "");
        if (async_calls) {
          AsyncSettings a;
          a.nats = {options_.async_nats_url, options_.async_nats_user, options_.async_nats_password,
                    options_.async_nats_token};
          // Named like a trigger ("async" is refused as a trigger's name), so its backlog
          // and metrics are the function's like any queue trigger's.
          wanted[key + "/async"] = {fn_part + "/" + std::to_string(capacity), [this, info, a]() {
                                      return std::unique_ptr<TriggerRunner>(new NatsRunner(
                                          *ctx_, info, async_trigger(info.ns, info.name, a), a.nats,
                                          async_handling(*ctx_, info, a)));
                                    }};
        }
        if (set == nullptr) set = &no_triggers;
        const json& list =
            tr != nullptr && tr->contains("schedules") ? (*tr)["schedules"] : json::array();
        for (std::size_t i = 0; i < set->schedules.size(); ++i) {
          const triggers::ScheduleTrigger& t = set->schedules[i];
          auto parsed_schedule = schedule::Schedule::parse(t.schedule, t.time_zone, ctx_->zones);
          if (!parsed_schedule.ok()) continue;  // the controller's condition says why
          wanted[key + "/" + t.name] = {
              fn_part + "/" + list[i].dump(),
              [this, info, t, s = std::move(parsed_schedule).value()]() mutable {
                return std::unique_ptr<TriggerRunner>(
                    new ScheduleRunner(*ctx_, info, t, std::move(s)));
              }};
        }
        const json& nats_list =
            tr != nullptr && tr->contains("nats") ? (*tr)["nats"] : json::array();
        for (std::size_t i = 0; i < set->nats.size(); ++i) {
          const triggers::NatsTrigger& t = set->nats[i];
          NatsCredentials cred;
          cred.url = t.url;
          std::string secret_part;
          if (!t.secret.name.empty()) {
            auto values = secret_values(ctx_->client, spec->ns, t.secret.name);
            if (!values.ok()) {
              log_trigger(*ctx_, "error", "the NATS trigger's Secret cannot be read", spec->ns,
                          spec->name, t.name, t.secret.name + ": " + values.status().message());
              incomplete = true;  // tried again when the Function changes
              continue;
            }
            const auto& v = values.value();
            auto pick = [&](const char* k) {
              auto it = v.find(k);
              return it == v.end() ? std::string() : it->second;
            };
            if (cred.url.empty()) cred.url = pick("url");
            cred.user = pick("user");
            cred.password = pick("password");
            cred.token = pick("token");
            secret_part = std::to_string(std::hash<std::string>{}(
                cred.url + "\n" + cred.user + "\n" + cred.password + "\n" + cred.token));
          }
          wanted[key + "/" + t.name] = {
              fn_part + "/" + nats_list[i].dump() + "/" + secret_part, [this, info, t, cred]() {
                return std::unique_ptr<TriggerRunner>(new NatsRunner(*ctx_, info, t, cred));
              }};
        }
        const json& kafka_list =
            tr != nullptr && tr->contains("kafka") ? (*tr)["kafka"] : json::array();
        for (std::size_t i = 0; i < set->kafka.size(); ++i) {
          const triggers::KafkaTrigger& t = set->kafka[i];
          kafka::ClientConfig client;
          client.bootstrap_servers = t.bootstrap_servers;
          client.client_id = "kubefn-dispatcher";
          std::string secret_part;
          if (!t.secret.name.empty()) {
            auto values = secret_values(ctx_->client, spec->ns, t.secret.name);
            if (!values.ok()) {
              log_trigger(*ctx_, "error", "the Kafka trigger's Secret cannot be read", spec->ns,
                          spec->name, t.name, t.secret.name + ": " + values.status().message());
              incomplete = true;
              continue;
            }
            const auto& v = values.value();
            auto from_secret = kafka::client_config_from_secret(v, client);
            if (!from_secret.ok()) {
              log_trigger(*ctx_, "error", "the Kafka trigger's Secret has a bad sasl.mechanism",
                          spec->ns, spec->name, t.name, from_secret.status().message());
              incomplete = true;
              continue;
            }
            client = std::move(from_secret).value();
            std::string all;
            for (const auto& [k, val] : v)
              all += k + "=" + val + "\n";
            secret_part = std::to_string(std::hash<std::string>{}(all));
          }
          wanted[key + "/" + t.name] = {
              fn_part + "/" + kafka_list[i].dump() + "/" + secret_part, [this, info, t, client]() {
                return std::unique_ptr<TriggerRunner>(new KafkaRunner(*ctx_, info, t, client));
              }};
        }
      }
    }
  }
  const std::string prefix = key + "/";
  for (auto it = running_.lower_bound(prefix);
       it != running_.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
    auto w = wanted.find(it->first);
    if (w == wanted.end() || w->second.first != it->second.spec) {
      const std::string name = it->first;
      it = running_.erase(it);    // stops and joins it
      ctx_->backlog.erase(name);  // what it measured goes with it
    } else {
      wanted.erase(w);
      ++it;
    }
  }
  for (auto& [name, want] : wanted)
    running_[name] = Running{want.first, want.second()};
  if (live && !incomplete && !version.empty()) {
    synced_[key] = version;
  } else {
    synced_.erase(key);
  }
  // A Function with no trigger left running gives up its gate.
  const auto left = running_.lower_bound(prefix);
  if (left == running_.end() || left->first.compare(0, prefix.size(), prefix) != 0) {
    gates_.erase(key);
  }
}

}  // namespace kubefn::dispatch
