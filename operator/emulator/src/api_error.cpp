#include "api_error.hpp"

#include <set>

#include "go_format.hpp"

namespace kubefn::emulator {
namespace {

using ordered = nlohmann::ordered_json;

// metav1.StatusDetails in its Go field order, empty fields omitted.
ordered ordered_details(const nlohmann::json& d) {
  ordered out = ordered::object();
  for (const char* key : {"name", "group", "kind", "uid"}) {
    const auto it = d.find(key);
    if (it != d.end() && it->is_string() && !it->get<std::string>().empty()) out[key] = *it;
  }
  if (const auto c = d.find("causes"); c != d.end() && c->is_array() && !c->empty()) {
    ordered causes = ordered::array();
    for (const auto& cause : *c) {
      ordered oc = ordered::object();
      for (const char* key : {"reason", "message", "field"}) {
        const auto it = cause.find(key);
        if (it != cause.end() && it->is_string() && !it->get<std::string>().empty()) oc[key] = *it;
      }
      causes.push_back(std::move(oc));
    }
    out["causes"] = std::move(causes);
  }
  if (const auto r = d.find("retryAfterSeconds"); r != d.end() && r->is_number() && *r != 0)
    out["retryAfterSeconds"] = *r;
  return out;
}

// "functions.example.dev" -> group "example.dev", kind "functions" (the API puts the resource
// name in details.kind).
nlohmann::json details_for(const std::string& group_resource, const std::string& name) {
  const auto dot = group_resource.find('.');
  nlohmann::json d = {{"name", name}};
  if (dot == std::string::npos) {
    d["kind"] = group_resource;
  } else {
    d["kind"] = group_resource.substr(0, dot);
    d["group"] = group_resource.substr(dot + 1);
  }
  return d;
}

}  // namespace

nlohmann::json status_body(const ApiError& e) {
  nlohmann::json s = {
      {"kind", "Status"},    {"apiVersion", "v1"},   {"metadata", nlohmann::json::object()},
      {"status", "Failure"}, {"message", e.message}, {"reason", e.reason},
      {"code", e.code}};
  if (!e.details.is_null()) s["details"] = e.details;
  return s;
}

std::string status_text(const ApiError& e) {
  ordered s = {{"kind", "Status"},
               {"apiVersion", "v1"},
               {"metadata", ordered::object()},
               {"status", "Failure"}};
  if (!e.message.empty()) s["message"] = e.message;
  if (!e.reason.empty()) s["reason"] = e.reason;
  // Details that are an object are written even when empty: the real server's generic errors
  // (an unknown resource, a failing JSON patch) carry "details": {}.
  if (e.details.is_object()) s["details"] = ordered_details(e.details);
  s["code"] = e.code;
  return go_json_escape_html(s.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) +
         "\n";
}

nlohmann::json success_status(const nlohmann::json& details) {
  return {{"kind", "Status"},
          {"apiVersion", "v1"},
          {"metadata", nlohmann::json::object()},
          {"status", "Success"},
          {"details", details}};
}

ApiError bad_request(std::string message) {
  return {400, "BadRequest", std::move(message)};
}

ApiError not_found(const std::string& group_resource, const std::string& name) {
  return {404, "NotFound", group_resource + " \"" + name + "\" not found",
          details_for(group_resource, name)};
}

ApiError resource_not_found() {
  return {404, "NotFound", "the server could not find the requested resource",
          nlohmann::json::object()};
}

ApiError already_exists(const std::string& group_resource, const std::string& name) {
  return {409, "AlreadyExists", group_resource + " \"" + name + "\" already exists",
          details_for(group_resource, name)};
}

ApiError conflict(const std::string& group_resource, const std::string& name) {
  return {409, "Conflict",
          "Operation cannot be fulfilled on " + group_resource + " \"" + name +
              "\": the object has been modified; please apply your changes to the latest "
              "version and try again",
          details_for(group_resource, name)};
}

ApiError invalid(const std::string& group, const std::string& kind, const std::string& name,
                 const std::vector<FieldError>& errors) {
  nlohmann::json d = nlohmann::json::object();
  if (!name.empty()) d["name"] = name;
  if (!group.empty()) d["group"] = group;
  if (!kind.empty()) d["kind"] = kind;
  nlohmann::json causes = nlohmann::json::array();
  std::vector<std::string> messages;
  std::set<std::string> seen;
  for (const auto& e : errors) {
    causes.push_back({{"reason", e.type}, {"message", e.body}, {"field", e.field}});
    std::string msg = e.field + ": " + e.body;
    if (seen.insert(msg).second) messages.push_back(std::move(msg));
  }
  if (!causes.empty()) d["causes"] = std::move(causes);
  const std::string qualified = group.empty() ? kind : kind + "." + group;
  std::string message = qualified + " " + go_quote(name) + " is invalid";
  if (messages.size() == 1) {
    message += ": " + messages[0];
  } else if (!messages.empty()) {
    message += ": [";
    for (std::size_t i = 0; i < messages.size(); ++i)
      message += (i > 0 ? ", " : "") + messages[i];
    message += "]";
  }
  return {422, "Invalid", std::move(message), std::move(d)};
}

ApiError invalid(const std::string& group, const std::string& kind, const std::string& name,
                 const std::string& field, const std::string& cause_reason,
                 const std::string& body) {
  return invalid(group, kind, name, {FieldError{cause_reason, field, body}});
}

ApiError method_not_allowed() {
  return {405, "MethodNotAllowed",
          "the server does not allow this method on the requested resource"};
}

ApiError unsupported_media_type(const std::vector<std::string>& accepted) {
  std::string message =
      "the body of the request was in an unknown format - accepted media types include: ";
  for (std::size_t i = 0; i < accepted.size(); ++i)
    message += (i > 0 ? ", " : "") + accepted[i];
  return {415, "UnsupportedMediaType", std::move(message)};
}

ApiError gone(std::string message) {
  return {410, "Expired", std::move(message)};
}

}  // namespace kubefn::emulator
