// Feeds a RouteTable and a KeyRing from the Kubernetes API: Functions, their Pods, and the
// Secret holding the gateway's keys.
//
// Endpoints come from Pods (label kubefn.dev/function=<name>), not EndpointSlices: a Pod
// carries everything the gateway needs (podIP, the Ready condition, the container's "http"
// port, whether that container runs, deletion in progress) with no dependency on the Service's
// endpoint controller, so a replica is routable the moment its readiness probe passes and leaves
// the table the moment it starts terminating. The informer strips Pods to those fields to keep the
// cache small.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "kubefn/gateway/key_ring.hpp"
#include "kubefn/gateway/route_table.hpp"
#include "kubefn/kube/clock.hpp"
#include "kubefn/kube/informer.hpp"
#include "kubefn/kube/kube_client.hpp"

namespace kubefn::gateway {

struct KubernetesSourceOptions {
  std::vector<std::string> namespaces;  // empty: all namespaces
  // The Secret whose data values are the accepted bearer tokens; empty name: none.
  std::string keys_secret_namespace = "kubefn-system";
  std::string keys_secret_name = "kubefn-gateway-keys";
  std::uint16_t default_port = 8080;  // when a pod declares no "http" port
  // Told of what the gateway refuses to use (a malformed key entry); may be empty.
  std::function<void(const std::string& message)> log;
};

// Route of a Function object (no endpoints; its trigger claims and creationTimestamp, which
// the RouteTable resolves); nullopt when it has no name.
std::optional<FunctionRoute> route_from_function(const nlohmann::json& function);
// The names of the event triggers of a Function's spec.triggers (schedules, nats, kafka).
std::vector<std::string> event_trigger_names(const nlohmann::json& triggers);
// The endpoint a Pod provides (ready when it has an IP, Ready=True and no deletion pending;
// started when its function container -- the one declaring the "http" port, else the one
// named "function", else the only one -- is running and no deletion is pending, which is when
// the gateway may probe it while calls wait for a first replica); nullopt when it has no IP
// yet.
std::optional<Endpoint> endpoint_from_pod(const nlohmann::json& pod, std::uint16_t default_port);
// Keys of a Secret: each data (base64) or stringData value named ID holds tokens, one per
// line, as a key file does ("TOKEN [SCOPE[,SCOPE...]]"); a value named "ID.scopes" gives the
// scopes (comma-separated) of the lines of ID that name none. A malformed entry opens
// nothing (its tokens are left out) and is described in *errors; the others still count.
std::vector<Key> keys_from_secret(const nlohmann::json& secret,
                                  std::vector<std::string>* errors = nullptr);

class KubernetesSource {
 public:
  KubernetesSource(kube::KubeClient& client, kube::Clock& clock, RouteTable& routes, KeyRing& keys,
                   KubernetesSourceOptions options = {});
  ~KubernetesSource();
  KubernetesSource(const KubernetesSource&) = delete;
  KubernetesSource& operator=(const KubernetesSource&) = delete;

  void start();
  void stop();
  // True once every informer listed once.
  bool synced() const;
  bool wait_for_sync(std::chrono::milliseconds timeout);

 private:
  void on_function(const nlohmann::json& fn, bool deleted);
  void on_pod(const nlohmann::json& pod);
  void refresh_endpoints(const std::string& ns, const std::string& name);
  void on_secret(const nlohmann::json& secret, bool deleted);

  kube::KubeClient& client_;
  kube::Clock& clock_;
  RouteTable& routes_;
  KeyRing& keys_;
  const KubernetesSourceOptions options_;
  std::vector<std::unique_ptr<kube::Informer>> functions_;
  std::vector<std::unique_ptr<kube::Informer>> pods_;
  std::unique_ptr<kube::Informer> secret_;
  std::mutex mu_;  // serialises endpoint refreshes from several pod informers
};

}  // namespace kubefn::gateway
