#include "kubefn/platform/kubernetes/desired.hpp"

#include "kubefn/controller/runtime_env.hpp"
#include "kubefn/controller/source_digest.hpp"
#include "kubefn/controller/spec_validation.hpp"

namespace kubefn::platform::kubernetes {

using controller::FunctionSpec;
using controller::sha256_hex;
using nlohmann::json;

std::string source_config_map_name(const FunctionSpec& spec, const std::string& digest) {
  return spec.name + "-src-" + digest.substr(0, 10);
}

json owner_reference(const FunctionSpec& spec) {
  return {{"apiVersion", api::kApiVersion},
          {"kind", api::kKind},
          {"name", spec.name},
          {"uid", spec.uid},
          {"controller", true},
          {"blockOwnerDeletion", true}};
}

json common_labels(const FunctionSpec& spec) {
  return {{"app.kubernetes.io/name", spec.name},
          {"app.kubernetes.io/managed-by", kManagedBy},
          {"app.kubernetes.io/part-of", "kubefn"},
          {api::kFunctionLabel, spec.name}};
}

std::string selector_string(const FunctionSpec& spec) {
  return std::string(api::kFunctionLabel) + "=" + spec.name;
}

json make_source_config_map(const FunctionSpec& spec, const std::string& source_text,
                            const std::string& digest) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata",
           {{"name", source_config_map_name(spec, digest)},
            {"namespace", spec.ns},
            {"labels", common_labels(spec)},
            {"annotations", {{api::kSourceDigestAnnotation, digest}}},
            {"ownerReferences", json::array({owner_reference(spec)})}}},
          {"immutable", true},
          {"data", {{spec.module + ".cpp", source_text}}}};
}

namespace {

// The runtime's environment (controller::runtime_env), what only the pod knows taken from it,
// then spec.env as written (valueFrom included).
json container_env(const FunctionSpec& spec, const std::string& stats_address) {
  using From = controller::RuntimeEnvVar::From;
  json env = json::array();
  for (const auto& v : controller::runtime_env(spec, {"/kubefn", kFunctionPort, stats_address})) {
    switch (v.from) {
      case From::kLiteral:
        env.push_back({{"name", v.name}, {"value", v.value}});
        break;
      case From::kMemoryLimit:
        env.push_back(
            {{"name", v.name},
             {"valueFrom",
              {{"resourceFieldRef",
                {{"containerName", kFunctionContainer}, {"resource", "limits.memory"}}}}}});
        break;
      case From::kReplicaName:
        env.push_back(
            {{"name", v.name}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}});
        break;
      case From::kReplicaNamespace:
        env.push_back({{"name", v.name},
                       {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.namespace"}}}}}});
        break;
    }
  }
  for (const auto& e : spec.env)
    env.push_back(e);
  return env;
}

// A volume name (a DNS-1123 label) for a Secret, whatever its name: secret-<name>, or, for a
// name with dots or too long for a label, secret--<16 hex of its SHA-256> (no Secret name
// starts with '-', so the two forms never meet).
std::string secret_volume_name(const std::string& secret) {
  const std::string plain = "secret-" + secret;
  if (plain.size() <= 63 && plain.find('.') == std::string::npos) return plain;
  return "secret--" + sha256_hex(secret).substr(0, 16);
}

}  // namespace

json make_deployment(const FunctionSpec& spec, const DeploymentInputs& in) {
  json labels = common_labels(spec);
  json volumes = json::array({{{"name", "tmp"}, {"emptyDir", {{"sizeLimit", "64Mi"}}}}});
  json mounts = json::array({{{"name", "tmp"}, {"mountPath", "/tmp"}}});
  if (!in.source_config_map.empty()) {
    volumes.push_back({{"name", "source"}, {"configMap", {{"name", in.source_config_map}}}});
    mounts.push_back({{"name", "source"}, {"mountPath", "/kubefn/src"}, {"readOnly", true}});
  }
  for (const auto& s : spec.secrets) {
    volumes.push_back({{"name", secret_volume_name(s)}, {"secret", {{"secretName", s}}}});
    mounts.push_back({{"name", secret_volume_name(s)},
                      {"mountPath", "/var/run/secrets/kubefn/" + s},
                      {"readOnly", true}});
  }
  json container = {
      {"name", kFunctionContainer},
      {"image", in.image},
      {"imagePullPolicy", "IfNotPresent"},
      {"ports",
       json::array({{{"name", "http"}, {"containerPort", kFunctionPort}, {"protocol", "TCP"}}})},
      {"env", container_env(spec, in.stats_address)},
      {"resources", controller::effective_resources(spec.resources)},
      {"readinessProbe",
       {{"httpGet", {{"path", "/readyz"}, {"port", "http"}}},
        {"periodSeconds", 1},
        {"failureThreshold", 2},
        {"timeoutSeconds", 1}}},
      {"livenessProbe",
       {{"httpGet", {{"path", "/healthz"}, {"port", "http"}}},
        {"periodSeconds", 10},
        {"failureThreshold", 3},
        {"timeoutSeconds", 2}}},
      {"securityContext",
       {{"allowPrivilegeEscalation", false},
        {"readOnlyRootFilesystem", true},
        {"runAsNonRoot", true},
        {"capabilities", {{"drop", json::array({"ALL"})}}}}},
      {"volumeMounts", mounts},
  };
  if (!spec.env_from.empty()) container["envFrom"] = spec.env_from;

  json pod_annotations = {{"prometheus.io/scrape", "true"},
                          {"prometheus.io/port", std::to_string(kFunctionPort)},
                          {"prometheus.io/path", "/metrics"}};
  if (!in.source_digest.empty()) pod_annotations[api::kSourceDigestAnnotation] = in.source_digest;

  json deployment = {
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata",
       {{"name", spec.name},
        {"namespace", spec.ns},
        {"labels", labels},
        {"ownerReferences", json::array({owner_reference(spec)})}}},
      {"spec",
       {{"selector", {{"matchLabels", {{api::kFunctionLabel, spec.name}}}}},
        {"revisionHistoryLimit", 3},
        {"strategy",
         {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxUnavailable", 0}, {"maxSurge", 1}}}}},
        {"template",
         {{"metadata", {{"labels", labels}, {"annotations", pod_annotations}}},
          {"spec",
           {{"containers", json::array({container})},
            {"volumes", volumes},
            {"automountServiceAccountToken", false},
            {"enableServiceLinks", false},
            {"terminationGracePeriodSeconds", spec.timeout_seconds + 10},
            {"securityContext",
             {{"runAsNonRoot", true},
              {"runAsUser", 65532},
              {"runAsGroup", 65532},
              {"seccompProfile", {{"type", "RuntimeDefault"}}}}}}}}}}},
  };
  if (in.replicas) deployment["spec"]["replicas"] = *in.replicas;
  return deployment;
}

json make_service(const FunctionSpec& spec) {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata",
           {{"name", spec.name},
            {"namespace", spec.ns},
            {"labels", common_labels(spec)},
            {"annotations", {{api::kAccessAnnotation, controller::to_string(spec.access)}}},
            {"ownerReferences", json::array({owner_reference(spec)})}}},
          {"spec",
           {{"type", "ClusterIP"},
            {"selector", {{api::kFunctionLabel, spec.name}}},
            {"ports", json::array({{{"name", "http"},
                                    {"port", kFunctionPort},
                                    {"targetPort", "http"},
                                    {"protocol", "TCP"}}})}}}};
}

std::string build_job_name(const FunctionSpec& spec, const std::string& digest) {
  const std::string suffix = "-build-" + digest.substr(0, 10);
  return spec.name.substr(0, 63 - suffix.size()) + suffix;
}

std::string build_image_tag(const std::string& digest) {
  return "src-" + digest.substr(0, 16);
}

json make_build_job(const FunctionSpec& spec, const BuildJobInputs& in) {
  const std::string name = build_job_name(spec, in.source_digest);
  json labels = common_labels(spec);
  labels[api::kBuildLabel] = name;
  json args =
      json::array({"function", "--source", "/kubefn/src", "--handler",
                   spec.module + "." + spec.handler_name, "--base", in.base_image, "--image",
                   in.repository, "--tag", build_image_tag(in.source_digest), "--source-digest",
                   in.source_digest, "--termination-log", "/dev/termination-log", "--json"});
  // The declared packages must be in the builder image: a build pod installs nothing (it runs
  // unprivileged, and a cluster's pods need not reach a package mirror). kubefn-build fails
  // naming the package the image lacks.
  for (const auto& d : spec.dependencies) {
    args.push_back("--dependency");
    args.push_back(d);
  }
  if (in.plain_http) args.push_back("--plain-http");
  json volumes = json::array({{{"name", "source"}, {"configMap", {{"name", in.source_config_map}}}},
                              {{"name", "tmp"}, {"emptyDir", {{"sizeLimit", "2Gi"}}}}});
  json mounts = json::array({{{"name", "source"}, {"mountPath", "/kubefn/src"}, {"readOnly", true}},
                             {{"name", "tmp"}, {"mountPath", "/tmp"}}});
  if (!in.registry_secret.empty()) {
    args.push_back("--registry-config");
    args.push_back("/kubefn/registry/config.json");
    volumes.push_back(
        {{"name", "registry"},
         {"secret",
          {{"secretName", in.registry_secret},
           {"items", json::array({{{"key", ".dockerconfigjson"}, {"path", "config.json"}}})}}}});
    mounts.push_back({{"name", "registry"}, {"mountPath", "/kubefn/registry"}, {"readOnly", true}});
  }
  // Every build runs as the builder's non-root user, with no capability.
  const json security = {{"allowPrivilegeEscalation", false},
                         {"capabilities", {{"drop", json::array({"ALL"})}}}};
  const json pod_security = {{"runAsNonRoot", true},
                             {"runAsUser", 65532},
                             {"runAsGroup", 65532},
                             {"seccompProfile", {{"type", "RuntimeDefault"}}}};
  json container = {
      {"name", kBuildContainer},
      {"image", in.builder_image},
      {"imagePullPolicy", "IfNotPresent"},
      {"args", args},
      {"resources",
       {{"requests", {{"cpu", "500m"}, {"memory", "256Mi"}}}, {"limits", {{"memory", "2Gi"}}}}},
      {"securityContext", security},
      {"terminationMessagePolicy", "FallbackToLogsOnError"},
      {"volumeMounts", mounts}};
  return {{"apiVersion", "batch/v1"},
          {"kind", "Job"},
          {"metadata",
           {{"name", name},
            {"namespace", spec.ns},
            {"labels", labels},
            {"annotations", {{api::kSourceDigestAnnotation, in.source_digest}}},
            {"ownerReferences", json::array({owner_reference(spec)})}}},
          {"spec",
           {{"backoffLimit", 0},  // a compile error does not get better by retrying
            {"activeDeadlineSeconds", in.timeout_seconds},
            {"ttlSecondsAfterFinished", 3600},
            {"template",
             {{"metadata", {{"labels", labels}}},
              {"spec",
               {{"restartPolicy", "Never"},
                {"automountServiceAccountToken", false},
                {"enableServiceLinks", false},
                {"securityContext", pod_security},
                {"containers", json::array({container})},
                {"volumes", volumes}}}}}}}};
}

}  // namespace kubefn::platform::kubernetes
