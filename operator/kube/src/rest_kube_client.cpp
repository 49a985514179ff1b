#include "kubefn/kube/rest_kube_client.hpp"

#include <algorithm>
#include <mutex>
#include <random>

#include "http_transport.hpp"
#include "kubefn/kube/status_mapping.hpp"
#include "kubefn/kube/token_source.hpp"
#include "query_string.hpp"
#include "rest_watch_stream.hpp"

namespace kubefn::kube {
namespace {

using nlohmann::json;

// Whether repeating the request after an unknown outcome cannot do harm.
enum class Idempotency { kSafe, kUnsafe };

std::string_view propagation_name(PropagationPolicy policy) {
  switch (policy) {
    case PropagationPolicy::kBackground:
      return "Background";
    case PropagationPolicy::kForeground:
      return "Foreground";
    case PropagationPolicy::kOrphan:
      return "Orphan";
  }
  return "Background";
}

std::string_view patch_content_type(PatchType type) {
  switch (type) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kJson:
      return "application/json-patch+json";
    case PatchType::kApply:
      return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

class RestKubeClient final : public KubeClient {
 public:
  RestKubeClient(const ClientConfig& config, Clock& clock, const RestClientOptions& options,
                 std::unique_ptr<HttpTransport> transport)
      : clock_(clock),
        options_(options),
        default_namespace_(config.default_namespace),
        tokens_(config, clock),
        transport_(std::move(transport)),
        random_(std::random_device{}()) {}

  Result<json> get(const ObjectRef& ref) override {
    return call("GET", ref.path(), "", "", Idempotency::kSafe);
  }

  Result<ObjectList> list(const GroupVersionResource& resource, const std::string& ns,
                          const ListOptions& options) override {
    QueryString query;
    query.add("labelSelector", options.label_selector)
        .add("fieldSelector", options.field_selector)
        .add("resourceVersion", options.resource_version)
        .add("limit", options.limit > 0 ? std::to_string(options.limit) : "")
        .add("continue", options.continue_token);
    auto reply =
        call("GET", resource.collection_path(ns) + query.str(), "", "", Idempotency::kSafe);
    if (!reply.ok()) return reply.status();
    ObjectList list;
    json& body = *reply;
    if (auto items = body.find("items"); items != body.end() && items->is_array()) {
      list.items.reserve(items->size());
      for (auto& item : *items)
        list.items.push_back(std::move(item));
    }
    if (auto metadata = body.find("metadata"); metadata != body.end() && metadata->is_object()) {
      list.resource_version = metadata->value("resourceVersion", "");
      list.continue_token = metadata->value("continue", "");
    }
    return list;
  }

  Result<json> create(const GroupVersionResource& resource, const json& object,
                      const WriteOptions& options) override {
    const std::string query = QueryString().add("fieldManager", options.field_manager).str();
    return call("POST", resource.collection_path(namespace_of(resource, object)) + query,
                object.dump(), "application/json", Idempotency::kUnsafe);
  }

  Result<json> update(const GroupVersionResource& resource, const json& object,
                      const WriteOptions& options) override {
    return put(resource, object, options, "");
  }

  Result<json> update_status(const GroupVersionResource& resource, const json& object,
                             const WriteOptions& options) override {
    return put(resource, object, options, "/status");
  }

  Result<json> patch(const ObjectRef& ref, PatchType type, const json& patch,
                     const PatchOptions& options) override {
    if (type == PatchType::kApply && options.field_manager.empty()) {
      return Status(StatusCode::kInvalid, "server-side apply needs a field manager");
    }
    QueryString query;
    query.add("fieldManager", options.field_manager);
    if (type == PatchType::kApply && options.force) query.add("force", "true");
    std::string path = ref.path();
    if (!options.subresource.empty()) path += "/" + options.subresource;
    // A JSON patch may append to arrays, so repeating it is not harmless.
    const auto idempotency = type == PatchType::kJson ? Idempotency::kUnsafe : Idempotency::kSafe;
    return call("PATCH", path + query.str(), patch.dump(), std::string(patch_content_type(type)),
                idempotency);
  }

  Result<json> remove(const ObjectRef& ref, const DeleteOptions& options) override {
    json body = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
    if (options.precondition_uid) body["preconditions"]["uid"] = *options.precondition_uid;
    if (options.precondition_resource_version) {
      body["preconditions"]["resourceVersion"] = *options.precondition_resource_version;
    }
    if (options.propagation_policy) {
      body["propagationPolicy"] = propagation_name(*options.propagation_policy);
    }
    if (options.grace_period_seconds) body["gracePeriodSeconds"] = *options.grace_period_seconds;
    return call("DELETE", ref.path(), body.dump(), "application/json", Idempotency::kSafe);
  }

  Result<json> get_scale(const ObjectRef& ref) override {
    return call("GET", ref.path() + "/scale", "", "", Idempotency::kSafe);
  }

  Result<json> update_scale(const ObjectRef& ref, const json& scale) override {
    return call("PUT", ref.path() + "/scale", scale.dump(), "application/json", Idempotency::kSafe);
  }

  Result<std::string> get_log(const ObjectRef& pod, const LogOptions& options) override {
    QueryString query;
    query.add("container", options.container)
        .add("previous", options.previous ? "true" : "")
        .add("tailLines", options.tail_lines > 0 ? std::to_string(options.tail_lines) : "")
        .add("limitBytes", options.limit_bytes > 0 ? std::to_string(options.limit_bytes) : "");
    return call_text("GET", pod.path() + "/log" + query.str(), "", "", Idempotency::kSafe);
  }

  Result<std::unique_ptr<WatchStream>> watch(const GroupVersionResource& resource,
                                             const std::string& ns,
                                             const ListOptions& options) override {
    QueryString query;
    query.add("watch", "true")
        .add("resourceVersion", options.resource_version)
        .add("labelSelector", options.label_selector)
        .add("fieldSelector", options.field_selector)
        .add("allowWatchBookmarks", options.allow_watch_bookmarks ? "true" : "")
        .add("timeoutSeconds",
             options.timeout_seconds ? std::to_string(*options.timeout_seconds) : "");
    // Without timeoutSeconds the server picks up to an hour; the read timeout must exceed it.
    const std::chrono::seconds read_timeout =
        std::chrono::seconds(options.timeout_seconds.value_or(3600)) +
        options_.watch_timeout_margin;

    for (int attempt = 0;; ++attempt) {
      auto token = tokens_.token();
      if (!token.ok()) return token.status();
      HttpRequest request{"GET", resource.collection_path(ns) + query.str(), "", "", *token};
      auto opened = transport_->open_stream(request, read_timeout);
      if (!opened.ok()) return opened.status();
      if (opened->reader) {
        std::unique_ptr<WatchStream> stream =
            std::make_unique<RestWatchStream>(std::move(opened->reader));
        return stream;
      }
      Status status = status_from_response(opened->status, opened->error_body, opened->retry_after);
      if (status.is_unauthorized() && tokens_.reloadable() && attempt == 0) {
        tokens_.invalidate();
        continue;
      }
      return status;
    }
  }

 private:
  std::string namespace_of(const GroupVersionResource& resource, const json& object) const {
    if (!resource.namespaced) return {};
    const std::string ns = object_namespace(object);
    return ns.empty() ? default_namespace_ : ns;
  }

  Result<json> put(const GroupVersionResource& resource, const json& object,
                   const WriteOptions& options, const std::string& suffix) {
    const ObjectRef ref{resource, namespace_of(resource, object), object_name(object)};
    if (ref.name.empty()) return Status(StatusCode::kInvalid, "metadata.name is required");
    const std::string query = QueryString().add("fieldManager", options.field_manager).str();
    // With a resourceVersion the server refuses a stale repeat with 409, so retrying is safe.
    const auto idempotency =
        object_resource_version(object).empty() ? Idempotency::kUnsafe : Idempotency::kSafe;
    return call("PUT", ref.path() + suffix + query, object.dump(), "application/json", idempotency);
  }

  Clock::Duration backoff(int attempt) {
    std::lock_guard guard(random_mutex_);
    return options_.retry.backoff.delay(attempt, random_);
  }

  // Sends one request with retries; parses the JSON body of a success.
  Result<json> call(const std::string& method, const std::string& target, const std::string& body,
                    const std::string& content_type, Idempotency idempotency) {
    auto text = call_text(method, target, body, content_type, idempotency);
    if (!text.ok()) return text.status();
    if (text->empty()) return json::object();
    auto parsed = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) {
      std::string message = method;
      message.append(" ").append(target).append(": the reply is not JSON");
      return Status(StatusCode::kUnknown, std::move(message));
    }
    return parsed;
  }

  // Sends one request with retries; the body of a success as it came.
  Result<std::string> call_text(const std::string& method, const std::string& target,
                                const std::string& body, const std::string& content_type,
                                Idempotency idempotency) {
    bool reauthenticated = false;
    const int max_attempts = std::max(1, options_.retry.max_attempts);
    for (int attempt = 0;; ++attempt) {
      auto token = tokens_.token();
      if (!token.ok()) return token.status();
      auto response = transport_->send({method, target, body, content_type, *token});
      const bool last = attempt + 1 >= max_attempts;
      if (!response.ok()) {
        if (idempotency == Idempotency::kSafe && !last) {
          clock_.sleep_for(backoff(attempt));
          continue;
        }
        return response.status();
      }
      if (response->status >= 200 && response->status < 300) return std::move(response->body);
      Status status = status_from_response(response->status, response->body, response->retry_after);
      if (status.is_unauthorized() && tokens_.reloadable() && !reauthenticated) {
        // A rotated service-account token: read the file again and retry once.
        tokens_.invalidate();
        reauthenticated = true;
        --attempt;
        continue;
      }
      const bool retryable = status.is_too_many_requests() ||
                             (idempotency == Idempotency::kSafe && status.is_server_error());
      if (!retryable || last) return status;
      Clock::Duration delay = backoff(attempt);
      if (status.retry_after())
        delay = std::min(*status.retry_after(), options_.retry.max_retry_after);
      clock_.sleep_for(delay);
    }
  }

  Clock& clock_;
  const RestClientOptions options_;
  const std::string default_namespace_;
  TokenSource tokens_;
  std::unique_ptr<HttpTransport> transport_;
  std::mutex random_mutex_;
  std::mt19937_64 random_;
};

}  // namespace

Result<std::unique_ptr<KubeClient>> make_rest_kube_client(const ClientConfig& config, Clock& clock,
                                                          const RestClientOptions& options) {
  auto transport = make_cpprest_transport(config, options.request_timeout, options.user_agent);
  if (!transport.ok()) return transport.status();
  std::unique_ptr<KubeClient> client =
      std::make_unique<RestKubeClient>(config, clock, options, std::move(*transport));
  return client;
}

}  // namespace kubefn::kube
