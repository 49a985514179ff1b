#include "kubefn/controller/source_fetcher.hpp"

#include <cpprest/http_client.h>
#include <cpprest/streams.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <vector>

#include "kubefn/controller/source_digest.hpp"

namespace kubefn::controller {

namespace {

namespace http = web::http;
namespace client = web::http::client;
using Clock = std::chrono::steady_clock;

FetchResult unavailable(std::string message) {
  return {FetchResult::Error::kUnavailable, {}, std::move(message)};
}

std::string mib(std::size_t bytes) {
  if (bytes % (std::size_t{1} << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes) + " bytes";
}

FetchResult too_large(const std::string& url, std::size_t limit) {
  return {FetchResult::Error::kTooLarge,
          {},
          url + " serves more than " + mib(limit) +
              ", the most a source ConfigMap can hold: shrink the source or build an image and "
              "set spec.image"};
}

bool is_redirect(http::status_code code) {
  return code == 301 || code == 302 || code == 303 || code == 307 || code == 308;
}

std::string seconds_text(std::chrono::seconds s) {
  return std::to_string(s.count()) + " s";
}

}  // namespace

FetchResult HttpSourceFetcher::fetch(const std::string& url) {
  const auto deadline = Clock::now() + limits_.timeout;
  std::string current = url;
  for (int redirects = 0;; ++redirects) {
    web::uri uri;
    try {
      uri = web::uri(utility::conversions::to_string_t(current));
    } catch (const std::exception& e) {
      return unavailable("\"" + current + "\" is not a URL: " + e.what());
    }
    const std::string scheme = utility::conversions::to_utf8string(uri.scheme());
    if (scheme != "http" && scheme != "https") {
      return unavailable(current + " is not http(s)" +
                         (current == url ? "" : " (a redirect from " + url + ")"));
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return unavailable("no answer from " + url + " within " + seconds_text(limits_.timeout));
    }

    client::http_client_config config;
    config.set_timeout(left);
    config.set_max_redirects(0);  // followed here, so scheme and count are checked
    pplx::cancellation_token_source cancel;
    try {
      client::http_client http_client(uri.authority(), config);
      http::http_request request(http::methods::GET);
      // The fragment is the client's, never sent.
      std::string resource = utility::conversions::to_utf8string(uri.resource().to_string());
      if (const auto hash = resource.find('#'); hash != std::string::npos) resource.resize(hash);
      request.set_request_uri(utility::conversions::to_string_t(resource));
      http::http_response response = http_client.request(request, cancel.get_token()).get();
      const http::status_code code = response.status_code();

      if (is_redirect(code)) {
        const auto location = response.headers().find(U("Location"));
        if (location == response.headers().end()) {
          return unavailable("GET " + current + " answered " + std::to_string(code) +
                             " without a Location");
        }
        if (redirects >= limits_.max_redirects) {
          return unavailable(url + " redirects more than " + std::to_string(limits_.max_redirects) +
                             " times");
        }
        cancel.cancel();
        current = utility::conversions::to_utf8string(uri.resolve_uri(location->second));
        continue;
      }
      if (code < 200 || code > 299) {
        cancel.cancel();
        std::string reason = utility::conversions::to_utf8string(response.reason_phrase());
        return unavailable("GET " + current + " answered " + std::to_string(code) +
                           (reason.empty() ? "" : " " + reason));
      }
      const auto length = response.headers().content_length();
      if (length > limits_.max_bytes) {
        cancel.cancel();
        return too_large(url, limits_.max_bytes);
      }

      // Read in pieces, so a body without a length cannot grow past the bound.
      std::string text;
      auto body = response.body().streambuf();
      std::vector<std::uint8_t> piece(64 * 1024);
      for (;;) {
        if (Clock::now() >= deadline) {
          cancel.cancel();
          return unavailable("no answer from " + url + " within " + seconds_text(limits_.timeout));
        }
        const std::size_t n = body.getn(piece.data(), piece.size()).get();
        if (n == 0) break;
        text.append(reinterpret_cast<const char*>(piece.data()), n);
        if (text.size() > limits_.max_bytes) {
          cancel.cancel();
          return too_large(url, limits_.max_bytes);
        }
      }
      return {FetchResult::Error::kNone, std::move(text), {}};
    } catch (const http::http_exception& e) {
      if (e.error_code() == std::errc::timed_out) {
        return unavailable("no answer from " + current + " within " +
                           seconds_text(limits_.timeout));
      }
      return unavailable("cannot fetch " + current + ": " + e.what());
    } catch (const pplx::task_canceled&) {
      return unavailable("fetching " + current + " was cancelled");
    } catch (const std::exception& e) {
      return unavailable("cannot fetch " + current + ": " + e.what());
    }
  }
}

UrlSources::UrlSources(SourceFetcher& fetcher, UrlSourceCacheLimits limits)
    : fetcher_(fetcher), limits_(limits) {}

UrlSources::UrlSources(UrlSourceCacheLimits limits)
    : owned_(std::make_unique<HttpSourceFetcher>()), fetcher_(*owned_), limits_(limits) {}

std::chrono::seconds UrlSources::failed(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  if (failures_.size() > 1024) failures_.clear();  // bounded: forgets old failures wholesale
  const int n = std::min(++failures_[key], 16);
  return std::min<std::chrono::seconds>(kFirstRetry * (1 << (n - 1)), kMaxRetry);
}

void UrlSources::remember(const std::string& sha256, const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  if (by_sha_.count(sha256) != 0 || text.size() > limits_.max_bytes) return;
  lru_.emplace_front(sha256, text);
  by_sha_[sha256] = lru_.begin();
  bytes_ += text.size();
  while (!lru_.empty() && (lru_.size() > limits_.max_entries || bytes_ > limits_.max_bytes)) {
    bytes_ -= lru_.back().second.size();
    by_sha_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

std::variant<std::string, StepOutcome> UrlSources::resolve(const std::string& url,
                                                           const std::string& sha256) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_sha_.find(sha256);
    if (it != by_sha_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return it->second->second;
    }
  }
  const std::string key = url + "#sha256:" + sha256;
  FetchResult fetched = fetcher_.fetch(url);
  if (fetched.error == FetchResult::Error::kTooLarge) {
    return StepOutcome::failed("SourceTooLarge", fetched.message, failed(key));
  }
  if (fetched.error != FetchResult::Error::kNone) {
    const auto after = failed(key);
    return StepOutcome::failed("SourceUnavailable",
                               "spec.source.url: " + fetched.message +
                                   ": fix the URL or its server; fetched again in " +
                                   seconds_text(after),
                               after);
  }
  const std::string served = sha256_hex(fetched.body);
  if (served != sha256) {
    const auto after = failed(key);
    return StepOutcome::failed("SourceDigestMismatch",
                               url + " serves sha256 " + served + ", spec.source.sha256 says " +
                                   sha256 +
                                   ": update the sha256 (sha256sum prints it) or fix the URL",
                               after);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    failures_.erase(key);
  }
  remember(sha256, fetched.body);
  return std::move(fetched.body);
}

}  // namespace kubefn::controller
