// `kubefn up`: the embedded local platform in one foreground process: an API server for
// Functions (so kubectl and the kubefn CLI work as against a cluster), the reconcile core on
// the local platform, the gateway, and the metrics of everything it runs.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace kubefn::platform::local {

struct UpOptions {
  std::string dir;  // Function manifests applied at start (searched recursively); may be empty
  std::string bind_address = "127.0.0.1";
  std::uint16_t gateway_port = 8080;
  std::uint16_t metrics_port = 9090;
  std::uint16_t api_port = 0;
  std::string home;            // state file, builds, logs; empty: $KUBEFN_HOME or ~/.kubefn
  std::string runtime_binary;  // empty: kubefn-runtime beside this program, else the build's
  std::string sdk_include;     // empty: the build library's default
  std::string keys_file;       // tokens for private functions, one per line; empty: generate
  int workers = 2;
  // Run replicas as podman containers of images pushed to `registry` (a repository prefix
  // podman can pull from, e.g. 127.0.0.1:5000/kubefn) instead of native processes. Without
  // `base_image`, the runtime base image is assembled from this machine and pushed first.
  bool containers = false;
  std::string registry;
  std::string base_image;
  int ready_timeout_seconds = 300;  // how long the first Functions may take to be Ready
  int activation_timeout_seconds = 10;
  int queue_limit = 100;           // per function: calls waiting for capacity, then 429
  int queue_timeout_seconds = 10;  // a call queued longer gets 503
  // The price sheet (YAML or JSON; read again when it changes), and KEY=VALUE fields over it
  // (--price cpuCoreHour=0.05); neither: the built-in sheet.
  std::string prices_file;
  std::vector<std::string> price_flags;
  // Asynchronous calls (POST /async/{namespace}/{function}/...): the NATS server(s) with
  // JetStream of the call queue, nats://[user:pass@]host:port[,...]. Empty: /async/ answers
  // 501 and Prefer: respond-async is ignored.
  std::string async_nats_url;
};

// Runs until SIGTERM or SIGINT; returns the process exit code. Progress goes to `err`; the
// gateway URL is printed on `out` once the platform and the first Functions are ready.
int run_up(const UpOptions& options, std::ostream& out, std::ostream& err);

}  // namespace kubefn::platform::local
