// Boost 1.74's asio needs <utility> first under C++20 (the build also force-includes it).
#include "kubefn/oci/registry.hpp"

#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>
#include <utility>

#include "kubefn/kube/status_mapping.hpp"
#include "kubefn/oci/digest.hpp"
#include "kubefn/oci/www_authenticate.hpp"

namespace kubefn::oci {

using kube::Result;
using kube::Status;
using kube::StatusCode;
namespace http = web::http;
namespace client = web::http::client;

namespace {

constexpr std::string_view kManifestAccept =
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct Request {
  std::string method;
  std::string url;  // absolute, or a path ("/v2/...") on the registry
  std::map<std::string, std::string> headers;
  std::string_view body;
  bool has_body = false;
  std::string content_type;
};

std::string lower(std::string text) {
  for (char& c : text)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool is_local(const std::string& registry) {
  return registry.starts_with("localhost") || registry.starts_with("127.") ||
         registry.starts_with("[::1]");
}

StatusCode code_for_http(int status) {
  // Range Not Satisfiable: the registry disagrees with a chunked upload's offsets.
  if (status == 416) return StatusCode::kInvalid;
  return kube::status_code_from_http(status);
}

// "<status> <CODE>: <message>" from a distribution error body ({"errors": [{code, message}]}).
std::pair<std::string, std::string> describe_error(const Response& response) {
  std::string code, text = std::to_string(response.status);
  const auto doc = nlohmann::json::parse(response.body, nullptr, false);
  if (!doc.is_discarded() && doc.is_object() && doc.contains("errors") &&
      doc["errors"].is_array() && !doc["errors"].empty()) {
    for (const auto& error : doc["errors"]) {
      if (!error.is_object()) continue;
      const std::string this_code = error.value("code", std::string());
      const std::string message = error.value("message", std::string());
      if (code.empty()) code = this_code;
      text += " " + this_code + ": " + message;
      if (&error != &doc["errors"].back()) text += ";";
    }
    return {text, code};
  }
  if (!doc.is_discarded() && doc.is_object() && doc.contains("details")) {
    text += ": " + doc.value("details", std::string());  // token servers
    return {text, code};
  }
  if (response.body.empty()) {
    // HEAD replies carry no body: name the usual distribution error for the status.
    switch (response.status) {
      case 401:
        return {text + " UNAUTHORIZED: authentication required", "UNAUTHORIZED"};
      case 403:
        return {text + " DENIED: requested access to the resource is denied", "DENIED"};
      case 404:
        return {text + " NOT_FOUND: not found", "NOT_FOUND"};
      case 429:
        return {text + " TOOMANYREQUESTS: too many requests", "TOOMANYREQUESTS"};
      default:
        return {text, code};
    }
  }
  std::string body = response.body.substr(0, 200);
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r'))
    body.pop_back();
  if (!body.empty()) text += ": " + body;
  return {text, code};
}

std::string strip_params(const std::string& media_type) {
  std::string out = media_type.substr(0, media_type.find(';'));
  while (!out.empty() && out.back() == ' ')
    out.pop_back();
  return out;
}

std::string with_query(const std::string& url, const std::string& query) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + query;
}

std::string query_escape(const std::string& text) {
  return web::uri::encode_data_string(text);
}

}  // namespace

class RegistryClient::Impl {
 public:
  Impl(std::string registry, RegistryOptions options)
      : registry_(std::move(registry)), options_(std::move(options)) {
    if (is_local(registry_)) options_.plain_http = true;
    if (!options_.clock) options_.clock = &real_clock_;
    base_ = std::string(options_.plain_http ? "http://" : "https://") + registry_;
  }

  PushStats stats;

  // -- operations ---------------------------------------------------------------------------

  Result<bool> blob_exists(const std::string& repo, const std::string& digest,
                           const std::vector<std::string>& scopes, const std::string& op) {
    Request request{"HEAD", "/v2/" + repo + "/blobs/" + digest, {}, {}, false, {}};
    auto response = send(request, scopes, /*idempotent=*/true);
    if (!response.ok()) return error(op + " " + repo, response.status());
    if (response->status == 200) return true;
    if (response->status == 404) return false;
    return http_error(op + " " + repo, *response);
  }

  Result<BlobPushResult> push_blob(const std::string& repo, std::string_view bytes,
                                   const std::string& digest, const std::string& mount_from) {
    const std::string op = "push " + repo;
    if (!is_valid_digest(digest)) {
      return Status(StatusCode::kInvalid, prefix(op) + "bad digest \"" + digest + "\"");
    }
    if (digest.starts_with("sha256:") && sha256_digest(bytes) != digest) {
      return Status(StatusCode::kInvalid, prefix(op) + "blob bytes do not match digest " + digest);
    }
    const std::vector<std::string> push_scopes = {"repository:" + repo + ":pull,push"};
    auto exists = blob_exists(repo, digest, push_scopes, "push");
    if (!exists.ok()) return exists.status();
    if (*exists) {
      ++stats.existed;
      return BlobPushResult{BlobPushResult::How::kExisted, 0};
    }
    std::string location;
    if (!mount_from.empty() && mount_from != repo) {
      std::vector<std::string> mount_scopes = push_scopes;
      mount_scopes.push_back("repository:" + mount_from + ":pull");
      Request request{"POST",
                      "/v2/" + repo + "/blobs/uploads/?mount=" + query_escape(digest) +
                          "&from=" + query_escape(mount_from),
                      {},
                      {},
                      true,
                      {}};
      auto response = send(request, mount_scopes, /*idempotent=*/true);
      if (!response.ok()) return error("mount " + repo, response.status());
      if (response->status == 201) {
        ++stats.mounted;
        return BlobPushResult{BlobPushResult::How::kMounted, 0};
      }
      if (response->status != 202) return http_error("mount " + repo, *response);
      location = response->header("location");  // the registry opened an upload instead
    }
    Status last;
    for (int attempt = 0; attempt < std::max(1, options_.max_attempts); ++attempt) {
      if (attempt > 0) {
        std::this_thread::sleep_for(options_.retry_backoff * attempt);
        location.clear();
      }
      auto sent = upload(repo, bytes, digest, push_scopes, location);
      if (sent.ok()) {
        ++stats.uploaded;
        stats.bytes_sent += *sent;
        return BlobPushResult{BlobPushResult::How::kUploaded, *sent};
      }
      last = sent.status();
      if (!retryable(last)) break;
    }
    return last;
  }

  Result<bool> mount_blob(const std::string& repo, const std::string& digest,
                          const std::string& from) {
    const std::string op = "mount " + repo;
    std::vector<std::string> scopes = {"repository:" + repo + ":pull,push"};
    auto exists = blob_exists(repo, digest, scopes, "push");
    if (!exists.ok()) return exists.status();
    if (*exists) {
      ++stats.existed;
      return true;
    }
    if (from.empty() || from == repo) return false;
    scopes.push_back("repository:" + from + ":pull");
    Request request{"POST",
                    "/v2/" + repo + "/blobs/uploads/?mount=" + query_escape(digest) +
                        "&from=" + query_escape(from),
                    {},
                    {},
                    true,
                    {}};
    auto response = send(request, scopes, /*idempotent=*/true);
    if (!response.ok()) return error(op, response.status());
    if (response->status == 201) {
      ++stats.mounted;
      return true;
    }
    if (response->status != 202) return http_error(op, *response);
    // The registry opened an upload session instead; cancel it (best effort).
    if (const std::string location = response->header("location"); !location.empty()) {
      Request cancel{"DELETE", resolve(location, base_), {}, {}, false, {}};
      (void)send(cancel, scopes, /*idempotent=*/true);
    }
    return false;
  }

  Result<std::string> get_blob(const std::string& repo, const std::string& digest) {
    const std::string op = "pull " + repo;
    const std::vector<std::string> scopes = {"repository:" + repo + ":pull"};
    Request request{"GET", "/v2/" + repo + "/blobs/" + digest, {}, {}, false, {}};
    auto response = send(request, scopes, true);
    for (int hops = 0; response.ok() && hops < 5 && is_redirect(response->status); ++hops) {
      const std::string target = resolve(response->header("location"), request.url);
      request = Request{"GET", target, {}, {}, false, {}};
      // Redirect targets (object storage) get no registry credentials.
      response = send_raw(request, true);
    }
    if (!response.ok()) return error(op, response.status());
    if (response->status != 200) return http_error(op, *response);
    if (digest.starts_with("sha256:") && sha256_digest(response->body) != digest) {
      return Status(StatusCode::kInvalid,
                    prefix(op) + "blob " + digest + " does not match its digest");
    }
    return std::move(response->body);
  }

  Result<FetchedManifest> get_manifest(const std::string& repo, const std::string& reference,
                                       bool resolve_platform) {
    const std::string op = "pull " + repo;
    const std::vector<std::string> scopes = {"repository:" + repo + ":pull"};
    Request request{"GET", "/v2/" + repo + "/manifests/" + reference, {}, {}, false, {}};
    request.headers["Accept"] = std::string(kManifestAccept);
    auto response = send(request, scopes, true);
    if (!response.ok()) return error(op, response.status());
    if (response->status != 200) return http_error(op, *response);
    FetchedManifest out;
    out.bytes = std::move(response->body);
    out.digest = sha256_digest(out.bytes);
    if (reference.starts_with("sha256:") && out.digest != reference) {
      return Status(StatusCode::kInvalid,
                    prefix(op) + "manifest " + reference + " does not match its digest");
    }
    out.media_type = strip_params(response->header("content-type"));
    if (out.media_type.empty() || out.media_type == "application/json" ||
        out.media_type == "text/plain") {
      const auto doc = nlohmann::json::parse(out.bytes, nullptr, false);
      if (!doc.is_discarded() && doc.is_object()) {
        out.media_type = doc.value("mediaType", std::string());
        if (out.media_type.empty()) {
          out.media_type = std::string(doc.contains("manifests") ? kOciIndex : kOciManifest);
        }
      }
    }
    if (resolve_platform &&
        (out.media_type == kOciIndex || out.media_type == kDockerManifestList)) {
      auto index = parse_index(out.bytes);
      if (!index.ok()) return Status(index.status().code(), prefix(op) + index.status().message());
      auto entry = select_platform(*index, "linux", "amd64");
      if (!entry) {
        return Status(StatusCode::kNotFound,
                      prefix(op) + reference + " is an index with no linux/amd64 manifest");
      }
      return get_manifest(repo, entry->descriptor.digest, false);
    }
    return out;
  }

  Result<std::optional<std::string>> manifest_digest(const std::string& repo,
                                                     const std::string& reference) {
    const std::string op = "pull " + repo;
    const std::vector<std::string> scopes = {"repository:" + repo + ":pull"};
    Request request{"HEAD", "/v2/" + repo + "/manifests/" + reference, {}, {}, false, {}};
    request.headers["Accept"] = std::string(kManifestAccept);
    auto response = send(request, scopes, true);
    if (!response.ok()) return error(op, response.status());
    if (response->status == 404) return std::optional<std::string>();
    if (response->status != 200) return http_error(op, *response);
    std::string digest = response->header("docker-content-digest");
    if (!is_valid_digest(digest)) {
      auto fetched = get_manifest(repo, reference, false);
      if (!fetched.ok()) return fetched.status();
      digest = fetched->digest;
    }
    return std::optional<std::string>(digest);
  }

  Result<std::string> put_manifest(const std::string& repo, const std::string& reference,
                                   std::string_view bytes, std::string_view media_type) {
    const std::string op = "push " + repo;
    const std::vector<std::string> scopes = {"repository:" + repo + ":pull,push"};
    Request request{
        "PUT", "/v2/" + repo + "/manifests/" + reference, {}, bytes, true, std::string(media_type)};
    auto response = send(request, scopes, true);
    if (!response.ok()) return error(op, response.status());
    if (response->status != 201 && response->status != 200) return http_error(op, *response);
    const std::string digest = sha256_digest(bytes);
    const std::string reported = response->header("docker-content-digest");
    if (!reported.empty() && reported != digest) {
      return Status(StatusCode::kInternalError, prefix(op) + "registry reports manifest digest " +
                                                    reported + ", expected " + digest);
    }
    return digest;
  }

 private:
  struct CachedToken {
    std::string token;
    std::chrono::steady_clock::time_point expires;
  };

  std::string prefix(const std::string& op) const {
    return "registry " + registry_ + ": " + op + ": ";
  }

  Status error(const std::string& op, const Status& cause) const {
    if (cause.message().starts_with("registry ")) return cause;
    Status out(cause.code(), prefix(op) + cause.message());
    out.set_http_status(cause.http_status());
    out.set_reason(cause.reason());
    return out;
  }

  Status http_error(const std::string& op, const Response& response) const {
    auto [text, code] = describe_error(response);
    if (response.status == 401) {
      if (const std::string helper = options_.credentials.unsupported_helper(registry_);
          !helper.empty()) {
        text += " (credentials for " + registry_ + " come from the credential helper " + helper +
                ", which is not supported; put them in \"auths\" instead)";
      }
    }
    Status out(code_for_http(response.status), prefix(op) + text);
    out.set_http_status(response.status);
    if (!code.empty()) out.set_reason(code);
    return out;
  }

  static bool retryable(const Status& status) {
    return status.code() == StatusCode::kNetworkError || status.code() == StatusCode::kTimeout ||
           status.http_status() >= 500;
  }

  static bool is_redirect(int status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
  }

  // An absolute URL for `location` seen in a reply to `from`.
  std::string resolve(const std::string& location, const std::string& from) const {
    if (location.starts_with("http://") || location.starts_with("https://")) return location;
    std::string origin = base_;
    if (from.starts_with("http://") || from.starts_with("https://")) {
      const auto slash = from.find('/', from.find("://") + 3);
      origin = from.substr(0, slash);
    }
    if (location.starts_with("/")) return origin + location;
    return origin + "/" + location;
  }

  // Uploads a blob in one PUT or in PATCH chunks; returns the bytes sent.
  Result<std::int64_t> upload(const std::string& repo, std::string_view bytes,
                              const std::string& digest, const std::vector<std::string>& scopes,
                              std::string location) {
    const std::string op = "push " + repo;
    if (location.empty()) {
      Request start{"POST", "/v2/" + repo + "/blobs/uploads/", {}, {}, true, {}};
      auto response = send(start, scopes, /*idempotent=*/false);
      if (!response.ok()) return error(op, response.status());
      if (response->status != 202) return http_error(op, *response);
      location = response->header("location");
      if (location.empty()) {
        return Status(StatusCode::kInternalError, prefix(op) + "upload started without Location");
      }
    }
    location = resolve(location, base_);
    std::int64_t sent = 0;
    if (options_.chunk_size > 0) {
      for (std::size_t offset = 0; offset < bytes.size(); offset += options_.chunk_size) {
        const std::string_view chunk = bytes.substr(offset, options_.chunk_size);
        Request patch{"PATCH", location, {}, chunk, true, "application/octet-stream"};
        patch.headers["Content-Range"] =
            std::to_string(offset) + "-" + std::to_string(offset + chunk.size() - 1);
        auto response = send(patch, scopes, false);
        if (!response.ok()) return error(op, response.status());
        if (response->status != 202) return http_error(op, *response);
        sent += static_cast<std::int64_t>(chunk.size());
        if (const std::string next = response->header("location"); !next.empty()) {
          location = resolve(next, location);
        }
      }
      Request finish{"PUT", with_query(location, "digest=" + query_escape(digest)),
                     {},    {},
                     true,  "application/octet-stream"};
      auto response = send(finish, scopes, false);
      if (!response.ok()) return error(op, response.status());
      if (response->status != 201) return http_error(op, *response);
      return sent;
    }
    Request put{"PUT", with_query(location, "digest=" + query_escape(digest)),
                {},    bytes,
                true,  "application/octet-stream"};
    auto response = send(put, scopes, false);
    if (!response.ok()) return error(op, response.status());
    if (response->status != 201) return http_error(op, *response);
    return static_cast<std::int64_t>(bytes.size());
  }

  // Sends with authentication: known scheme first, then on 401 the challenge's scheme, once.
  Result<Response> send(const Request& request, const std::vector<std::string>& scopes,
                        bool idempotent) {
    auto response = send_authorized(request, scopes, idempotent);
    if (!response.ok() || response->status != 401) return response;
    const auto challenges = parse_www_authenticate(response->header("www-authenticate"));
    const AuthChallenge* chosen = nullptr;
    for (const AuthChallenge& challenge : challenges) {
      if (challenge.scheme == "bearer" || (challenge.scheme == "basic" && !chosen)) {
        chosen = &challenge;
      }
    }
    if (!chosen) return response;  // nothing we can answer: report the 401
    if (chosen->scheme == "bearer") {
      const std::string realm = chosen->param("realm");
      if (realm.empty()) return response;
      realm_ = realm;
      service_ = chosen->param("service");
      basic_ = false;
      tokens_.erase(scope_key(scopes));
    } else {
      if (basic_ || !options_.credentials.lookup(registry_)) return response;  // no better answer
      basic_ = true;
    }
    return send_authorized(request, scopes, idempotent);
  }

  Result<Response> send_authorized(const Request& request, const std::vector<std::string>& scopes,
                                   bool idempotent) {
    Request authorized = request;
    if (!realm_.empty()) {
      auto token = bearer_token(scopes);
      if (!token.ok()) return token.status();
      if (!token->empty()) authorized.headers["Authorization"] = "Bearer " + *token;
    } else if (basic_) {
      if (auto credentials = options_.credentials.lookup(registry_)) {
        authorized.headers["Authorization"] =
            "Basic " + base64_encode(credentials->username + ":" + credentials->password);
      }
    }
    return send_raw(authorized, idempotent);
  }

  static std::string scope_key(const std::vector<std::string>& scopes) {
    std::string key;
    for (const std::string& scope : scopes)
      key += scope + " ";
    return key;
  }

  // A token for the scopes from the realm, cached until shortly before it expires.
  Result<std::string> bearer_token(const std::vector<std::string>& scopes) {
    const std::string key = scope_key(scopes);
    const auto now = options_.clock->now();
    if (auto cached = tokens_.find(key); cached != tokens_.end() && cached->second.expires > now) {
      return cached->second.token;
    }
    const auto credentials = options_.credentials.lookup(registry_);
    Request request;
    if (credentials && !credentials->identity_token.empty()) {
      // OAuth2 refresh-token grant, as docker does for identity tokens.
      request.method = "POST";
      request.url = realm_;
      form_ = "grant_type=refresh_token&client_id=" + query_escape(options_.user_agent) +
              "&refresh_token=" + query_escape(credentials->identity_token);
      if (!service_.empty()) form_ += "&service=" + query_escape(service_);
      for (const std::string& scope : scopes)
        form_ += "&scope=" + query_escape(scope);
      request.body = form_;
      request.has_body = true;
      request.content_type = "application/x-www-form-urlencoded";
    } else {
      request.method = "GET";
      request.url = realm_;
      if (!service_.empty())
        request.url = with_query(request.url, "service=" + query_escape(service_));
      for (const std::string& scope : scopes) {
        request.url = with_query(request.url, "scope=" + query_escape(scope));
      }
      if (credentials && !credentials->username.empty()) {
        request.headers["Authorization"] =
            "Basic " + base64_encode(credentials->username + ":" + credentials->password);
      }
    }
    auto response = send_raw(request, true);
    const std::string op = "token from " + realm_;
    if (!response.ok()) return error(op, response.status());
    if (response->status != 200) {
      Status status = http_error(op, *response);
      if (response->status == 400 || response->status == 403) {
        status =
            Status(StatusCode::kUnauthorized, status.message()).set_http_status(response->status);
      }
      return status;
    }
    const auto doc = nlohmann::json::parse(response->body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      return Status(StatusCode::kUnauthorized, prefix(op) + "reply is not a JSON object");
    }
    std::string token = doc.value("token", std::string());
    if (token.empty()) token = doc.value("access_token", std::string());
    if (token.empty()) {
      return Status(StatusCode::kUnauthorized, prefix(op) + "reply has no token");
    }
    long expires_in = 60;
    if (doc.contains("expires_in") && doc["expires_in"].is_number_integer()) {
      expires_in = std::max(1L, doc["expires_in"].get<long>());
    }
    // Renew a little early so a token never expires in flight.
    const auto lifetime = std::chrono::seconds(expires_in > 30 ? expires_in - 10 : expires_in / 2);
    tokens_[key] = CachedToken{token, now + lifetime};
    return token;
  }

  client::http_client& client_for(const std::string& origin) {
    auto found = clients_.find(origin);
    if (found != clients_.end()) return *found->second;
    client::http_client_config config;
    config.set_timeout(options_.timeout);
    config.set_validate_certificates(options_.tls_verify);
    auto made = std::make_unique<client::http_client>(web::uri(origin), config);
    return *clients_.emplace(origin, std::move(made)).first->second;
  }

  // One request as given (retried on network errors and 5xx when idempotent).
  Result<Response> send_raw(const Request& request, bool idempotent) {
    std::string url = request.url;
    if (!url.starts_with("http://") && !url.starts_with("https://")) url = base_ + url;
    const auto scheme_end = url.find("://") + 3;
    const auto path_start = url.find('/', scheme_end);
    const std::string origin = url.substr(0, path_start);
    const std::string target = path_start == std::string::npos ? "/" : url.substr(path_start);
    const int attempts = idempotent ? std::max(1, options_.max_attempts) : 1;
    Result<Response> last = Status(StatusCode::kUnknown, "no attempt made");
    for (int attempt = 0; attempt < attempts; ++attempt) {
      if (attempt > 0) std::this_thread::sleep_for(options_.retry_backoff * attempt);
      last = send_once(origin, target, request);
      if (last.ok() && last->status < 500) return last;
      if (!last.ok() && last.status().code() != StatusCode::kNetworkError &&
          last.status().code() != StatusCode::kTimeout) {
        return last;
      }
    }
    return last;
  }

  Result<Response> send_once(const std::string& origin, const std::string& target,
                             const Request& request) {
    try {
      http::http_request message{http::method(request.method)};
      message.set_request_uri(web::uri(target));
      message.headers().add(http::header_names::user_agent, options_.user_agent);
      for (const auto& [name, value] : request.headers)
        message.headers().add(name, value);
      if (request.has_body) {
        message.set_body(concurrency::streams::bytestream::open_istream(std::string(request.body)),
                         request.body.size(),
                         request.content_type.empty() ? std::string("application/octet-stream")
                                                      : request.content_type);
      }
      http::http_response reply = client_for(origin).request(message).get();
      Response out;
      out.status = reply.status_code();
      for (const auto& [name, value] : reply.headers())
        out.headers[lower(name)] = value;
      if (request.method != "HEAD") {
        const std::vector<unsigned char> body = reply.extract_vector().get();
        out.body.assign(body.begin(), body.end());
      }
      return out;
    } catch (const web::uri_exception& problem) {
      return Status(StatusCode::kInvalid, "bad URL " + origin + target + ": " + problem.what());
    } catch (const std::exception& problem) {
      const std::string what = problem.what();
      const bool timed_out =
          what.find("timed out") != std::string::npos || what.find("timeout") != std::string::npos;
      return Status(timed_out ? StatusCode::kTimeout : StatusCode::kNetworkError,
                    "cannot reach " + origin + ": " + what);
    }
  }

  kube::RealClock real_clock_;
  std::string registry_;
  RegistryOptions options_;
  std::string base_;
  std::map<std::string, std::unique_ptr<client::http_client>> clients_;
  bool basic_ = false;
  std::string realm_, service_;
  std::map<std::string, CachedToken> tokens_;
  std::string form_;
};

RegistryClient::RegistryClient(std::string registry, RegistryOptions options)
    : registry_(registry), impl_(std::make_unique<Impl>(std::move(registry), std::move(options))) {}
RegistryClient::~RegistryClient() = default;
RegistryClient::RegistryClient(RegistryClient&&) noexcept = default;
RegistryClient& RegistryClient::operator=(RegistryClient&&) noexcept = default;

Result<bool> RegistryClient::blob_exists(const std::string& repository, const std::string& digest) {
  return impl_->blob_exists(repository, digest, {"repository:" + repository + ":pull"}, "pull");
}

Result<BlobPushResult> RegistryClient::push_blob(const std::string& repository,
                                                 std::string_view bytes, const std::string& digest,
                                                 const std::string& mount_from) {
  return impl_->push_blob(repository, bytes, digest, mount_from);
}

Result<bool> RegistryClient::mount_blob(const std::string& repository, const std::string& digest,
                                        const std::string& mount_from) {
  return impl_->mount_blob(repository, digest, mount_from);
}

Result<std::string> RegistryClient::get_blob(const std::string& repository,
                                             const std::string& digest) {
  return impl_->get_blob(repository, digest);
}

Result<FetchedManifest> RegistryClient::get_manifest(const std::string& repository,
                                                     const std::string& reference,
                                                     bool resolve_platform) {
  return impl_->get_manifest(repository, reference, resolve_platform);
}

Result<std::optional<std::string>> RegistryClient::manifest_digest(const std::string& repository,
                                                                   const std::string& reference) {
  return impl_->manifest_digest(repository, reference);
}

Result<std::string> RegistryClient::put_manifest(const std::string& repository,
                                                 const std::string& reference,
                                                 std::string_view bytes,
                                                 std::string_view media_type) {
  return impl_->put_manifest(repository, reference, bytes, media_type);
}

const PushStats& RegistryClient::stats() const {
  return impl_->stats;
}

Result<std::string> push_image(RegistryClient& client, const ImageReference& target,
                               const std::vector<std::pair<Descriptor, std::string>>& blobs,
                               const Manifest& manifest, const std::string& mount_from) {
  std::set<std::string> given;
  for (const auto& [descriptor, bytes] : blobs) {
    auto pushed = client.push_blob(target.repository, bytes, descriptor.digest, mount_from);
    if (!pushed.ok()) return pushed.status();
    given.insert(descriptor.digest);
  }
  // Layers not given (a base image's) must already be there or be mountable.
  std::vector<Descriptor> referenced = manifest.layers;
  referenced.push_back(manifest.config);
  for (const Descriptor& descriptor : referenced) {
    if (given.count(descriptor.digest) != 0) continue;
    auto present = client.mount_blob(target.repository, descriptor.digest, mount_from);
    if (!present.ok()) return present.status();
    if (!*present) {
      return kube::Status(StatusCode::kNotFound,
                          "registry " + client.registry() + ": push " + target.repository +
                              ": blob " + descriptor.digest + " is not in the repository" +
                              (mount_from.empty() ? std::string(" and no bytes were given")
                                                  : " and cannot be mounted from " + mount_from));
    }
    given.insert(descriptor.digest);
  }
  const std::string bytes = serialize_manifest(manifest);
  const std::string digest = sha256_digest(bytes);
  const std::string reference = target.tag.empty() ? digest : target.tag;
  auto put = client.put_manifest(target.repository, reference, bytes,
                                 manifest.media_type.empty() ? kOciManifest : manifest.media_type);
  if (!put.ok()) return put.status();
  return target.with_digest(*put);
}

}  // namespace kubefn::oci
