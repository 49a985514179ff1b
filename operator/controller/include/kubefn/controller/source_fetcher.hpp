// Sources named by URL (spec.source.url + spec.source.sha256): fetched over http(s) within
// bounds, checked against the SHA-256 the spec names, and kept in memory by that SHA-256 so a
// converged Function never fetches again.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <variant>

#include "kubefn/controller/platform.hpp"

namespace kubefn::controller {

// What fetching a URL came to.
struct FetchResult {
  enum class Error {
    kNone,
    kUnavailable,  // no connection, a timeout, too many redirects, or a non-2xx answer
    kTooLarge,     // the body is larger than FetchLimits::max_bytes
  };
  Error error = Error::kNone;
  std::string body;     // the bytes served, when error is kNone
  std::string message;  // otherwise what went wrong, naming the URL
};

struct FetchLimits {
  std::size_t max_bytes = std::size_t{1} << 20;  // what one ConfigMap holds
  std::chrono::seconds timeout{10};
  int max_redirects = 5;
};

// Fetches what a URL serves. Implementations must be safe to call from several threads.
class SourceFetcher {
 public:
  virtual ~SourceFetcher() = default;
  virtual FetchResult fetch(const std::string& url) = 0;
};

// GET over http and https (cpprestsdk), following at most limits.max_redirects redirects, to
// http(s) only, and reading at most limits.max_bytes.
class HttpSourceFetcher final : public SourceFetcher {
 public:
  explicit HttpSourceFetcher(FetchLimits limits = {}) : limits_(limits) {}
  FetchResult fetch(const std::string& url) override;
  const FetchLimits& limits() const { return limits_; }

 private:
  FetchLimits limits_;
};

struct UrlSourceCacheLimits {
  std::size_t max_entries = 64;
  std::size_t max_bytes = std::size_t{16} << 20;
};

// The reconcile core's view of URL sources: the verified text for (url, sha256), from memory
// when a source with that SHA-256 was fetched before (least recently used entries go first).
// Failures become a failed StepOutcome (SourceUnavailable, SourceTooLarge,
// SourceDigestMismatch) whose requeue doubles with each consecutive failure of that URL.
// Thread-safe: the controller's workers share one.
class UrlSources {
 public:
  explicit UrlSources(SourceFetcher& fetcher, UrlSourceCacheLimits limits = {});
  // Over its own HttpSourceFetcher with the default limits.
  explicit UrlSources(UrlSourceCacheLimits limits = {});
  UrlSources(const UrlSources&) = delete;
  UrlSources& operator=(const UrlSources&) = delete;

  std::variant<std::string, StepOutcome> resolve(const std::string& url, const std::string& sha256);

  static constexpr std::chrono::seconds kFirstRetry{5};
  static constexpr std::chrono::seconds kMaxRetry{300};

 private:
  std::chrono::seconds failed(const std::string& key);
  void remember(const std::string& sha256, const std::string& text);

  std::unique_ptr<SourceFetcher> owned_;
  SourceFetcher& fetcher_;
  UrlSourceCacheLimits limits_;
  std::mutex mu_;
  std::list<std::pair<std::string, std::string>> lru_;  // (sha256, text), most recent first
  std::unordered_map<std::string, std::list<std::pair<std::string, std::string>>::iterator> by_sha_;
  std::size_t bytes_ = 0;
  std::unordered_map<std::string, int> failures_;  // consecutive failures by url + sha256
};

}  // namespace kubefn::controller
