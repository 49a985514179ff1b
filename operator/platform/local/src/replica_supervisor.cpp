#include "kubefn/platform/local/replica_supervisor.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <fstream>
#include <list>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "child_process.hpp"
#include "http_probe.hpp"
#include "replica_log.hpp"

namespace kubefn::platform::local {

std::size_t FunctionKeyHash::operator()(const FunctionKey& k) const noexcept {
  std::size_t h = std::hash<std::string>{}(k.ns);
  return h ^ (std::hash<std::string>{}(k.name) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
}

std::string_view to_string(ReplicaEvent::Kind kind) {
  switch (kind) {
    case ReplicaEvent::Kind::kSpawned:
      return "spawned";
    case ReplicaEvent::Kind::kReady:
      return "ready";
    case ReplicaEvent::Kind::kExited:
      return "exited";
  }
  return "unknown";
}

std::string_view to_string(ReplicaPhase phase) {
  switch (phase) {
    case ReplicaPhase::kStarting:
      return "Starting";
    case ReplicaPhase::kReady:
      return "Ready";
    case ReplicaPhase::kUnready:
      return "Unready";
    case ReplicaPhase::kTerminating:
      return "Terminating";
    case ReplicaPhase::kCrashLoop:
      return "CrashLoop";
  }
  return "Unknown";
}

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kAuxTimeout{30000};  // podman port/stop/rm
constexpr milliseconds kContainerStopGrace{5000};

std::string sanitize_name(const std::string& s) {
  std::string out;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    out.push_back(ok ? c : '-');
  }
  return out;
}

std::uintmax_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : size;
}

}  // namespace

struct Replica {
  std::string id;
  std::shared_ptr<const ReplicaTemplate> tmpl;
  ReplicaPhase phase = ReplicaPhase::kStarting;
  int restarts = 0;
  int failures = 0;  // consecutive failed runs
  std::string log_path;
  std::string last_error;

  // The current run (pid > 0 while it runs).
  pid_t pid = 0;
  int pidfd = -1;
  int run = 0;
  std::string container_name;
  std::uint16_t port = 0;
  bool port_lookup_started = false;
  std::uintmax_t run_log_offset = 0;
  std::uintmax_t scan_offset = 0;
  std::string scan_partial;
  Clock::time_point spawned_at{};
  std::optional<Clock::time_point> ready_since;
  bool ever_ready = false;
  std::unique_ptr<detail::HttpProbe> probe;
  bool check_health = false;
  int health_failures = 0;
  Clock::time_point next_probe{};
  std::string kill_reason;  // set when we kill the run to restart it
  Clock::time_point next_start{};

  // Draining.
  bool terminating = false;
  bool term_sent = false;
  bool killed = false;
  Clock::time_point term_at{};
  Clock::time_point kill_at{};

  bool running() const { return pid > 0; }
  bool routable() const { return !terminating && phase == ReplicaPhase::kReady; }
};

struct Function {
  std::shared_ptr<const ReplicaTemplate> tmpl;
  int desired = 0;
  bool removing = false;
  std::list<Replica> replicas;
};

struct AuxProcess {
  pid_t pid = 0;
  int pidfd = -1;
  std::string output_path;
  Clock::time_point deadline;
  std::function<void(int status, const std::string& output)> on_exit;  // lock held
};

class ReplicaSupervisor::Impl {
 public:
  explicit Impl(SupervisorOptions options) : opt_(std::move(options)) {
    if (opt_.log_dir.empty()) opt_.log_dir = std::filesystem::temp_directory_path();
    std::error_code ec;
    std::filesystem::create_directories(opt_.log_dir, ec);
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    thread_ = std::thread([this] { loop(); });
  }

  ~Impl() {
    stop_all();
    {
      std::lock_guard<std::mutex> lock(mu_);
      exiting_ = true;
    }
    wake();
    thread_.join();
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }

  void apply(const FunctionKey& key, const ReplicaTemplate& tmpl, int replicas) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      Function& fn = functions_[key];
      if (!fn.tmpl || *fn.tmpl != tmpl) {
        fn.tmpl = std::make_shared<const ReplicaTemplate>(tmpl);
      }
      fn.desired = std::max(0, replicas);
      fn.removing = false;
    }
    wake();
  }

  void remove(const FunctionKey& key) {
    std::unique_lock<std::mutex> lock(mu_);
    auto it = functions_.find(key);
    if (it == functions_.end()) return;
    it->second.removing = true;
    wake();
    if (std::this_thread::get_id() == thread_.get_id()) return;
    cv_.wait(lock, [&] {
      auto f = functions_.find(key);
      return f == functions_.end() || !f->second.removing;
    });
  }

  void stop_all() {
    std::unique_lock<std::mutex> lock(mu_);
    for (auto& [key, fn] : functions_)
      fn.removing = true;
    wake();
    if (std::this_thread::get_id() == thread_.get_id()) return;
    cv_.wait(lock, [&] {
      return std::none_of(functions_.begin(), functions_.end(),
                          [](const auto& kv) { return kv.second.removing; });
    });
  }

  std::vector<ReplicaInfo> replicas(const FunctionKey& key) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<ReplicaInfo> out;
    auto it = functions_.find(key);
    if (it == functions_.end()) return out;
    for (const Replica& r : it->second.replicas)
      out.push_back(info(r));
    return out;
  }

  void set_listener(std::function<void(const FunctionKey&)> on_change) {
    std::lock_guard<std::mutex> lock(listener_mu_);
    listener_ = std::move(on_change);
  }

 private:
  static ReplicaInfo info(const Replica& r) {
    ReplicaInfo i;
    i.id = r.id;
    i.pid = r.pid;
    i.port = r.port;
    i.phase = r.terminating ? ReplicaPhase::kTerminating : r.phase;
    i.revision = r.tmpl->revision;
    i.restarts = r.restarts;
    i.log_path = r.log_path;
    i.last_error = r.last_error;
    return i;
  }

  using Snapshot = std::vector<std::tuple<std::string, int, std::uint16_t, ReplicaPhase, int>>;

  Snapshot snapshot(const Function& fn) const {
    Snapshot s;
    for (const Replica& r : fn.replicas) {
      s.emplace_back(r.id, r.pid, r.port, info(r).phase, r.restarts);
    }
    return s;
  }

  void wake() {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  }

  void loop() {
    std::unique_lock<std::mutex> lock(mu_);
    std::map<FunctionKey, Snapshot> seen;
    for (;;) {
      auto now = Clock::now();
      reap(now);
      std::vector<FunctionKey> erased;
      for (auto& [key, fn] : functions_) {
        reconcile(key, fn, now);
        for (auto it = fn.replicas.begin(); it != fn.replicas.end();) {
          if (step(key, *it, now)) {
            it = fn.replicas.erase(it);
          } else {
            ++it;
          }
        }
        if (fn.removing && fn.replicas.empty()) erased.push_back(key);
      }
      for (const auto& key : erased)
        functions_.erase(key);
      if (!erased.empty()) cv_.notify_all();

      // Which keys changed in what a router or a watcher sees.
      std::vector<FunctionKey> changed;
      for (auto it = seen.begin(); it != seen.end();) {
        if (functions_.count(it->first) == 0) {
          changed.push_back(it->first);
          it = seen.erase(it);
        } else {
          ++it;
        }
      }
      for (const auto& [key, fn] : functions_) {
        Snapshot s = snapshot(fn);
        auto& prev = seen[key];
        if (s != prev) {
          changed.push_back(key);
          prev = std::move(s);
        }
      }

      if (exiting_ && functions_.empty() && aux_.empty()) break;

      // What to wait on, and until when.
      std::vector<pollfd> fds;
      fds.push_back({wake_fd_, POLLIN, 0});
      Clock::time_point until = now + opt_.probe_interval;
      auto sooner = [&](Clock::time_point t) { until = std::min(until, t); };
      for (auto& [key, fn] : functions_) {
        for (Replica& r : fn.replicas) {
          if (r.pidfd >= 0) fds.push_back({r.pidfd, POLLIN, 0});
          if (r.probe && !r.probe->done()) {
            fds.push_back({r.probe->fd(), r.probe->events(), 0});
            sooner(r.probe->deadline());
          }
          if (!r.running() && !r.terminating) sooner(r.next_start);
          if (r.running() && !r.terminating && r.phase == ReplicaPhase::kStarting) {
            sooner(now + opt_.start_probe_interval);
          }
          if (r.terminating && r.running() && !r.killed)
            sooner(r.term_sent ? r.kill_at : r.term_at);
        }
      }
      for (auto& a : aux_) {
        if (a.pidfd >= 0) fds.push_back({a.pidfd, POLLIN, 0});
        sooner(a.deadline);
      }
      auto wait_ms = std::chrono::duration_cast<milliseconds>(until - now).count();
      if (wait_ms < 0) wait_ms = 0;
      if (wait_ms > 1000) wait_ms = 1000;

      lock.unlock();
      if (!changed.empty()) {
        std::function<void(const FunctionKey&)> listener;
        {
          std::lock_guard<std::mutex> l(listener_mu_);
          listener = listener_;
        }
        if (listener) {
          for (const auto& key : changed)
            listener(key);
        }
      }
      ::poll(fds.data(), fds.size(), static_cast<int>(wait_ms));
      if (fds[0].revents & POLLIN) {
        std::uint64_t v;
        [[maybe_unused]] auto n = ::read(wake_fd_, &v, sizeof v);
      }
      lock.lock();
    }
  }

  // Collects exited children (ours only: waitpid by pid).
  void reap(Clock::time_point now) {
    for (auto& [key, fn] : functions_) {
      for (Replica& r : fn.replicas) {
        if (!r.running()) continue;
        int status = 0;
        struct rusage usage {};
        pid_t got = ::wait4(r.pid, &status, WNOHANG, &usage);
        if (got == r.pid || (got < 0 && errno == ECHILD)) {
          ReplicaEvent e = event(ReplicaEvent::Kind::kExited, key, r, now);
          if (got == r.pid) {
            e.cpu_seconds =
                static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
          }
          if (opt_.on_event) opt_.on_event(e);
          on_exit(r, status, now);
        }
      }
    }
    for (auto it = aux_.begin(); it != aux_.end();) {
      int status = 0;
      pid_t got = ::waitpid(it->pid, &status, WNOHANG);
      if (got == 0 && now >= it->deadline) {
        ::kill(it->pid, SIGKILL);
        got = ::waitpid(it->pid, &status, 0);
      }
      if (got == it->pid || got < 0) {
        if (it->pidfd >= 0) ::close(it->pidfd);
        std::string output = detail::log_tail(it->output_path, 0);
        std::error_code ec;
        std::filesystem::remove(it->output_path, ec);
        auto on_exit_fn = std::move(it->on_exit);
        it = aux_.erase(it);
        if (on_exit_fn) on_exit_fn(status, output);
      } else {
        ++it;
      }
    }
  }

  ReplicaEvent event(ReplicaEvent::Kind kind, const FunctionKey& key, const Replica& r,
                     Clock::time_point now) const {
    ReplicaEvent e;
    e.kind = kind;
    e.key = key;
    e.replica = r.id;
    e.run = r.run;
    e.at = now;
    e.pid = r.pid;
    e.port = r.port;
    e.container = r.tmpl->container.has_value();
    return e;
  }
  void emit(ReplicaEvent::Kind kind, const FunctionKey& key, const Replica& r,
            Clock::time_point now) const {
    if (opt_.on_event) opt_.on_event(event(kind, key, r, now));
  }

  void on_exit(Replica& r, int status, Clock::time_point now) {
    if (r.pidfd >= 0) ::close(r.pidfd);
    r.pidfd = -1;
    r.pid = 0;
    r.port = 0;
    r.probe.reset();
    r.ready_since.reset();
    if (r.terminating) return;
    std::string reason =
        r.kill_reason.empty() ? detail::describe_wait_status(status) : r.kill_reason;
    r.kill_reason.clear();
    record_failure(r, reason, now);
  }

  void record_failure(Replica& r, const std::string& reason, Clock::time_point now) {
    ++r.restarts;
    ++r.failures;
    std::string tail = detail::log_tail(r.log_path, r.run_log_offset);
    r.last_error = reason;
    if (!tail.empty()) r.last_error += "; last log lines:\n" + tail;
    auto delay = opt_.restart_backoff_base;
    for (int i = 1; i < r.failures && delay < opt_.restart_backoff_max; ++i)
      delay *= 2;
    delay = std::min(delay, opt_.restart_backoff_max);
    r.next_start = now + delay;
    r.phase = r.failures >= opt_.crash_loop_threshold ? ReplicaPhase::kCrashLoop
                                                      : ReplicaPhase::kStarting;
  }

  // Creates and retires replicas so `fn` converges on its template and count.
  void reconcile(const FunctionKey& key, Function& fn, Clock::time_point now) {
    std::vector<Replica*> current;
    std::vector<Replica*> old;
    for (Replica& r : fn.replicas) {
      if (r.terminating) continue;
      (r.tmpl->revision == fn.tmpl->revision ? current : old).push_back(&r);
    }
    int desired = fn.removing ? 0 : fn.desired;
    // Same revision, changed details (say, the image tag of a rebuilt revision): restarts use
    // the latest template.
    for (Replica* r : current)
      r->tmpl = fn.tmpl;

    for (int i = static_cast<int>(current.size()); i < desired; ++i) {
      Replica& r = fn.replicas.emplace_back();
      r.id = sanitize_name(key.name) + "-" + std::to_string(++next_id_);
      r.tmpl = fn.tmpl;
      // <log_dir>/<namespace>/<function>/<replica>.log: where `kubefn logs` looks.
      const std::filesystem::path dir =
          opt_.log_dir / sanitize_name(key.ns) / sanitize_name(key.name);
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      r.log_path = (dir / (r.id + ".log")).string();
      r.next_start = now;
      current.push_back(&r);
    }
    // Surplus current replicas: the not-ready ones first, then the newest.
    auto by_retire_order = [](const Replica* a, const Replica* b) {
      if (a->routable() != b->routable()) return !a->routable();
      return a->id.size() != b->id.size() ? a->id.size() > b->id.size() : a->id > b->id;
    };
    if (static_cast<int>(current.size()) > desired) {
      std::stable_sort(current.begin(), current.end(), by_retire_order);
      for (std::size_t i = 0; i < current.size() - static_cast<std::size_t>(desired); ++i) {
        terminate(*current[i], now);
      }
    }
    // Old revisions: keep only as many ready ones as still make up for new ones not ready.
    int ready_new = static_cast<int>(std::count_if(current.begin(), current.end(),
                                                   [](const Replica* r) { return r->routable(); }));
    int keep_old = std::max(0, desired - ready_new);
    std::stable_sort(old.begin(), old.end(), by_retire_order);
    int ready_old = 0;
    for (Replica* r : old)
      ready_old += r->routable() ? 1 : 0;
    int to_retire_ready = std::max(0, ready_old - keep_old);
    for (Replica* r : old) {
      if (!r->routable()) {
        terminate(*r, now);
      } else if (to_retire_ready > 0) {
        terminate(*r, now);
        --to_retire_ready;
      }
    }
  }

  void terminate(Replica& r, Clock::time_point now) {
    if (r.terminating) return;
    bool was_routable = r.routable();
    r.terminating = true;
    r.phase = ReplicaPhase::kTerminating;
    r.probe.reset();
    r.term_at = was_routable ? now + opt_.unroute_delay : now;
  }

  // Advances one replica; true when it is gone and can be forgotten.
  bool step(const FunctionKey& key, Replica& r, Clock::time_point now) {
    if (r.terminating) {
      if (!r.running()) return true;
      if (!r.term_sent && now >= r.term_at) {
        r.term_sent = true;
        r.kill_at = now + opt_.stop_timeout;
        if (r.tmpl->container) {
          auto secs = std::max<long long>(
              1, std::chrono::duration_cast<std::chrono::seconds>(opt_.stop_timeout).count());
          run_aux({r.tmpl->container->podman, "stop", "-t", std::to_string(secs), r.container_name},
                  nullptr);
          r.kill_at += kContainerStopGrace;
        } else {
          ::kill(r.pid, SIGTERM);
        }
      } else if (r.term_sent && !r.killed && now >= r.kill_at) {
        r.killed = true;
        ::kill(-r.pid, SIGKILL);
        ::kill(r.pid, SIGKILL);
        if (r.tmpl->container) {
          run_aux({r.tmpl->container->podman, "rm", "-f", r.container_name}, nullptr);
        }
      }
      return false;
    }

    if (!r.running()) {
      if (now >= r.next_start) start(key, r, now);
      return false;
    }

    if (r.port == 0) learn_port(key, r);
    if (!r.ever_ready && r.kill_reason.empty() && now >= r.spawned_at + opt_.start_timeout) {
      kill_for_restart(r, "not ready within " + std::to_string(opt_.start_timeout.count()) + " ms");
      return false;
    }
    if (r.probe) {
      if (!r.probe->advance(now)) return false;
      handle_probe(key, r, now);
    }
    if (r.port != 0 && !r.probe && now >= r.next_probe && r.kill_reason.empty()) {
      r.probe = std::make_unique<detail::HttpProbe>(r.port, r.check_health ? "/healthz" : "/readyz",
                                                    now + opt_.probe_timeout);
      if (r.probe->advance(now)) handle_probe(key, r, now);
    }
    if (r.phase == ReplicaPhase::kReady && r.ready_since && r.failures > 0 &&
        now - *r.ready_since >= opt_.backoff_reset_after) {
      r.failures = 0;
    }
    return false;
  }

  void handle_probe(const FunctionKey& key, Replica& r, Clock::time_point now) {
    bool ok = r.probe->status() == 200;
    bool health = r.probe->path() == "/healthz";
    std::string why =
        r.probe->status() != 0 ? "status " + std::to_string(r.probe->status()) : r.probe->error();
    r.probe.reset();
    r.next_probe = now + (r.phase == ReplicaPhase::kStarting && !ok ? opt_.start_probe_interval
                                                                    : opt_.probe_interval);
    if (!health) {
      if (ok) {
        if (r.phase != ReplicaPhase::kReady) {
          r.phase = ReplicaPhase::kReady;
          r.ready_since = now;
          if (!r.ever_ready) emit(ReplicaEvent::Kind::kReady, key, r, now);
        }
        r.ever_ready = true;
        r.health_failures = 0;
        return;
      }
      if (r.phase == ReplicaPhase::kReady) {
        r.phase = ReplicaPhase::kUnready;
        r.ready_since.reset();
        r.last_error = "readiness probe failed: " + why;
      }
      if (r.ever_ready) r.check_health = true;
      return;
    }
    r.check_health = false;
    if (ok) {
      r.health_failures = 0;
      return;
    }
    if (++r.health_failures >= opt_.liveness_failure_threshold) {
      kill_for_restart(
          r, "liveness probe failed " + std::to_string(r.health_failures) + " times: " + why);
    }
  }

  void kill_for_restart(Replica& r, std::string reason) {
    r.kill_reason = std::move(reason);
    r.probe.reset();
    if (r.phase == ReplicaPhase::kReady) r.phase = ReplicaPhase::kUnready;
    ::kill(-r.pid, SIGKILL);
    ::kill(r.pid, SIGKILL);
    if (r.tmpl->container) {
      run_aux({r.tmpl->container->podman, "rm", "-f", r.container_name}, nullptr);
    }
  }

  void start(const FunctionKey& key, Replica& r, Clock::time_point now) {
    const ReplicaTemplate& t = *r.tmpl;
    detail::SpawnSpec spec;
    spec.output_path = r.log_path;
    ++r.run;
    if (t.container) {
      const ContainerSpec& c = *t.container;
      r.container_name = "kubefn-" + std::to_string(::getpid()) + "-" + sanitize_name(key.ns) +
                         "-" + r.id + "-" + std::to_string(r.run);
      spec.argv = {c.podman,
                   "run",
                   "--rm",
                   "--runtime",
                   "runc",
                   "--ulimit",
                   "nofile=1024:1024",
                   "--ulimit",
                   "nproc=1024:1024",
                   "--tls-verify=false",
                   "-p",
                   "127.0.0.1::" + std::to_string(c.container_port),
                   "--name",
                   r.container_name};
      std::map<std::string, std::string> env = t.env;
      env["FUNC_PORT"] = std::to_string(c.container_port);
      env["KUBEFN_BIND_ADDRESS"] = "0.0.0.0";
      for (const auto& [k, v] : env) {
        spec.argv.push_back("-e");
        spec.argv.push_back(k + "=" + v);
      }
      spec.argv.insert(spec.argv.end(), c.extra_args.begin(), c.extra_args.end());
      spec.argv.push_back(c.image);
      // podman run passes SIGTERM on to the container; SIGKILL would leave it running.
      spec.death_signal = SIGTERM;
    } else {
      spec.argv = t.argv;
      spec.env = t.env;
      spec.env["FUNC_PORT"] = "0";
      spec.env["KUBEFN_BIND_ADDRESS"] = "127.0.0.1";
      spec.death_signal = SIGKILL;
    }
    r.run_log_offset = file_size_or_zero(r.log_path);
    r.scan_offset = r.run_log_offset;
    r.scan_partial.clear();
    r.port = 0;
    r.port_lookup_started = false;
    r.ever_ready = false;
    r.check_health = false;
    r.health_failures = 0;
    r.kill_reason.clear();
    r.spawned_at = now;
    r.next_probe = now;
    if (r.phase != ReplicaPhase::kCrashLoop) r.phase = ReplicaPhase::kStarting;
    detail::Spawned s = detail::spawn(spec);
    if (s.pid < 0) {
      record_failure(r, "cannot start: " + s.error, now);
      return;
    }
    r.pid = s.pid;
    r.pidfd = s.pidfd;
    emit(ReplicaEvent::Kind::kSpawned, key, r, now);
  }

  void learn_port(const FunctionKey& key, Replica& r) {
    if (r.port_lookup_started) return;
    std::ifstream in(r.log_path, std::ios::binary);
    if (!in) return;
    in.seekg(static_cast<std::streamoff>(r.scan_offset));
    std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    r.scan_offset += chunk.size();
    r.scan_partial += chunk;
    std::uint16_t port = 0;
    std::size_t start = 0;
    for (;;) {
      auto nl = r.scan_partial.find('\n', start);
      if (nl == std::string::npos) break;
      port = detail::listening_port(std::string_view(r.scan_partial).substr(start, nl - start));
      start = nl + 1;
      if (port != 0) break;
    }
    r.scan_partial.erase(0, start);
    if (r.scan_partial.size() > 65536) r.scan_partial.clear();
    if (port == 0) return;
    if (!r.tmpl->container) {
      r.port = port;
      r.scan_partial.clear();
      return;
    }
    // In a container the runtime reports its own port; the host's end comes from podman.
    r.port_lookup_started = true;
    std::string id = r.id;
    int run = r.run;
    run_aux({r.tmpl->container->podman, "port", r.container_name,
             std::to_string(r.tmpl->container->container_port) + "/tcp"},
            [this, key, id, run](int status, const std::string& output) {
              Replica* rep = find(key, id);
              if (rep == nullptr || rep->run != run || !rep->running()) return;
              auto colon = output.rfind(':');
              unsigned p = 0;
              if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && colon != std::string::npos) {
                for (std::size_t i = colon + 1;
                     i < output.size() && std::isdigit(static_cast<unsigned char>(output[i]));
                     ++i) {
                  p = p * 10 + static_cast<unsigned>(output[i] - '0');
                }
              }
              if (p == 0 || p > 65535) {
                kill_for_restart(*rep, "cannot learn the container's port: " + output);
                return;
              }
              rep->port = static_cast<std::uint16_t>(p);
            });
  }

  Replica* find(const FunctionKey& key, const std::string& id) {
    auto it = functions_.find(key);
    if (it == functions_.end()) return nullptr;
    for (Replica& r : it->second.replicas) {
      if (r.id == id) return &r;
    }
    return nullptr;
  }

  void run_aux(std::vector<std::string> argv,
               std::function<void(int, const std::string&)> on_exit) {
    detail::SpawnSpec spec;
    spec.argv = std::move(argv);
    spec.output_path =
        (opt_.log_dir / (".aux-" + std::to_string(::getpid()) + "-" + std::to_string(++aux_seq_)))
            .string();
    spec.death_signal = SIGTERM;
    detail::Spawned s = detail::spawn(spec);
    if (s.pid < 0) {
      if (on_exit) on_exit(127 << 8, s.error);
      return;
    }
    aux_.push_back(
        {s.pid, s.pidfd, spec.output_path, Clock::now() + kAuxTimeout, std::move(on_exit)});
  }

  SupervisorOptions opt_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<FunctionKey, Function> functions_;
  std::list<AuxProcess> aux_;
  std::uint64_t next_id_ = 0;
  std::uint64_t aux_seq_ = 0;
  bool exiting_ = false;
  int wake_fd_ = -1;
  std::mutex listener_mu_;
  std::function<void(const FunctionKey&)> listener_;
  std::thread thread_;
};

ReplicaSupervisor::ReplicaSupervisor(SupervisorOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

ReplicaSupervisor::~ReplicaSupervisor() = default;

void ReplicaSupervisor::apply(const FunctionKey& key, const ReplicaTemplate& tmpl, int replicas) {
  impl_->apply(key, tmpl, replicas);
}

void ReplicaSupervisor::remove(const FunctionKey& key) {
  impl_->remove(key);
}

std::vector<ReplicaInfo> ReplicaSupervisor::replicas(const FunctionKey& key) const {
  return impl_->replicas(key);
}

void ReplicaSupervisor::set_listener(std::function<void(const FunctionKey&)> on_change) {
  impl_->set_listener(std::move(on_change));
}

void ReplicaSupervisor::stop_all() {
  impl_->stop_all();
}

}  // namespace kubefn::platform::local
