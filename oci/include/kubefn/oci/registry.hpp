#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kubefn/kube/clock.hpp"
#include "kubefn/kube/result.hpp"
#include "kubefn/oci/credentials.hpp"
#include "kubefn/oci/image.hpp"
#include "kubefn/oci/reference.hpp"

namespace kubefn::oci {

struct RegistryOptions {
  bool plain_http = false;  // http:// instead of https:// (auto-true for localhost/127.*)
  bool tls_verify = true;
  std::size_t chunk_size = 0;  // 0: monolithic upload (POST then PUT); else PATCH chunks
  std::chrono::seconds timeout{60};
  CredentialStore credentials;
  std::string user_agent = "kubefn-build";
  int max_attempts = 3;  // for idempotent steps on 5xx and network errors
  std::chrono::milliseconds retry_backoff{200};
  // Time source for bearer-token expiry (not owned; nullptr: the real clock).
  kube::Clock* clock = nullptr;
};

struct BlobPushResult {
  enum class How { kExisted, kMounted, kUploaded } how = How::kUploaded;
  std::int64_t bytes_sent = 0;
};
struct PushStats {
  int uploaded = 0, existed = 0, mounted = 0;
  std::int64_t bytes_sent = 0;
};
struct FetchedManifest {
  std::string media_type;
  std::string bytes;
  std::string digest;
};

// A client for one registry host speaking the OCI distribution API. Thread-compatible.
class RegistryClient {
 public:
  RegistryClient(std::string registry, RegistryOptions options);
  ~RegistryClient();
  RegistryClient(RegistryClient&&) noexcept;
  RegistryClient& operator=(RegistryClient&&) noexcept;

  const std::string& registry() const { return registry_; }

  kube::Result<bool> blob_exists(const std::string& repository, const std::string& digest);
  // HEAD first; then a cross-repository mount from `mount_from` (if given); then upload.
  kube::Result<BlobPushResult> push_blob(const std::string& repository, std::string_view bytes,
                                         const std::string& digest,
                                         const std::string& mount_from = "");
  // Makes a blob present without its bytes: true when it already was there or was mounted from
  // `mount_from`; false when neither (the registry's offered upload session is cancelled).
  kube::Result<bool> mount_blob(const std::string& repository, const std::string& digest,
                                const std::string& mount_from);
  // Verifies the digest of what it read.
  kube::Result<std::string> get_blob(const std::string& repository, const std::string& digest);
  // GET with Accept for OCI + Docker manifests and indexes; for an index/list,
  // `resolve_platform` picks linux/amd64 and fetches that manifest.
  kube::Result<FetchedManifest> get_manifest(const std::string& repository,
                                             const std::string& reference,
                                             bool resolve_platform = true);
  // HEAD; nullopt if 404.
  kube::Result<std::optional<std::string>> manifest_digest(const std::string& repository,
                                                           const std::string& reference);
  // Returns the digest of `bytes`.
  kube::Result<std::string> put_manifest(const std::string& repository,
                                         const std::string& reference, std::string_view bytes,
                                         std::string_view media_type);
  const PushStats& stats() const;

  class Impl;

 private:
  std::string registry_;
  std::unique_ptr<Impl> impl_;
};

// Pushes the blobs (layers and config, as (descriptor, bytes)); manifest layers that are not
// among them (a base image's) must already be in the target repository or be mounted from
// `mount_from`. Then puts the manifest under the target's tag (or by digest when it has none);
// returns "registry/repo@sha256:...".
kube::Result<std::string> push_image(RegistryClient& client, const ImageReference& target,
                                     const std::vector<std::pair<Descriptor, std::string>>& blobs,
                                     const Manifest& manifest, const std::string& mount_from = "");

}  // namespace kubefn::oci
