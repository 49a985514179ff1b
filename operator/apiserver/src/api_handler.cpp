#include "api_handler.hpp"

#include <cctype>
#include <map>
#include <thread>

#include "discovery.hpp"
#include "patches.hpp"
#include "protobuf_body.hpp"
#include "server_side_apply.hpp"
#include "table.hpp"
#include "time_and_ids.hpp"
#include "yaml_to_json.hpp"

namespace kubefn::emulator {
namespace {

using nlohmann::json;
using Query = std::map<std::string, std::string>;

constexpr char kTableType[] = "application/json;as=Table;v=v1;g=meta.k8s.io";

std::string url_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const auto pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string::npos ? std::string::npos : pos - start));
    if (pos == std::string::npos) break;
    start = pos + 1;
  }
  return out;
}

Query parse_query(const std::string& q) {
  Query out;
  if (q.empty()) return out;
  for (const auto& kv : split(q, '&')) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) {
      out[url_decode(kv)] = "";
    } else {
      out[url_decode(kv.substr(0, eq))] = url_decode(kv.substr(eq + 1));
    }
  }
  return out;
}

std::string param(const Query& q, const std::string& k) {
  const auto it = q.find(k);
  return it == q.end() ? "" : it->second;
}

HttpReply json_reply(int status, const json& body, std::string content_type = "application/json") {
  HttpReply r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = body.dump();
  return r;
}

HttpReply error_reply(const ApiError& e) {
  HttpReply r = json_reply(e.code, status_body(e));
  if (e.retry_after_s > 0) r.headers.emplace_back("Retry-After", std::to_string(e.retry_after_s));
  return r;
}

Handled done(HttpReply r) {
  return Handled{std::move(r), nullptr};
}

struct Route {
  std::string group;
  std::string version;
  std::string ns;
  std::string resource;
  std::string name;
  std::string sub;
  bool has_ns = false;
};

// /api/v1/... or /apis/<g>/<v>/... followed by [namespaces/<ns>/]<resource>[/<name>[/<sub>]].
std::optional<Route> parse_route(const std::vector<std::string>& segs) {
  Route r;
  std::size_t i = 0;
  if (segs.size() >= 3 && segs[0] == "api") {
    r.version = segs[1];
    i = 2;
  } else if (segs.size() >= 4 && segs[0] == "apis") {
    r.group = segs[1];
    r.version = segs[2];
    i = 3;
  } else {
    return std::nullopt;
  }
  std::vector<std::string> rest(segs.begin() + static_cast<std::ptrdiff_t>(i), segs.end());
  const bool ns_sub =
      rest.size() == 3 && rest[0] == "namespaces" && (rest[2] == "status" || rest[2] == "finalize");
  if (rest.size() >= 3 && rest[0] == "namespaces" && !ns_sub) {
    r.has_ns = true;
    r.ns = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  }
  if (rest.empty() || rest.size() > 3) return std::nullopt;
  r.resource = rest[0];
  if (rest.size() >= 2) r.name = rest[1];
  if (rest.size() == 3) r.sub = rest[2];
  return r;
}

std::string media_type(const std::string& content_type) {
  auto t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && t.back() == ' ')
    t.pop_back();
  return t;
}

std::string verb_of(const std::string& method, const Route& r, const Query& q) {
  const bool item = !r.name.empty();
  if (method == "GET") {
    if (item) return "get";
    const auto w = param(q, "watch");
    return (w == "true" || w == "1") ? "watch" : "list";
  }
  if (method == "POST") return "create";
  if (method == "PUT") return "update";
  if (method == "PATCH") return "patch";
  if (method == "DELETE") return item ? "delete" : "deletecollection";
  return "";
}

void set_path(json& obj, const std::string& path, const json& value) {
  json* cur = &obj;
  for (const auto& seg : split(path.substr(path.rfind('.', 0) == 0 ? 1 : 0), '.')) {
    if (!cur->is_object()) *cur = json::object();
    cur = &(*cur)[seg];
  }
  *cur = value;
}

json to_scale(const ResourceType& t, const json& obj) {
  const auto& m = obj["metadata"];
  json meta = {{"name", m.value("name", "")},
               {"uid", m.value("uid", "")},
               {"resourceVersion", m.value("resourceVersion", "")},
               {"creationTimestamp", m.value("creationTimestamp", "")}};
  if (m.contains("namespace")) meta["namespace"] = m["namespace"];
  const auto spec = json_path_value(obj, t.scale->spec_replicas_path);
  const auto status = json_path_value(obj, t.scale->status_replicas_path);
  json out = {{"kind", "Scale"},
              {"apiVersion", "autoscaling/v1"},
              {"metadata", meta},
              {"spec", {{"replicas", spec.is_number() ? spec : json(0)}}},
              {"status", {{"replicas", status.is_number() ? status : json(0)}}}};
  if (!t.scale->label_selector_path.empty()) {
    const auto sel = label_selector_string(json_path_value(obj, t.scale->label_selector_path));
    if (!sel.empty()) out["status"]["selector"] = sel;
  }
  return out;
}

bool wants_table(const std::string& accept) {
  return accept.find("as=Table") != std::string::npos;
}

class RequestContext {
 public:
  RequestContext(ObjectStore& store, const HttpRequest& req, const Query& q, const Route& r,
                 const ResourceType& t)
      : store_(store), req_(req), q_(q), r_(r), t_(t) {}

  Handled list() {
    auto opts = list_options();
    if (!opts.ok()) return done(error_reply(opts.error()));
    auto page = store_.list(t_, opts.value());
    if (!page.ok()) return done(error_reply(page.error()));
    const auto& p = page.value();
    if (wants_table(req_.accept)) {
      auto include = param(q_, "includeObject");
      json table = make_table(t_, served_items(p.items), std::to_string(p.rv),
                              include.empty() ? "Metadata" : include, true);
      if (!p.continue_token.empty()) table["metadata"]["continue"] = p.continue_token;
      return done(json_reply(200, table, kTableType));
    }
    json meta = {{"resourceVersion", std::to_string(p.rv)}};
    if (!p.continue_token.empty()) meta["continue"] = p.continue_token;
    // Written piece by piece, items straight from the store, in the order dump() would give
    // (apiVersion, items, kind, metadata): no copy of the list as a JSON document.
    const json api_version = t_.api_version();
    HttpReply r;
    r.status = 200;
    r.content_type = "application/json";
    r.body = "{\"apiVersion\":" + api_version.dump() + ",\"items\":[";
    bool first = true;
    for (const auto& item : p.items) {
      if (!first) r.body += ',';
      first = false;
      const auto v = item->find("apiVersion");
      if (v != item->end() && *v == api_version) {
        r.body += item->dump();
      } else {
        json copy = *item;
        copy["apiVersion"] = api_version;
        r.body += copy.dump();
      }
    }
    r.body += "],\"kind\":" + json(t_.list_kind()).dump() + ",\"metadata\":" + meta.dump() + "}";
    return done(std::move(r));
  }

  // The page's objects as this version serves them.
  std::vector<json> served_items(const std::vector<Document>& items) const {
    std::vector<json> out;
    out.reserve(items.size());
    for (const auto& item : items) {
      out.push_back(*item);
      out.back()["apiVersion"] = t_.api_version();
    }
    return out;
  }

  Result<ListOptions> list_options() const {
    ListOptions o;
    o.ns = r_.ns;
    auto labels = LabelSelector::parse(param(q_, "labelSelector"));
    if (!labels.ok()) return labels.error();
    o.labels = labels.value();
    auto fields = FieldSelector::parse(param(q_, "fieldSelector"), t_.field_labels);
    if (!fields.ok()) return fields.error();
    o.fields = fields.value();
    const auto limit = param(q_, "limit");
    if (!limit.empty()) {
      try {
        o.limit = std::stoul(limit);
      } catch (const std::exception&) {
        return bad_request("invalid limit: " + limit);
      }
    }
    o.continue_token = param(q_, "continue");
    return o;
  }

  Result<WatchParams> watch_params(std::chrono::milliseconds bookmark_interval) const {
    auto o = list_options();
    if (!o.ok()) return o.error();
    WatchParams w;
    w.ns = r_.ns;
    w.labels = o.value().labels;
    w.fields = o.value().fields;
    w.resource_version = param(q_, "resourceVersion");
    w.send_initial_events = param(q_, "sendInitialEvents") == "true";
    w.bookmarks = param(q_, "allowWatchBookmarks") == "true";
    w.bookmark_interval = bookmark_interval;
    const auto timeout = param(q_, "timeoutSeconds");
    if (!timeout.empty()) {
      try {
        w.timeout = std::chrono::seconds(std::stol(timeout));
      } catch (const std::exception&) {
        return bad_request("invalid timeoutSeconds: " + timeout);
      }
    }
    w.as_table = wants_table(req_.accept);
    const auto include = param(q_, "includeObject");
    if (!include.empty()) w.include_object = include;
    return w;
  }

  Handled get() {
    auto obj = store_.get(t_, r_.ns, r_.name);
    if (!obj.ok()) return done(error_reply(obj.error()));
    if (r_.sub == "scale") return done(json_reply(200, to_scale(t_, obj.value())));
    if (wants_table(req_.accept)) {
      return done(json_reply(
          200,
          make_table(t_, {obj.value()}, obj.value()["metadata"].value("resourceVersion", ""),
                     "Metadata", true),
          kTableType));
    }
    return done(json_reply(200, obj.value()));
  }

  Handled create(const json& body) {
    if (!r_.sub.empty() || !r_.name.empty()) return done(error_reply(method_not_allowed()));
    if (t_.namespaced && !r_.has_ns) return done(error_reply(resource_not_found()));
    if (param(q_, "dryRun") == "All") return done(json_reply(201, body));
    auto created = store_.create(t_, r_.ns, body);
    if (!created.ok()) return done(error_reply(created.error()));
    return done(json_reply(201, created.value()));
  }

  Handled update(const json& body) {
    const Subresource sub = r_.sub == "status" ? Subresource::kStatus : Subresource::kMain;
    ObjectStore::Mutation mutate;
    if (r_.sub == "scale") {
      mutate = [&](const json& live) { return scale_mutation(live, body); };
    } else {
      mutate = [&](const json&) -> Result<json> {
        if (!body.is_object()) return bad_request("the request body must be a JSON object");
        const auto rv = body.value("metadata", json::object()).value("resourceVersion", "");
        if (rv.empty() && t_.custom) {
          return invalid(t_.group_resource(), r_.name, "metadata.resourceVersion",
                         "FieldValueInvalid",
                         "Invalid value: 0x0: must be specified for an update");
        }
        return body;
      };
    }
    return write(mutate, sub, false);
  }

  Handled patch(const std::string& body_text) {
    const auto type = media_type(req_.content_type);
    const bool apply = type == "application/apply-patch+yaml";
    std::optional<json> parsed = apply
                                     ? parse_json_or_yaml(body_text)
                                     : std::optional<json>(json::parse(body_text, nullptr, false));
    if (!parsed || parsed->is_discarded())
      return done(error_reply(bad_request("the patch body is not valid JSON")));
    const json body = std::move(*parsed);
    if (type == "application/strategic-merge-patch+json" && t_.custom) {
      return done(error_reply(unsupported_media_type(type)));
    }
    if (type != "application/merge-patch+json" && type != "application/json-patch+json" &&
        type != "application/strategic-merge-patch+json" && !apply) {
      return done(error_reply(unsupported_media_type(type)));
    }
    const auto apply_patch = [type, &body](const json& target) -> Result<json> {
      if (type == "application/merge-patch+json") return merge_patch(target, body);
      if (type == "application/json-patch+json") return json_patch(target, body);
      return strategic_merge_patch(target, body);
    };
    if (apply) {
      if (!r_.sub.empty()) return done(error_reply(unsupported_media_type(type)));
      ApplyRequest ar{param(q_, "fieldManager"),
                      param(q_, "force") == "true",
                      t_.api_version(),
                      t_.group_resource(),
                      r_.name,
                      rfc3339(std::chrono::system_clock::now())};
      return write([&](const json& live) { return server_side_apply(live, body, ar); },
                   Subresource::kMain, true);
    }
    if (r_.sub == "scale") {
      return write(
          [&](const json& live) -> Result<json> {
            auto next = apply_patch(to_scale(t_, live));
            if (!next.ok()) return next.error();
            return scale_mutation(live, next.value());
          },
          Subresource::kMain, false);
    }
    const Subresource sub = r_.sub == "status" ? Subresource::kStatus : Subresource::kMain;
    return write(apply_patch, sub, false);
  }

  Handled remove(const json& body) {
    DeleteOptions o;
    o.propagation_policy = param(q_, "propagationPolicy");
    if (body.is_object()) {
      o.propagation_policy = body.value("propagationPolicy", o.propagation_policy);
      const auto pre = body.value("preconditions", json::object());
      if (pre.is_object()) {
        if (pre.contains("uid") && pre["uid"].is_string()) o.precondition_uid = pre["uid"];
        if (pre.contains("resourceVersion") && pre["resourceVersion"].is_string()) {
          o.precondition_rv = pre["resourceVersion"];
        }
      }
    }
    if (r_.name.empty()) {
      auto opts = list_options();
      if (!opts.ok()) return done(error_reply(opts.error()));
      auto page = store_.list(t_, opts.value());
      if (!page.ok()) return done(error_reply(page.error()));
      json items = json::array();
      for (const auto& obj : served_items(page.value().items)) {
        auto r = store_.remove(t_, obj["metadata"].value("namespace", ""),
                               obj["metadata"].value("name", ""), o);
        if (r.ok()) items.push_back(obj);
      }
      return done(json_reply(
          200, {{"kind", t_.list_kind()},
                {"apiVersion", t_.api_version()},
                {"metadata", {{"resourceVersion", std::to_string(store_.resource_version())}}},
                {"items", items}}));
    }
    auto r = store_.remove(t_, r_.ns, r_.name, o);
    if (!r.ok()) return done(error_reply(r.error()));
    return done(json_reply(200, r.value()));
  }

 private:
  Result<json> scale_mutation(const json& live, const json& scale) const {
    if (!scale.is_object()) return bad_request("the request body must be a Scale object");
    const auto rv = scale.value("metadata", json::object()).value("resourceVersion", "");
    if (!rv.empty() && rv != live["metadata"].value("resourceVersion", "")) {
      return conflict(t_.group_resource(), r_.name);
    }
    const auto replicas = scale.value("spec", json::object()).value("replicas", json());
    if (!replicas.is_number_integer() || replicas.get<int64_t>() < 0) {
      return invalid(t_.group_resource(), r_.name, "spec.replicas", "FieldValueInvalid",
                     "Invalid value: must be greater than or equal to 0");
    }
    json next = live;
    set_path(next, t_.scale->spec_replicas_path, replicas);
    return next;
  }

  Handled write(const ObjectStore::Mutation& mutate, Subresource sub, bool create_missing) {
    if (param(q_, "dryRun") == "All") {
      auto live = store_.get(t_, r_.ns, r_.name);
      auto next = mutate(live.ok() ? live.value() : json());
      if (!next.ok()) return done(error_reply(next.error()));
      return done(json_reply(200, next.value()));
    }
    auto out = store_.update(t_, r_.ns, r_.name, mutate, sub, create_missing);
    if (!out.ok()) return done(error_reply(out.error()));
    const auto& obj = out.value().object;
    if (r_.sub == "scale") return done(json_reply(200, to_scale(t_, obj)));
    return done(json_reply(out.value().created ? 201 : 200, obj));
  }

  ObjectStore& store_;
  const HttpRequest& req_;
  const Query& q_;
  const Route& r_;
  const ResourceType& t_;
};

}  // namespace

ApiHandler::ApiHandler(ObjectStore& store, FaultSwitches& faults,
                       std::chrono::milliseconds bookmark_interval)
    : store_(store), faults_(faults), bookmark_interval_(bookmark_interval) {}

Handled ApiHandler::handle(const HttpRequest& req, bool with_faults) {
  try {
    return handle_unchecked(req, with_faults);
  } catch (const std::exception& e) {
    // Bodies of unexpected shape (a number where a string belongs, ...) end up here.
    return done(error_reply(
        ApiError{500, "InternalError",
                 std::string("the emulator could not handle the request: ") + e.what()}));
  }
}

Handled ApiHandler::handle_unchecked(const HttpRequest& req, bool with_faults) {
  const auto qpos = req.target.find('?');
  const std::string path = req.target.substr(0, qpos);
  const Query q = parse_query(qpos == std::string::npos ? "" : req.target.substr(qpos + 1));
  std::vector<std::string> segs;
  for (auto& s : split(path, '/')) {
    if (!s.empty()) segs.push_back(url_decode(s));
  }

  // Non-resource endpoints.
  if (req.method == "GET") {
    if (path == "/version" || path == "/version/") return done(json_reply(200, version_document()));
    if (path == "/healthz" || path == "/readyz" || path == "/livez") {
      HttpReply r;
      r.content_type = "text/plain";
      r.body = "ok";
      return done(r);
    }
    const bool aggregated = req.accept.find("as=APIGroupDiscoveryList") != std::string::npos;
    if (path == "/api" || path == "/apis") {
      const bool core = path == "/api";
      if (aggregated) {
        return done(
            json_reply(200, aggregated_discovery(store_.types(), core), kAggregatedDiscoveryType));
      }
      return done(json_reply(
          200, core ? legacy_api_versions("127.0.0.1:" + std::to_string(server_port_.load()))
                    : legacy_group_list(store_.types())));
    }
    if (segs.size() == 2 && segs[0] == "api") {
      auto doc = legacy_resource_list(store_.types(), "", segs[1]);
      return done(doc ? json_reply(200, *doc) : error_reply(resource_not_found()));
    }
    if (segs.size() == 2 && segs[0] == "apis") {
      auto doc = legacy_group(store_.types(), segs[1]);
      return done(doc ? json_reply(200, *doc) : error_reply(resource_not_found()));
    }
    if (segs.size() == 3 && segs[0] == "apis") {
      auto doc = legacy_resource_list(store_.types(), segs[1], segs[2]);
      return done(doc ? json_reply(200, *doc) : error_reply(resource_not_found()));
    }
    if (path == "/openapi/v3") {
      return done(json_reply(200, openapi_v3_root(store_.types(), store_.types_generation())));
    }
    if (segs.size() >= 3 && segs[0] == "openapi" && segs[1] == "v3") {
      std::string gv_path;
      for (std::size_t i = 2; i < segs.size(); ++i)
        gv_path += (i > 2 ? "/" : "") + segs[i];
      auto doc = openapi_v3_document(store_.types(), gv_path);
      return done(doc ? json_reply(200, *doc) : error_reply(resource_not_found()));
    }
  }

  const auto route = parse_route(segs);
  if (!route) return done(error_reply(resource_not_found()));
  const auto type = store_.find_type(route->group, route->version, route->resource);
  if (!type) return done(error_reply(resource_not_found()));
  if (route->has_ns && !type->namespaced) return done(error_reply(resource_not_found()));
  if (!route->sub.empty()) {
    const bool known = (route->sub == "status" && type->status_subresource) ||
                       (route->sub == "scale" && type->scale.has_value());
    if (!known) return done(error_reply(resource_not_found()));
  }
  const std::string verb = verb_of(req.method, *route, q);
  if (verb.empty()) return done(error_reply(method_not_allowed()));

  if (with_faults) {
    auto delay = faults_.latency(verb);
    const auto until = std::chrono::steady_clock::now() + delay;
    while (std::chrono::steady_clock::now() < until && !store_.stopping()) {
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          std::chrono::milliseconds(10), until - std::chrono::steady_clock::now()));
    }
    if (auto e = faults_.take_error(verb, route->resource)) return done(error_reply(*e));
  }

  RequestContext ctx(store_, req, q, *route, *type);
  json body;
  if (verb == "create" || verb == "update" ||
      ((verb == "delete" || verb == "deletecollection") && !req.body.empty())) {
    const bool protobuf = req.content_type.find("protobuf") != std::string::npos;
    if (protobuf) {
      // Typed clients (helm's release storage) send Secrets, ConfigMaps and DeleteOptions so.
      const bool deleting = verb == "delete" || verb == "deletecollection";
      auto decoded = protobuf_body_to_json(req.body, deleting ? "DeleteOptions" : type->kind);
      if (!decoded || (!deleting && !type->group.empty())) {
        return done(error_reply(unsupported_media_type(req.content_type)));
      }
      body = std::move(*decoded);
    } else {
      body = json::parse(req.body, nullptr, false);
    }
    if (body.is_discarded()) {
      return done(error_reply(bad_request("the request body is not valid JSON")));
    }
  }
  if (verb == "get") return ctx.get();
  if (verb == "list") return ctx.list();
  if (verb == "create") return ctx.create(body);
  if (verb == "update") return ctx.update(body);
  if (verb == "patch") return ctx.patch(req.body);
  if (verb == "delete" || verb == "deletecollection") return ctx.remove(body);
  // watch
  auto params = ctx.watch_params(bookmark_interval_);
  if (!params.ok()) return done(error_reply(params.error()));
  Handled h;
  h.reply.content_type = params.value().as_table ? kTableType : "application/json";
  h.watch = std::make_unique<WatchStream>(store_, *type, std::move(params.value()), open_watches_);
  return h;
}

}  // namespace kubefn::emulator
