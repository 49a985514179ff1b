#include "api_handler.hpp"

#include <cctype>
#include <map>
#include <thread>

#include "apply_typed_check.hpp"
#include "discovery.hpp"
#include "field_errors.hpp"
#include "field_validation.hpp"
#include "go_format.hpp"
#include "go_json_errors.hpp"
#include "kubefn/emulator/yaml_to_json.hpp"
#include "patches.hpp"
#include "protobuf_body.hpp"
#include "server_side_apply.hpp"
#include "structural_schema.hpp"
#include "table.hpp"
#include "time_and_ids.hpp"

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

// Whether every '%' starts an escape (url.QueryUnescape fails otherwise).
bool valid_escapes(const std::string& s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') continue;
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
      return false;
    i += 2;
  }
  return true;
}

// As Go's url.ParseQuery: a pair with a bad escape is dropped, and a parameter given twice
// keeps its first value (what the server's parameter decoding reads).
Query parse_query(const std::string& q) {
  Query out;
  if (q.empty()) return out;
  for (const auto& kv : split(q, '&')) {
    if (kv.empty() || !valid_escapes(kv)) continue;
    const auto eq = kv.find('=');
    if (eq == std::string::npos) {
      out.emplace(url_decode(kv), "");
    } else {
      out.emplace(url_decode(kv.substr(0, eq)), url_decode(kv.substr(eq + 1)));
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

void add_warnings(HttpReply& r, const std::vector<std::string>& texts) {
  for (auto& h : warning_headers(texts))
    r.headers.emplace_back("Warning", std::move(h));
}

HttpReply error_reply(const ApiError& e) {
  HttpReply r;
  r.status = e.code;
  r.body = status_text(e);
  if (e.retry_after_s > 0) r.headers.emplace_back("Retry-After", std::to_string(e.retry_after_s));
  add_warnings(r, e.warnings);
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
  // ScaleSpec.replicas is omitempty: a Scale to 0 has "spec": {}.
  json spec_out = json::object();
  if (spec.is_number() && spec != json(0)) spec_out["replicas"] = spec;
  json out = {{"kind", "Scale"},
              {"apiVersion", "autoscaling/v1"},
              {"metadata", meta},
              {"spec", spec_out},
              {"status", {{"replicas", status.is_number() ? status : json(0)}}}};
  if (!t.scale->label_selector_path.empty()) {
    const auto sel = label_selector_string(json_path_value(obj, t.scale->label_selector_path));
    if (!sel.empty()) out["status"]["selector"] = sel;
  }
  return out;
}

// The type json.Unmarshal names when a body is not an object (the API server's first look at
// a body decodes only its apiVersion and kind, into this struct).
constexpr char kFindKindType[] =
    "struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string "
    "\"json:\\\"kind,omitempty\\\"\" }";

// A create, update or delete body decoded as the API server's serializers decode it (JSON, YAML,
// or protobuf for the few kinds that have it here), with their errors.
Result<json> decode_body(const HttpRequest& req, const ResourceType& type, bool deleting) {
  const std::string media = media_type(req.content_type);
  const std::vector<std::string> accepted = {"application/json", "application/yaml",
                                             "application/vnd.kubernetes.protobuf"};
  if (media == "application/vnd.kubernetes.protobuf") {
    // Typed clients (helm's release storage) send Secrets, ConfigMaps and DeleteOptions so.
    auto decoded = protobuf_body_to_json(req.body, deleting ? "DeleteOptions" : type.kind);
    if (!decoded || (!deleting && !type.group.empty())) return unsupported_media_type(accepted);
    return std::move(*decoded);
  }
  // A delete hands decoding errors on unwrapped (500, reason Unknown, which is empty); a create
  // or an update says which kind it wanted.
  const auto undecodable = [&](const std::string& why) -> ApiError {
    if (deleting) return ApiError{500, "", why};
    return bad_request("the object provided is unrecognized (must be of type " + type.kind +
                       "): " + why + " (" + go_body_summary(req.body) + ")");
  };
  json body;
  if (media == "application/yaml") {
    std::string error;
    auto parsed = parse_yaml(req.body, &error);
    if (!parsed) return undecodable("error converting YAML to JSON: " + error);
    body = std::move(*parsed);
  } else if (media.empty() || media == "application/json") {
    const std::string syntax = go_json_syntax_error(req.body);
    if (!syntax.empty())
      return undecodable("couldn't get version/kind; json parse error: " + syntax);
    body = json::parse(req.body, nullptr, false);
    if (body.is_discarded()) return bad_request("the request body is not valid JSON");
  } else {
    return unsupported_media_type(accepted);
  }
  const std::string prefix = "couldn't get version/kind; json parse error: json: cannot unmarshal ";
  if (!body.is_object() && !body.is_null()) {
    return undecodable(prefix + go_json_value_kind(body) + " into Go value of type " +
                       kFindKindType);
  }
  for (const char* field : {"apiVersion", "kind"}) {
    if (!body.is_object()) break;
    const auto it = body.find(field);
    if (it != body.end() && !it->is_string() && !it->is_null()) {
      return undecodable(prefix + go_json_value_kind(*it) + " into Go struct field ." + field +
                         " of type string");
    }
  }
  // schema.ParseGroupVersion.
  const auto v = body.is_object() ? body.find("apiVersion") : body.end();
  if (v != body.end() && v->is_string()) {
    const auto& text = v->get_ref<const std::string&>();
    const auto slash = text.find('/');
    if (slash != std::string::npos && text.find('/', slash + 1) != std::string::npos)
      return undecodable("unexpected GroupVersion string: " + text);
  }
  return body;
}

// A JSON, merge or strategic merge patch applied to `target`, after the decoding errors the
// real server reports for its body: encoding/json's (`syntax`, empty when the body is JSON)
// and those of decoding it into what each patch type expects. `strict` is fieldValidation
// Warn or Strict, whose strict decoder words them differently from Ignore's.
Result<json> decode_and_apply_patch(const std::string& type, const json& body,
                                    const std::string& syntax, bool strict, const json& target) {
  const auto cannot = [](const json& v, const std::string& go_type) {
    return "json: cannot unmarshal " + go_json_value_kind(v) + " into Go value of type " + go_type;
  };
  if (type == "application/merge-patch+json") {
    if (!syntax.empty())
      return bad_request(strict ? "error decoding patch: " + syntax : "Invalid JSON Patch");
    if (strict && !body.is_object() && !body.is_null())
      return bad_request("error decoding patch: " + cannot(body, "map[string]interface {}"));
    return merge_patch(target, body);
  }
  if (type == "application/json-patch+json") {
    const std::string prefix = strict ? "error decoding patch: " : "";
    if (!syntax.empty()) return bad_request(prefix + syntax);
    if (!body.is_array() && !body.is_null()) {
      return bad_request(prefix +
                         cannot(body, strict ? "[]handlers.jsonPatchOp" : "jsonpatch.Patch"));
    }
    for (const auto& op : body) {
      if (!op.is_object() && !op.is_null()) {
        return bad_request(prefix +
                           cannot(op, strict ? "handlers.jsonPatchOp" : "jsonpatch.Operation"));
      }
    }
    if (body.is_null()) return target;
    return json_patch(target, body);
  }
  if (!syntax.empty()) return bad_request(syntax);
  if (!body.is_object() && !body.is_null())
    return bad_request(cannot(body, "map[string]interface {}"));
  return strategic_merge_patch(target, body);
}

// How the kind's field label conversion words a label it does not know: the kinds with a
// conversion function of their own say "not supported", the others use the default one's text.
FieldSelector::UnknownLabel unknown_field_label(const ResourceType& t) {
  using U = FieldSelector::UnknownLabel;
  if (t.custom) return U::kNotSupported;
  if (t.group.empty()) {
    for (const char* kind :
         {"Pod", "Node", "ReplicationController", "Event", "Namespace", "Secret", "Service"}) {
      if (t.kind == kind) return U::kNotSupported;
    }
  }
  if (t.group == "batch" && t.kind == "Job") return U::kJob;
  return U::kDefault;
}

bool wants_table(const std::string& accept) {
  return accept.find("as=Table") != std::string::npos;
}

class RequestContext {
 public:
  RequestContext(ObjectStore& store, const HttpRequest& req, const Query& q, const Route& r,
                 const ResourceType& t, FieldValidation field_validation)
      : store_(store), req_(req), q_(q), r_(r), t_(t), field_validation_(field_validation) {}

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
      if (p.remaining_item_count) table["metadata"]["remainingItemCount"] = *p.remaining_item_count;
      return done(json_reply(200, table, kTableType));
    }
    json meta = {{"resourceVersion", std::to_string(p.rv)}};
    if (!p.continue_token.empty()) meta["continue"] = p.continue_token;
    if (p.remaining_item_count) meta["remainingItemCount"] = *p.remaining_item_count;
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
    auto fields =
        FieldSelector::parse(param(q_, "fieldSelector"), t_.field_labels, unknown_field_label(t_));
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
    if (r_.sub == "scale") {
      // A custom resource without a value at specReplicasPath has no Scale to read (writes
      // through /scale still work).
      if (t_.custom && !json_path_value(obj.value(), t_.scale->spec_replicas_path).is_number()) {
        const std::string why =
            "the spec replicas field " + go_quote(t_.scale->spec_replicas_path) + " does not exist";
        return done(error_reply(ApiError{500,
                                         "InternalError",
                                         "Internal error occurred: " + why,
                                         {{"causes", json::array({{{"message", why}}})}}}));
      }
      return done(json_reply(200, to_scale(t_, obj.value())));
    }
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
    if (auto e = custom_type_meta_error(body)) return done(error_reply(*e));
    if (param(q_, "dryRun") == "All") return done(json_reply(201, body));
    auto created = store_.create(t_, r_.ns, body, body_decode());
    if (!created.ok()) return done(error_reply(created.error()));
    HttpReply reply = json_reply(201, created.value().object);
    add_warnings(reply, created.value().warnings);
    return done(std::move(reply));
  }

  Handled update(const json& body) {
    const Subresource sub = r_.sub == "status" ? Subresource::kStatus : Subresource::kMain;
    ObjectStore::Mutation mutate;
    if (r_.sub == "scale") {
      mutate = [&](const json& live) { return scale_mutation(live, body); };
    } else {
      if (auto e = custom_type_meta_error(body)) return done(error_reply(*e));
      mutate = [&](const json&) -> Result<json> {
        if (!body.is_object()) return bad_request("the request body must be a JSON object");
        const auto rv = body.value("metadata", json::object()).value("resourceVersion", "");
        if (rv.empty() && t_.custom) {
          // The real server names the resource here, not the kind ("functions.kubefn.dev").
          return invalid(t_.group, t_.resource, r_.name,
                         {field_invalid("metadata.resourceVersion", json(0),
                                        "must be specified for an update")});
        }
        return body;
      };
    }
    return write(mutate, sub, false, r_.sub == "scale" ? DecodeOptions{} : body_decode());
  }

  Handled patch(const std::string& body_text) {
    const auto type = media_type(req_.content_type);
    const bool apply = type == "application/apply-patch+yaml";
    // The patch types the resource's route consumes, in the real server's order: the content
    // type is checked first, the body only once the object has been read.
    std::vector<std::string> accepted = {"application/json-patch+json",
                                         "application/merge-patch+json"};
    if (!t_.custom) accepted.push_back("application/strategic-merge-patch+json");
    accepted.push_back("application/apply-patch+yaml");
    if (std::find(accepted.begin(), accepted.end(), type) == accepted.end()) {
      // Built-in kinds' routes refuse it before the handler runs, in go-restful's words.
      if (!t_.custom) {
        return done(error_reply(
            ApiError{415, "UnsupportedMediaType", "415: Unsupported Media Type", json::object()}));
      }
      return done(error_reply(unsupported_media_type(accepted)));
    }
    json body;
    std::string syntax;
    if (apply) {
      std::optional<json> parsed = parse_json_or_yaml(body_text);
      if (!parsed) return done(error_reply(bad_request("the patch body is not valid JSON")));
      body = std::move(*parsed);
    } else {
      syntax = go_json_syntax_error(body_text);
      if (syntax.empty()) body = json::parse(body_text, nullptr, false);
      if (body.is_discarded())
        return done(error_reply(bad_request("the patch body is not valid JSON")));
    }
    const bool strict_decode = field_validation_ != FieldValidation::kIgnore;
    const auto apply_patch = [type, &body, &syntax,
                              strict_decode](const json& target) -> Result<json> {
      return decode_and_apply_patch(type, body, syntax, strict_decode, target);
    };
    if (apply) {
      if (!r_.sub.empty()) return done(error_reply(unsupported_media_type(accepted)));
      if (param(q_, "fieldManager").empty()) {
        return done(
            error_reply(invalid("meta.k8s.io", "PatchOptions", "",
                                {field_required("fieldManager", "is required for apply patch")})));
      }
      ApplyRequest ar{param(q_, "fieldManager"),
                      param(q_, "force") == "true",
                      t_.api_version(),
                      t_.group_resource(),
                      r_.name,
                      rfc3339(std::chrono::system_clock::now())};
      std::vector<std::string> yaml_warnings;
      const auto mutation = [&](const json& live) -> Result<json> {
        // Typing the configuration, merging it, then the strict YAML check: the real order.
        if (t_.custom) {
          if (auto e = apply_typed_check(body, t_.schema.get())) return *e;
        }
        auto merged = server_side_apply(live, body, ar);
        if (!merged.ok() || !t_.custom || field_validation_ == FieldValidation::kIgnore)
          return merged;
        auto repeated = apply_duplicate_keys(body_text);
        if (repeated.empty()) return merged;
        if (field_validation_ == FieldValidation::kStrict) {
          std::string message =
              "error strict decoding YAML: error converting YAML to JSON: yaml: unmarshal errors:";
          for (const auto& r : repeated)
            message += "\n  " + r;
          return bad_request(std::move(message));
        }
        yaml_warnings = std::move(repeated);
        return merged;
      };
      DecodeOptions decode;
      decode.directive = field_validation_;
      decode.source = DecodeOptions::Source::kApply;
      return write(mutation, Subresource::kMain, true, decode, &yaml_warnings);
    }
    if (r_.sub == "scale") {
      return write(
          [&](const json& live) -> Result<json> {
            auto next = apply_patch(to_scale(t_, live));
            if (!next.ok()) return next.error();
            return scale_mutation(live, next.value());
          },
          Subresource::kMain, false, DecodeOptions{});
    }
    const Subresource sub = r_.sub == "status" ? Subresource::kStatus : Subresource::kMain;
    DecodeOptions decode;
    decode.directive = field_validation_;
    decode.source = DecodeOptions::Source::kPatch;
    if (t_.custom && field_validation_ != FieldValidation::kIgnore) {
      decode.strict_errors = type == "application/json-patch+json"
                                 ? json_patch_strict_errors(body_text)
                                 : duplicate_json_fields(body_text);
    }
    return write(apply_patch, sub, false, decode);
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
  // A custom resource body's apiVersion and kind, checked where the real server checks them: a
  // missing kind fails decoding (400); an apiVersion other than the URL's fails after decoding
  // (400; a body of the resource's group is pruned by that version's schema first, so its
  // unknown fields are reported); another kind fails validation (422, nothing else checked).
  std::optional<ApiError> custom_type_meta_error(const json& body) const {
    if (!t_.custom || !body.is_object()) return std::nullopt;
    const auto text = [&](const char* field) {
      const auto it = body.find(field);
      return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    const std::string kind = text("kind"), api_version = text("apiVersion");
    if (kind.empty()) {
      return bad_request("the object provided is unrecognized (must be of type " + t_.kind +
                         "): Object 'Kind' is missing in '" + req_.body + "' (" +
                         go_body_summary(req_.body) + ")");
    }
    if (api_version != t_.api_version()) {
      const auto slash = api_version.find('/');
      const std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
      const std::string version =
          slash == std::string::npos ? api_version : api_version.substr(slash + 1);
      std::vector<std::string> errors = body_decode().strict_errors;
      if (group == t_.group && kind == t_.kind && field_validation_ != FieldValidation::kIgnore) {
        if (auto other = store_.find_type(group, version, t_.resource)) {
          json copy = body;
          for (const auto& path : prune_and_default(copy, other->schema.get()).unknown)
            errors.push_back("unknown field " + go_quote(path));
        } else {
          // No schema for that version: everything but apiVersion, kind and metadata goes.
          for (const auto& [key, value] : body.items()) {
            if (key != "apiVersion" && key != "kind" && key != "metadata")
              errors.push_back("unknown field " + go_quote(key));
          }
        }
      }
      if (field_validation_ == FieldValidation::kIgnore) errors.clear();
      if (field_validation_ == FieldValidation::kStrict && !errors.empty()) {
        return bad_request(kind + " in version " + go_quote(version) + " cannot be handled as a " +
                           t_.kind + ": " + strict_decoding_message(errors));
      }
      ApiError e =
          bad_request("the API version in the data (" + api_version +
                      ") does not match the expected API version (" + t_.api_version() + ")");
      e.warnings = std::move(errors);
      return e;
    }
    if (kind != t_.kind) {
      std::string name;
      const auto m = body.find("metadata");
      if (m != body.end() && m->is_object()) {
        const auto n = m->find("name");
        if (n != m->end() && n->is_string()) name = n->get<std::string>();
      }
      return invalid(t_.group, kind, name, {field_invalid("kind", kind, "must be " + t_.kind)});
    }
    return std::nullopt;
  }

  Result<json> scale_mutation(const json& live, const json& scale) const {
    if (!scale.is_object()) return bad_request("the request body must be a Scale object");
    const auto rv = scale.value("metadata", json::object()).value("resourceVersion", "");
    if (!rv.empty() && rv != live["metadata"].value("resourceVersion", "")) {
      return conflict(t_.group_resource(), r_.name);
    }
    const auto spec = scale.value("spec", json::object());
    // An absent replicas is 0 (omitempty), as the Scale the server sent for 0 replicas shows.
    json replicas = spec.is_object() ? spec.value("replicas", json(0)) : json();
    if (replicas.is_null() && (spec.is_null() || spec.is_object())) replicas = 0;
    if (!replicas.is_number_integer()) {
      return invalid("autoscaling", "Scale", r_.name, "spec.replicas", "FieldValueInvalid",
                     "Invalid value: must be an integer");
    }
    if (replicas.get<int64_t>() < 0 && !(t_.custom && store_.validates_custom_resources())) {
      // A custom resource's own validation reports it, at the CRD's specReplicasPath.
      if (t_.custom) {
        return invalid(t_.group, t_.kind, r_.name,
                       {field_invalid(t_.scale->spec_replicas_path, replicas,
                                      "should be a non-negative integer")});
      }
      return invalid(
          "autoscaling", "Scale", r_.name,
          {field_invalid("spec.replicas", replicas, "must be greater than or equal to 0")});
    }
    json next = live;
    set_path(next, t_.scale->spec_replicas_path, replicas);
    return next;
  }

  // How a create or update body decodes: fieldValidation, and duplicate keys for custom kinds
  // (built-in kinds have no schema here and are not checked).
  DecodeOptions body_decode() const {
    DecodeOptions decode;
    decode.directive = field_validation_;
    const bool json_body = req_.content_type.find("protobuf") == std::string::npos;
    if (t_.custom && json_body && field_validation_ != FieldValidation::kIgnore) {
      if (media_type(req_.content_type) == "application/yaml") {
        // The strict YAML decoder reports every repeated key in one error.
        const auto repeated = yaml_duplicate_keys(req_.body);
        std::string error = "yaml: unmarshal errors:";
        for (const auto& r : repeated)
          error += "\n  line " + std::to_string(r.line) + ": key " + go_quote(r.key) +
                   " already set in map";
        if (!repeated.empty()) decode.strict_errors.push_back(error);
      } else {
        decode.strict_errors = duplicate_json_fields(req_.body);
      }
    }
    return decode;
  }

  Handled write(const ObjectStore::Mutation& mutate, Subresource sub, bool create_missing,
                const DecodeOptions& decode,
                const std::vector<std::string>* more_warnings = nullptr) {
    if (param(q_, "dryRun") == "All") {
      auto live = store_.get(t_, r_.ns, r_.name);
      auto next = mutate(live.ok() ? live.value() : json());
      if (!next.ok()) return done(error_reply(next.error()));
      return done(json_reply(200, next.value()));
    }
    auto out = store_.update(t_, r_.ns, r_.name, mutate, sub, create_missing, decode);
    if (!out.ok()) {
      ApiError e = out.error();
      if (more_warnings != nullptr)
        e.warnings.insert(e.warnings.begin(), more_warnings->begin(), more_warnings->end());
      return done(error_reply(e));
    }
    const auto& obj = out.value().object;
    std::vector<std::string> warnings = out.value().warnings;
    if (more_warnings != nullptr)
      warnings.insert(warnings.begin(), more_warnings->begin(), more_warnings->end());
    HttpReply reply = r_.sub == "scale" ? json_reply(200, to_scale(t_, obj))
                                        : json_reply(out.value().created ? 201 : 200, obj);
    add_warnings(reply, warnings);
    return done(std::move(reply));
  }

  ObjectStore& store_;
  const HttpRequest& req_;
  const Query& q_;
  const Route& r_;
  const ResourceType& t_;
  FieldValidation field_validation_;
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

// Go's http.NotFound, what the real server answers below /apis for a group (or a version of a
// custom resource group) nothing serves.
static HttpReply page_not_found() {
  HttpReply r;
  r.status = 404;
  r.content_type = "text/plain; charset=utf-8";
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.body = "404 page not found\n";
  return r;
}

HttpReply ApiHandler::group_not_found(const std::string& group) const {
  bool builtin = group.empty();
  for (const auto& t : store_.types())
    builtin = builtin || (!t.custom && t.group == group);
  return builtin ? error_reply(resource_not_found()) : page_not_found();
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
      return done(doc ? json_reply(200, *doc) : group_not_found(segs[1]));
    }
    if (segs.size() == 3 && segs[0] == "apis") {
      auto doc = legacy_resource_list(store_.types(), segs[1], segs[2]);
      return done(doc ? json_reply(200, *doc) : group_not_found(segs[1]));
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
  if (!route) {
    return done(segs.size() >= 2 && segs[0] == "apis" ? group_not_found(segs[1])
                                                      : error_reply(resource_not_found()));
  }
  const auto type = store_.find_type(route->group, route->version, route->resource);
  if (!type) return done(group_not_found(route->group));
  // The handler of custom resources passes what it does not serve on, to a plain 404; the
  // built-in groups' answer is a Status.
  const auto unserved = [&] {
    return done(type->custom ? page_not_found() : error_reply(resource_not_found()));
  };
  if (route->has_ns && !type->namespaced) return unserved();
  const std::string verb = verb_of(req.method, *route, q);
  if (type->custom && type->namespaced && !route->has_ns && verb != "list" && verb != "watch")
    return unserved();
  if (!route->sub.empty()) {
    const bool known = (route->sub == "status" && type->status_subresource) ||
                       (route->sub == "scale" && type->scale.has_value()) ||
                       (route->sub == "log" && type->group.empty() && type->resource == "pods");
    if (!known) {
      return done(error_reply(type->custom ? not_found(type->group_resource(), route->name)
                                           : resource_not_found()));
    }
  }
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

  // pods/<name>/log: text, from what the test set (no kubelet here).
  if (route->sub == "log") {
    if (verb != "get") return done(error_reply(method_not_allowed()));
    auto pod = store_.get(*type, route->ns, route->name);
    if (!pod.ok()) return done(error_reply(pod.error()));
    auto served =
        pod_logs_.serve(pod.value(), PodLogQuery{param(q, "container"), param(q, "previous"),
                                                 param(q, "tailLines"), param(q, "limitBytes")});
    if (!served.ok()) return done(error_reply(served.error()));
    HttpReply r;
    r.status = served.value().status;
    r.content_type = "text/plain";
    r.body = std::move(served.value().text);
    return done(std::move(r));
  }

  // Write options are checked before the body is read, as the real server does.
  FieldValidation field_validation = FieldValidation::kWarn;
  if (verb == "create" || verb == "update" || verb == "patch") {
    const char* options = verb == "create"   ? "CreateOptions"
                          : verb == "update" ? "UpdateOptions"
                                             : "PatchOptions";
    auto parsed = parse_field_validation(param(q, "fieldValidation"), options);
    if (!parsed.ok()) return done(error_reply(parsed.error()));
    field_validation = parsed.value();
  }
  RequestContext ctx(store_, req, q, *route, *type, field_validation);
  json body;
  if (verb == "create" || verb == "update" ||
      ((verb == "delete" || verb == "deletecollection") && !req.body.empty())) {
    auto decoded = decode_body(req, *type, verb == "delete" || verb == "deletecollection");
    if (!decoded.ok()) return done(error_reply(decoded.error()));
    body = std::move(decoded.value());
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
