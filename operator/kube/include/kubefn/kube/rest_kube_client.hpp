#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "kubefn/kube/client_config.hpp"
#include "kubefn/kube/clock.hpp"
#include "kubefn/kube/kube_client.hpp"
#include "kubefn/kube/result.hpp"
#include "kubefn/kube/retry_policy.hpp"

namespace kubefn::kube {

struct RestClientOptions {
  RetryPolicy retry;
  std::chrono::seconds request_timeout{30};
  // Added to a watch's timeoutSeconds to get the read timeout of its connection.
  std::chrono::seconds watch_timeout_margin{30};
  std::string user_agent = "kubefn-operator";
};

// KubeClient over HTTP(S), built on cpprestsdk. Retries 429 on every verb and 5xx and network
// failures on idempotent verbs, waiting Retry-After or a jittered backoff; re-reads a token file
// and retries once after a 401. `clock` must outlive the client.
Result<std::unique_ptr<KubeClient>> make_rest_kube_client(const ClientConfig& config, Clock& clock,
                                                          const RestClientOptions& options = {});

}  // namespace kubefn::kube
