#include "api_error.hpp"

namespace kubefn::emulator {
namespace {

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
  return {404, "NotFound", "the server could not find the requested resource"};
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

ApiError invalid(const std::string& group_resource, const std::string& name,
                 const std::string& field, const std::string& cause_reason,
                 const std::string& detail) {
  auto d = details_for(group_resource, name);
  const std::string msg = field + ": " + detail;
  d["causes"] =
      nlohmann::json::array({{{"reason", cause_reason}, {"message", msg}, {"field", field}}});
  return {422, "Invalid", group_resource + " \"" + name + "\" is invalid: " + msg, d};
}

ApiError method_not_allowed() {
  return {405, "MethodNotAllowed",
          "the server does not allow this method on the requested resource"};
}

ApiError unsupported_media_type(const std::string& content_type) {
  return {415, "UnsupportedMediaType",
          "the body of the request was in an unknown format - accepted media types include: "
          "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml "
          "(got " +
              content_type + ")"};
}

ApiError gone(std::string message) {
  return {410, "Expired", std::move(message)};
}

}  // namespace kubefn::emulator
