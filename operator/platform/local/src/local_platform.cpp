#include "kubefn/platform/local/local_platform.hpp"

#include <algorithm>
#include <system_error>

#include "kubefn/builder/compile.hpp"
#include "kubefn/builder/image_build.hpp"
#include "kubefn/builder/process.hpp"
#include "kubefn/controller/runtime_env.hpp"
#include "kubefn/controller/source_digest.hpp"
#include "kubefn/gateway/kubernetes_source.hpp"
#include "kubefn/metering/sizing.hpp"

namespace kubefn::platform::local {

namespace fs = std::filesystem;
using controller::StepOutcome;

namespace {

constexpr std::string_view kArtifactMarker = "@sha256:";

// The route of a Function; the RouteTable gives its host and path only to their holders (the
// rules of kube::TriggerClaims, ordered by `created`), as the gateway on a cluster does.
gateway::FunctionRoute route_of(const controller::FunctionSpec& spec, const nlohmann::json& fn) {
  gateway::FunctionRoute r;
  r.ns = spec.ns;
  r.name = spec.name;
  r.access = spec.access == controller::Access::kPublic ? gateway::Access::kPublic
                                                        : gateway::Access::kPrivate;
  r.concurrency = static_cast<int>(spec.concurrency);
  r.timeout = std::chrono::seconds(spec.timeout_seconds);
  r.memory_bytes = metering::replica_size(spec.resources).memory_limit_bytes;
  r.host = spec.http_host;
  r.path = spec.http_path;
  r.created = kube::claimant_of(fn).created;
  if (auto spec_it = fn.find("spec"); spec_it != fn.end() && spec_it->contains("triggers")) {
    r.event_triggers = gateway::event_trigger_names((*spec_it)["triggers"]);
  }
  return r;
}

// The runtime contract, as the Kubernetes Deployment sets it (see desired.cpp), for a
// replica that reads its function from `dir`.
std::map<std::string, std::string> replica_env(const controller::FunctionSpec& spec,
                                               const fs::path& dir) {
  // The runtime's contract, as on Kubernetes; the supervisor sets FUNC_PORT, and what only a
  // pod knows (its name, its memory limit) a local replica goes without.
  std::map<std::string, std::string> env;
  for (const auto& v : controller::runtime_env(spec, {dir.string(), std::nullopt, ""})) {
    if (v.from == controller::RuntimeEnvVar::From::kLiteral) env[v.name] = v.value;
  }
  // Literal values only: valueFrom needs the cluster's Secrets and ConfigMaps.
  for (const auto& e : spec.env) {
    if (e.contains("value") && e["value"].is_string()) env[e["name"]] = e["value"];
  }
  return env;
}

}  // namespace

LocalPlatform::LocalPlatform(LocalPlatformOptions options, ReplicaSupervisor& replicas,
                             gateway::RouteTable& routes)
    : options_(std::move(options)),
      replicas_(replicas),
      routes_(routes),
      cancel_(std::make_unique<builder::Cancellation>()) {
  std::error_code ec;
  fs::create_directories(options_.state_dir / "builds", ec);
  replicas_.set_listener([this](const FunctionKey& key) { on_replicas_changed(key); });
}

LocalPlatform::~LocalPlatform() {
  replicas_.set_listener(nullptr);
  stop();
}

void LocalPlatform::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    requeue_ = nullptr;
    threads.swap(build_threads_);
    build_queue_.clear();  // not started: nothing recorded, the next start builds them
  }
  cancel_->cancel();
  builds_cv_.notify_all();
  for (auto& t : threads)
    t.join();
}

void LocalPlatform::set_requeue(std::function<void(const std::string&, const std::string&)> f) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!stopping_) requeue_ = std::move(f);
}

void LocalPlatform::notify(const std::string& ns, const std::string& name) {
  std::function<void(const std::string&, const std::string&)> f;
  {
    std::lock_guard<std::mutex> lock(mu_);
    f = requeue_;
  }
  if (f) f(ns, name);
}

std::string LocalPlatform::artifact_name(const std::string& ns, const std::string& name,
                                         const std::string& digest) {
  return "local/" + ns + "/" + name + std::string(kArtifactMarker) + digest;
}

fs::path LocalPlatform::build_dir(const std::string& digest) const {
  return options_.state_dir / "builds" / digest;
}

StepOutcome LocalPlatform::prepare(const controller::FunctionContext& ctx) {
  // Routing follows the spec (access, concurrency, timeout, host) before any replica runs.
  routes_.upsert(route_of(ctx.spec, ctx.function));
  return StepOutcome::done();
}

controller::BuildOutcome LocalPlatform::build(const controller::FunctionContext& ctx) {
  const controller::FunctionSpec& spec = ctx.spec;
  const std::string image = artifact_name(spec.ns, spec.name, ctx.digest);
  std::error_code ec;
  if (!containers() && fs::exists(build_dir(ctx.digest) / (spec.module + ".so"), ec)) {
    return {StepOutcome::done(), image};
  }
  if (containers()) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = builds_.find(ctx.digest);
    if (it != builds_.end() && it->second.state == Build::State::kDone) {
      return {StepOutcome::done(), it->second.image};
    }
  }

  bool started = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return {StepOutcome::waiting("Building", "the platform is stopping")};
    auto it = builds_.find(ctx.digest);
    if (it != builds_.end() && it->second.state == Build::State::kFailed) {
      return {StepOutcome::failed("BuildFailed", it->second.message +
                                                     " (the previous build, if any, keeps "
                                                     "serving; fix the source to build again)")};
    }
    if (it != builds_.end() && it->second.state == Build::State::kRunning) {
      it->second.waiting.emplace(spec.ns, spec.name);  // another Function's build of this source
    }
    if (it == builds_.end() || it->second.state == Build::State::kDone) {
      builds_[ctx.digest] = Build{};
      builds_[ctx.digest].waiting.emplace(spec.ns, spec.name);
      build_queue_.push_back({ctx.digest, spec.ns, spec.name, spec.handler_name, spec.module,
                              ctx.source_text, spec.dependencies});
      // Up to build_workers threads take queued builds in turn, so however many builds a
      // long-running platform makes, no finished one leaves a thread behind.
      if (build_threads_.size() < static_cast<std::size_t>(std::max(options_.build_workers, 1))) {
        build_threads_.emplace_back(&LocalPlatform::build_worker, this);
      }
      started = true;
    }
  }
  if (started) {
    builds_cv_.notify_one();
    ctx.events.record(ctx.function, "Normal", "BuildStarted",
                      "compiling source digest " + ctx.digest.substr(0, 16) + " natively");
  }
  return {StepOutcome::waiting("Building", "compiling " + spec.module + ".cpp")};
}

std::size_t LocalPlatform::build_threads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return build_threads_.size();
}

void LocalPlatform::build_worker() {
  for (;;) {
    BuildJob job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      builds_cv_.wait(lock, [&] { return stopping_ || !build_queue_.empty(); });
      if (stopping_) return;
      job = std::move(build_queue_.front());
      build_queue_.pop_front();
    }
    compile(std::move(job));
  }
}

void LocalPlatform::compile(BuildJob job) {
  const std::string& digest = job.digest;
  const std::string& ns = job.ns;
  const std::string& name = job.name;
  const std::string& module = job.module;
  builder::CompileRequest req;
  req.sources.files.push_back({module + ".cpp", std::move(job.source_text)});
  req.handler = module + "." + job.handler;
  req.dependencies = std::move(job.deps);
  req.sdk_include = options_.sdk_include;
  req.source_digest = "sha256:" + digest;
  req.cancel = cancel_.get();
  // Stopped mid-build: nothing is recorded (the next start builds again), nobody is told.
  const auto cancelled = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    builds_.erase(digest);
  };
  Build result;
  result.state = Build::State::kDone;
  if (containers()) {
    builder::FunctionImageRequest image_req;
    image_req.compile = std::move(req);
    image_req.base = options_.base_image;
    image_req.image = options_.image_registry + "/" + ns + "/" + name;
    image_req.registry.plain_http = options_.plain_http;
    auto pushed = builder::build_function_image(image_req);
    if (!pushed.ok() && pushed.status().code() == kube::StatusCode::kCancelled) {
      cancelled();
      return;
    }
    if (pushed.ok()) {
      result.image = pushed->image;
    } else {
      result.state = Build::State::kFailed;
      result.message = pushed.status().message();
    }
    finish_build(digest, std::move(result), ns, name);
    return;
  }
  auto compiled = builder::compile_function(req);
  if (!compiled.ok() && compiled.status().code() == kube::StatusCode::kCancelled) {
    cancelled();
    return;
  }
  if (!compiled.ok()) {
    result.state = Build::State::kFailed;
    result.message = compiled.status().message();
  } else {
    // Written aside, then renamed into place: a replica never sees half a build.
    const fs::path dir = build_dir(digest);
    const fs::path tmp = dir.string() + ".tmp";
    std::error_code ec;
    fs::remove_all(tmp, ec);
    kube::Status written = builder::write_function_dir(compiled.value(), tmp.string());
    if (written.ok()) fs::rename(tmp, dir, ec);
    if (!written.ok() || ec) {
      result.state = Build::State::kFailed;
      result.message =
          "cannot store the build: " + (written.ok() ? ec.message() : written.message());
    }
  }
  finish_build(digest, std::move(result), ns, name);
}

// Records a build's end and requeues every Function that waited on it.
void LocalPlatform::finish_build(const std::string& digest, Build result, const std::string& ns,
                                 const std::string& name) {
  std::set<std::pair<std::string, std::string>> waiting;
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiting.swap(builds_[digest].waiting);
    builds_[digest] = std::move(result);
  }
  waiting.emplace(ns, name);
  for (const auto& [wns, wname] : waiting)
    notify(wns, wname);
}

controller::WorkloadOutcome LocalPlatform::run(const controller::FunctionContext& ctx,
                                               const std::string& image) {
  const controller::FunctionSpec& spec = ctx.spec;
  const FunctionKey key{spec.ns, spec.name};
  const auto marker = image.rfind(kArtifactMarker);
  ReplicaTemplate tmpl;
  if (containers()) {
    // The image holds the function under /kubefn; the runtime is its entrypoint.
    tmpl.env = replica_env(spec, std::string(builder::kFunctionDir));
    tmpl.container = ContainerSpec{image, {}, 8080, "podman"};
  } else {
    if (image.rfind("local/", 0) != 0 || marker == std::string::npos) {
      return StepOutcome::failed("UnsupportedImage",
                                 "the local platform runs functions it builds from source; "
                                 "spec.image " +
                                     image + " needs a cluster, or kubefn up --containers");
    }
    const std::string digest = image.substr(marker + kArtifactMarker.size());
    const fs::path dir = build_dir(digest);
    std::error_code ec;
    if (!fs::exists(dir / (spec.module + ".so"), ec)) {
      // Recorded in status but not on this machine (a fresh state directory): build again.
      controller::BuildOutcome again = build(ctx);
      if (again.step.state != StepOutcome::State::kDone) return again.step;
    }
    tmpl.argv = {options_.runtime_binary};
    tmpl.env = replica_env(spec, dir);
  }
  std::string record = image;
  for (const auto& [k, v] : tmpl.env)
    record += "\n" + k + "=" + v;
  tmpl.revision = controller::sha256_hex(record).substr(0, 16);

  std::int64_t n = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (spec.replicas) {
      n = *spec.replicas;
    } else {
      auto w = wanted_.find(key);
      n = w == wanted_.end() ? std::max<std::int64_t>(spec.min_replicas, 1) : w->second;
      n = std::clamp<std::int64_t>(n, spec.min_replicas, spec.max_replicas);
    }
    wanted_[key] = n;
    running_[key] = Running{tmpl, spec.min_replicas, spec.max_replicas, spec.replicas.has_value()};
    // Under the lock, so a concurrent scale() cannot be overtaken by an older count. (apply
    // never blocks, and the supervisor calls back without its own lock.)
    replicas_.apply(key, tmpl, static_cast<int>(n));
  }
  publish_endpoints(key);  // routes follow at once, not only on the next replica event

  controller::WorkloadOutcome out;
  out.wanted = n;
  bool stale = false;
  for (const auto& r : replicas_.replicas(key)) {
    if (r.revision != tmpl.revision) {
      stale = true;
      continue;
    }
    if (r.phase == ReplicaPhase::kTerminating) continue;
    ++out.replicas;
    if (r.phase == ReplicaPhase::kReady) ++out.ready;
    if (r.phase == ReplicaPhase::kCrashLoop) {
      out.step =
          StepOutcome::failed("CrashLoop", "replica " + r.id + " keeps failing: " + r.last_error,
                              std::chrono::seconds(5));
    }
  }
  out.rolled_out = !stale && out.replicas == n;
  out.available = out.ready >= n;
  out.selector = std::string(api::kFunctionLabel) + "=" + spec.name;
  out.url = options_.gateway_url + "/" + spec.ns + "/" + spec.name;
  return out;
}

void LocalPlatform::publish_endpoints(const FunctionKey& key) {
  std::vector<gateway::Endpoint> endpoints;
  for (const auto& r : replicas_.replicas(key)) {
    if (r.port == 0) continue;
    endpoints.push_back({r.id, "127.0.0.1", r.port, r.phase == ReplicaPhase::kReady});
  }
  routes_.set_endpoints(key.ns, key.name, std::move(endpoints));
}

void LocalPlatform::on_replicas_changed(const FunctionKey& key) {
  publish_endpoints(key);
  notify(key.ns, key.name);  // status follows the replicas
}

void LocalPlatform::forget(const std::string& ns, const std::string& name) {
  const FunctionKey key{ns, name};
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (running_.erase(key) == 0 && wanted_.count(key) == 0) {
      routes_.remove(ns, name);
      return;
    }
    wanted_.erase(key);
  }
  replicas_.remove(key);
  routes_.remove(ns, name);
  routes_.set_endpoints(ns, name, {});
}

kube::Status LocalPlatform::scale(const std::string& ns, const std::string& name,
                                  std::int64_t replicas) {
  const FunctionKey key{ns, name};
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = running_.find(key);
    if (it == running_.end()) {
      return kube::Status(kube::StatusCode::kNotFound, "function " + key.str() + " is not running");
    }
    if (it->second.pinned) return kube::Status();  // spec.replicas decides
    replicas = std::clamp(replicas, it->second.min, it->second.max);
    wanted_[key] = replicas;
    replicas_.apply(key, it->second.tmpl, static_cast<int>(replicas));
  }
  notify(ns, name);
  return kube::Status();
}

std::optional<std::int64_t> LocalPlatform::replicas_wanted(const std::string& ns,
                                                           const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = wanted_.find(FunctionKey{ns, name});
  if (it == wanted_.end()) return std::nullopt;
  return it->second;
}

}  // namespace kubefn::platform::local
