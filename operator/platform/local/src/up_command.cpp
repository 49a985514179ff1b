#include "kubefn/platform/local/up_command.hpp"

#include <CLI/CLI.hpp>
#include <iostream>

#include "kubefn/platform/local/up.hpp"

namespace kubefn::platform::local {

void add_up_command(CLI::App& app) {
  auto options = std::make_shared<UpOptions>();
  auto* up = app.add_subcommand(
      "up", "run the local platform in the foreground: API, builds, replicas, gateway, metrics");
  up->add_option("dir", options->dir, "a directory (searched recursively) or file of Functions");
  up->add_option("--gateway-port", options->gateway_port, "gateway port (0 picks one)")
      ->capture_default_str();
  up->add_option("--metrics-port", options->metrics_port, "metrics port (0 picks one)")
      ->capture_default_str();
  up->add_option("--api-port", options->api_port, "API server port (0 picks one)")
      ->capture_default_str();
  up->add_option("--bind-address", options->bind_address, "address every port binds")
      ->capture_default_str();
  up->add_option("--home", options->home,
                 "state, builds and logs (default $KUBEFN_HOME or ~/.kubefn)");
  up->add_option("--runtime", options->runtime_binary, "the kubefn-runtime replicas run");
  up->add_option("--sdk-include", options->sdk_include, "SDK headers functions compile against");
  up->add_option(
      "--keys-file", options->keys_file,
      "tokens private functions accept, one per line: TOKEN [SCOPE[,SCOPE...]] with SCOPE *, "
      "NAMESPACE/* or NAMESPACE/NAME (default: the platform token, generated in the home)");
  up->add_option("--async-nats-url", options->async_nats_url,
                 "NATS server(s) with JetStream for asynchronous calls, nats://host:port "
                 "(empty: /async/ answers 501)")
      ->envname("KUBEFN_ASYNC_NATS_URL");
  up->add_option("--workers", options->workers, "concurrent reconciles")->check(CLI::Range(1, 64));
  up->add_option("--ready-timeout", options->ready_timeout_seconds,
                 "seconds to wait for the first Functions before printing the gateway URL")
      ->capture_default_str();
  up->add_option("--activation-timeout", options->activation_timeout_seconds,
                 "seconds a call waits for the first replica of a function at zero")
      ->capture_default_str();
  up->add_option("--queue-limit", options->queue_limit,
                 "calls a function may have waiting for capacity before the gateway answers 429")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  up->add_option("--queue-timeout", options->queue_timeout_seconds,
                 "seconds a call may wait for capacity before the gateway answers 503")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  up->add_option("--prices", options->prices_file,
                 "price sheet (YAML or JSON) every cost is computed with; read again when it "
                 "changes, a new sheet applying from then on (docs/cost.md)");
  up->add_option("--price", options->price_flags,
                 "one field of the price sheet over --prices, KEY=VALUE (repeatable), e.g. "
                 "cpuCoreHour=0.05 or lambda.gbSecond=0.0000133334");
  up->add_flag("--containers", options->containers,
               "run replicas as podman containers of built images (needs --registry)");
  up->add_option("--registry", options->registry,
                 "with --containers: repository prefix images are pushed to, e.g. "
                 "127.0.0.1:5000/kubefn");
  up->add_option("--base-image", options->base_image,
                 "with --containers: the runtime base image (default: assembled and pushed)");
  up->callback([options] {
    const int rc = run_up(*options, std::cout, std::cerr);
    if (rc != 0) throw CLI::RuntimeError(rc);
    throw CLI::Success();
  });
}

}  // namespace kubefn::platform::local
