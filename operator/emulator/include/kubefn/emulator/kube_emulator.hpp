#pragma once

// An in-process emulator of the Kubernetes API server, faithful enough for kubectl v1.34 and for
// the operator's Kubernetes client. It serves HTTP/1.1 (optionally TLS with a bearer token) on
// 127.0.0.1 from a background thread pool; see operator/emulator/README.md for what it emulates.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kubefn::emulator {

struct EmulatorOptions {
  // 0 picks a free port; read it back with KubeEmulator::port().
  uint16_t port = 0;
  // Serve HTTPS. kubectl only sends credentials over TLS, so token checks need this.
  bool tls = false;
  // When non-empty every request (except /healthz, /readyz, /livez) must carry
  // "Authorization: Bearer <token>", else 401.
  std::string token;
  // When non-empty, the Host header of every request must be one of these names (host names or
  // IP literals, IPv6 without brackets) followed by ":<port served>", e.g. "localhost:6443" or
  // "[::1]:6443"; others get 403 Forbidden with a Status saying why (DNS rebinding). Empty, as
  // for the real server: any Host.
  std::vector<std::string> allowed_hosts;
  // PEM files for TLS. When both are empty and tls is set, a self-signed certificate for
  // 127.0.0.1/localhost is generated; ca_pem() returns it.
  std::string cert_file;
  std::string key_file;
  // Fake deployment controller: status follows spec this long after a spec change.
  int deployment_ready_delay_ms = 0;
  bool deployment_controller = true;
  // Fake garbage collector for ownerReferences (background, foreground and orphan policies).
  bool garbage_collector = true;
  // Number of watch events kept for replay; watches from an older resourceVersion get 410.
  std::size_t watch_cache_size = 1000;
  // Prune custom resources to their CRD's structural schema and fill its defaults, as the
  // real server does; unknown fields are then reported per fieldValidation (Strict fails the
  // request, Warn, the default, adds Warning headers).
  bool crd_schema_pruning = true;
  // Validate custom resources against their CRD's openAPIV3Schema on every write (422 Invalid,
  // as the real server does; CEL rules are not evaluated).
  bool crd_schema_validation = true;
  // Interval between BOOKMARK events on watches that allow them.
  std::chrono::milliseconds bookmark_interval{1000};
  // Where the objects are kept. Empty: in memory, gone with the emulator. Otherwise a folder
  // (created 0700 if missing; one emulator at a time) holding a snapshot and a write-ahead
  // log: every change is appended and fsync'ed before its write is answered, so an answered
  // write survives a crash (kill -9), and the next emulator on the folder starts with every
  // object as it was (uids, creationTimestamps, resourceVersions; the counter resumes above
  // them). The watch history is not kept: a watch from an older resourceVersion gets 410.
  std::string data_dir;
  // With data_dir: the log is folded into a new snapshot once it holds this many bytes.
  std::size_t data_compact_bytes = 4u << 20;
};

// Result of an in-process API call: the HTTP status and the decoded JSON body.
struct ApiReply {
  int status = 0;
  nlohmann::json body;
};

class KubeEmulator {
 public:
  // Starts serving on 127.0.0.1 before returning. Throws std::runtime_error if it cannot bind,
  // load the TLS material, or open and recover data_dir.
  explicit KubeEmulator(EmulatorOptions opts = {});
  // Closes every connection (watches included) and joins all threads.
  ~KubeEmulator();
  KubeEmulator(const KubeEmulator&) = delete;
  KubeEmulator& operator=(const KubeEmulator&) = delete;

  // "http://127.0.0.1:<port>" or "https://127.0.0.1:<port>".
  std::string url() const;
  uint16_t port() const;
  // PEM of the certificate clients must trust (empty without TLS).
  std::string ca_pem() const;

  // --- Fault switches -------------------------------------------------------------------------
  // Ends every open watch stream now (cleanly: the chunked response is terminated).
  void drop_watches();
  // Forgets the event history: watches from any older resourceVersion get an ERROR 410 event,
  // and continue tokens issued before now expire.
  void compact();
  // The next `times` watches that carry a non-zero resourceVersion get an ERROR 410 event.
  void expire_next_watches(int times);
  // The next `times` requests matching verb and resource fail with `http_status` (a metav1
  // Status body; 429 and 5xx carry Retry-After when retry_after_s > 0).
  // verb: get, list, watch, create, update, patch, delete, deletecollection, or "*". A watch
  // gets the error as its HTTP status, before any event.
  // resource: plural name such as "deployments" or "functions", or "*".
  void inject_error(std::string verb, std::string resource, int http_status, int times,
                    int retry_after_s = 0);
  // Delays every request of this verb ("*" = all) before it is served. Zero removes the delay.
  void set_latency(std::string verb, std::chrono::milliseconds delay);
  // Back to the initial state: built-in namespaces only, no CRDs, no faults, watches dropped.
  // The resourceVersion counter keeps increasing.
  void reset();

  // --- The kubelet's part ------------------------------------------------------------------------
  // What GET .../pods/<pod>/log?container=<container> serves (with previous=true, when
  // `previous`: the instance before the current one), tailLines and limitBytes applied. The
  // pod must exist and name the container, and be on a node (spec.nodeName; a pod on none is
  // 204, as on the real server); a previous instance never set is the kubelet's 400
  // `previous terminated container "c" in pod "p" not found`, a current one an empty log.
  // Kept until reset().
  void set_pod_log(const std::string& ns, const std::string& pod, const std::string& container,
                   std::string text, bool previous = false);

  // --- Direct state access for tests ----------------------------------------------------------
  // Serves a request in-process exactly as over HTTP (minus auth and faults), e.g.
  // call("POST", "/api/v1/namespaces/default/configmaps", cm) or
  // call("PATCH", path, patch, "application/merge-patch+json"). Watches are not supported here.
  ApiReply call(std::string_view method, std::string_view target,
                const nlohmann::json& body = nullptr,
                std::string_view content_type = "application/json");
  // The object at an item path such as "/apis/apps/v1/namespaces/default/deployments/web",
  // or nullopt when absent.
  std::optional<nlohmann::json> get(std::string_view item_path);
  // The current global resourceVersion.
  uint64_t resource_version() const;
  // Number of watch streams currently open.
  std::size_t open_watches() const;
  // Number of HTTP requests served so far (all connections).
  std::size_t requests_served() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kubefn::emulator
