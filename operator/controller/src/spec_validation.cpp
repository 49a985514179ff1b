#include "kubefn/controller/spec_validation.hpp"

#include <array>
#include <regex>
#include <set>

#include "kubefn/controller/quantity.hpp"

namespace kubefn::controller {
namespace {

using nlohmann::json;

bool matches(std::string_view s, const std::regex& re) {
  return std::regex_match(s.begin(), s.end(), re);
}

// A JSON value as the user wrote it, for messages: strings quoted, the rest as JSON.
std::string shown(const json& v) {
  return v.dump();
}

SpecError error(const char* reason, std::string message) {
  return SpecError{reason, std::move(message)};
}

std::string at(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// The first key of `obj` not in `known`, or nothing.
std::optional<std::string> unknown_key(const json& obj,
                                       std::initializer_list<std::string_view> known) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool ok = false;
    for (auto k : known)
      ok = ok || it.key() == k;
    if (!ok) return it.key();
  }
  return std::nullopt;
}

std::string known_list(std::initializer_list<std::string_view> known) {
  std::string out;
  for (auto k : known) {
    if (!out.empty()) out += ", ";
    out += k;
  }
  return out;
}

std::optional<SpecError> only_known(const json& obj, const std::string& path,
                                    std::initializer_list<std::string_view> known,
                                    const char* reason) {
  if (auto k = unknown_key(obj, known)) {
    return error(reason, path + ": unknown field \"" + *k + "\" (it takes " + known_list(known) +
                             "): check its spelling");
  }
  return std::nullopt;
}

bool present(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && !it->is_null();
}

// A quantity's text as the API server reads it: a string, or a bare JSON number.
std::optional<std::string> quantity_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return v.dump();
  return std::nullopt;
}

std::optional<Quantity> quantity_of(const json& v) {
  auto text = quantity_text(v);
  return text ? parse_quantity(*text) : std::nullopt;
}

// --- env -------------------------------------------------------------------------------------

bool reserved_env(const std::string& n) {
  return n.rfind("FUNC_", 0) == 0 || n.rfind("KUBEFN_", 0) == 0 || n == "MOD_NAME" ||
         n == "POD_NAME" || n == "POD_NAMESPACE";
}

std::optional<SpecError> check_object_ref(const json& ref, const std::string& path,
                                          const char* kind, bool with_key) {
  if (!ref.is_object()) return error("InvalidEnv", path + " must be an object");
  if (auto e = with_key ? only_known(ref, path, {"name", "key", "optional"}, "InvalidEnv")
                        : only_known(ref, path, {"name", "optional"}, "InvalidEnv")) {
    return e;
  }
  const json name = ref.value("name", json());
  if (name.is_null()) return error("InvalidEnv", path + ".name is missing: name the " + kind);
  if (!name.is_string() || !is_dns_subdomain(name.get<std::string>())) {
    return error("InvalidEnv", path + ".name: " + shown(name) + " is not a " + kind +
                                   " name: lower-case letters, digits, '-' and '.', at most 253");
  }
  if (with_key) {
    const json key = ref.value("key", json());
    if (key.is_null()) {
      return error("InvalidEnv", path + ".key is missing: name the key in the " + kind);
    }
    if (!key.is_string() || !is_config_map_key(key.get<std::string>())) {
      return error("InvalidEnv", path + ".key: " + shown(key) +
                                     " is not a key: letters, digits, '-', '_' and '.' (not . "
                                     "or .. or starting with ..), at most 253");
    }
  }
  if (present(ref, "optional") && !ref["optional"].is_boolean()) {
    return error("InvalidEnv", path + ".optional must be true or false");
  }
  return std::nullopt;
}

bool is_field_path(const std::string& p) {
  static const std::set<std::string> kPaths = {"metadata.name",
                                               "metadata.namespace",
                                               "metadata.uid",
                                               "spec.nodeName",
                                               "spec.serviceAccountName",
                                               "status.hostIP",
                                               "status.hostIPs",
                                               "status.podIP",
                                               "status.podIPs"};
  if (kPaths.count(p) != 0) return true;
  if (p.size() > 512) return false;  // longer than any label or annotation key allows
  static const std::regex subscript(R"(^metadata\.(labels|annotations)\['(.*)'\]$)");
  std::smatch m;
  return std::regex_match(p, m, subscript) && is_qualified_name(m[2].str());
}

bool divisor_allowed(const std::string& resource, const Quantity& divisor) {
  const bool cpu = resource.ends_with(".cpu");
  static const std::array<const char*, 2> kCpu = {"1m", "1"};
  static const std::array<const char*, 13> kBytes = {"1",   "1k",  "1M",  "1G",  "1T",  "1P", "1E",
                                                     "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"};
  auto in = [&](const auto& list) {
    for (const char* s : list) {
      if (compare(*parse_quantity(s), divisor) == 0) return true;
    }
    return false;
  };
  return cpu ? in(kCpu) : in(kBytes);
}

std::optional<SpecError> check_value_from(const json& vf, const std::string& path) {
  if (!vf.is_object()) return error("InvalidEnv", path + " must be an object");
  if (auto e =
          only_known(vf, path, {"fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef"},
                     "InvalidEnv")) {
    return e;
  }
  int sources = 0;
  for (const char* k : {"fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef"})
    sources += present(vf, k) ? 1 : 0;
  if (sources != 1) {
    return error("InvalidEnv", path +
                                   " must set exactly one of fieldRef, resourceFieldRef, "
                                   "configMapKeyRef and secretKeyRef");
  }
  if (present(vf, "fieldRef")) {
    const json& f = vf["fieldRef"];
    const std::string p = path + ".fieldRef";
    if (!f.is_object()) return error("InvalidEnv", p + " must be an object");
    if (auto e = only_known(f, p, {"fieldPath", "apiVersion"}, "InvalidEnv")) return e;
    const json fp = f.value("fieldPath", json());
    if (!fp.is_string() || !is_field_path(fp.get<std::string>())) {
      return error("InvalidEnv",
                   p + ".fieldPath" + (fp.is_null() ? " is missing" : ": " + shown(fp)) +
                       " is not a pod field: use metadata.name, metadata.namespace, "
                       "metadata.uid, metadata.labels['<key>'], metadata.annotations['<key>'], "
                       "spec.nodeName, spec.serviceAccountName, status.hostIP(s) or "
                       "status.podIP(s)");
    }
    if (present(f, "apiVersion") && f["apiVersion"] != "v1") {
      return error("InvalidEnv", p + ".apiVersion: " + shown(f["apiVersion"]) +
                                     " is not supported: use v1 or leave it out");
    }
  } else if (present(vf, "resourceFieldRef")) {
    const json& r = vf["resourceFieldRef"];
    const std::string p = path + ".resourceFieldRef";
    if (!r.is_object()) return error("InvalidEnv", p + " must be an object");
    if (auto e = only_known(r, p, {"resource", "containerName", "divisor"}, "InvalidEnv")) {
      return e;
    }
    const json res = r.value("resource", json());
    static const std::regex re(
        R"(^(limits|requests)\.(cpu|memory|ephemeral-storage|hugepages-[^\s]+)$)");
    if (!res.is_string() || res.get<std::string>().size() > 128 ||
        !matches(res.get<std::string>(), re)) {
      return error("InvalidEnv", p + ".resource" +
                                     (res.is_null() ? " is missing" : ": " + shown(res)) +
                                     " is not a container resource: use limits.cpu, "
                                     "limits.memory, limits.ephemeral-storage or requests.*");
    }
    if (present(r, "containerName") && r["containerName"] != "function") {
      return error("InvalidEnv", p + ".containerName: " + shown(r["containerName"]) +
                                     " is not the function's container: use function or "
                                     "leave it out");
    }
    if (present(r, "divisor")) {
      auto d = quantity_of(r["divisor"]);
      if (!d || !divisor_allowed(res.get<std::string>(), *d)) {
        return error("InvalidEnv",
                     p + ".divisor: " + shown(r["divisor"]) + " is not a divisor for " +
                         res.get<std::string>() +
                         (res.get<std::string>().ends_with(".cpu")
                              ? ": use 1 or 1m"
                              : ": use 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi or 1Ei"));
      }
    }
  } else if (present(vf, "configMapKeyRef")) {
    return check_object_ref(vf["configMapKeyRef"], path + ".configMapKeyRef", "ConfigMap", true);
  } else {
    return check_object_ref(vf["secretKeyRef"], path + ".secretKeyRef", "Secret", true);
  }
  return std::nullopt;
}

// --- resources -------------------------------------------------------------------------------

bool is_hugepages(const std::string& name) {
  return name.rfind("hugepages-", 0) == 0;
}

bool is_standard(const std::string& name) {
  return name == "cpu" || name == "memory" || name == "ephemeral-storage" || is_hugepages(name);
}

// An extended resource a device plugin or the cluster's operator advertises: a qualified
// name with a domain outside kubernetes.io, e.g. example.com/gpu.
bool is_extended(const std::string& name) {
  if (name.find('/') == std::string::npos) return false;
  if (name.find("kubernetes.io/") != std::string::npos) return false;
  if (name.rfind("requests.", 0) == 0) return false;
  return is_qualified_name("requests." + name);
}

// Resources whose request must equal their limit (the API's "not overcommitable").
bool exact(const std::string& name) {
  return is_hugepages(name) || is_extended(name);
}

const char* example_for(const std::string& name) {
  if (name == "cpu") return "500m";
  if (name == "memory") return "128Mi";
  if (name == "ephemeral-storage" || is_hugepages(name)) return "1Gi";
  return "1";
}

std::optional<SpecError> check_resource_list(const json& list, const std::string& path) {
  if (!list.is_object()) {
    return error("InvalidResources",
                 path + " must be a map of resource to quantity, e.g. {cpu: 500m, memory: 128Mi}");
  }
  for (auto it = list.begin(); it != list.end(); ++it) {
    const std::string name = it.key();
    const std::string p = path + "." + name;
    if (!is_standard(name) && !is_extended(name)) {
      return error("InvalidResources",
                   p + ": \"" + name +
                       "\" is not a resource a container can ask for: use cpu, memory, "
                       "ephemeral-storage, hugepages-<size> or an extended resource such as "
                       "example.com/gpu");
    }
    std::optional<Quantity> page;
    if (is_hugepages(name)) {
      page = parse_quantity(name.substr(10));
      if (!page || page->negative || page->is_zero() || !page->is_integer()) {
        return error("InvalidResources", p + ": \"" + name.substr(10) +
                                             "\" is not a page size (for example hugepages-2Mi)");
      }
    }
    const json& v = it.value();
    auto text = quantity_text(v);
    std::string why;
    auto q = text ? parse_quantity(*text, &why) : std::nullopt;
    if (!q) {
      return error("InvalidResources", p + ": " + shown(v) + " " +
                                           (why.empty() ? "is not a quantity" : why) +
                                           " (for example " + example_for(name) + ")");
    }
    if (q->negative && !q->is_zero()) {
      return error("InvalidResources", p + ": " + shown(v) + " is negative: use 0 or more");
    }
    const bool bytes = name == "memory" || name == "ephemeral-storage" || is_hugepages(name);
    if (bytes && !q->is_integer()) {
      return error("InvalidResources", p + ": " + shown(v) + " is not a whole number of bytes" +
                                           " (for example " + example_for(name) + ")");
    }
    if (is_extended(name) && !q->is_integer()) {
      return error("InvalidResources", p + ": " + shown(v) + " is not a whole number: " + name +
                                           " is counted in units");
    }
    if (page && (q->nanos / 1'000'000'000) % (page->nanos / 1'000'000'000) != 0) {
      return error("InvalidResources",
                   p + ": " + shown(v) + " is not a whole number of " + name.substr(10) + " pages");
    }
  }
  return std::nullopt;
}

}  // namespace

// --- names -----------------------------------------------------------------------------------

bool is_dns_label(std::string_view s) {
  static const std::regex re("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");
  return !s.empty() && s.size() <= 63 && matches(s, re);
}

bool is_dns_subdomain(std::string_view s) {
  static const std::regex re("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$");
  return !s.empty() && s.size() <= 253 && matches(s, re);
}

bool is_config_map_key(std::string_view s) {
  static const std::regex re("^[-._a-zA-Z0-9]+$");
  return !s.empty() && s.size() <= 253 && matches(s, re) && s != "." && !s.starts_with("..");
}

bool is_qualified_name(std::string_view s) {
  std::string_view name = s;
  if (const auto slash = s.find('/'); slash != std::string_view::npos) {
    if (!is_dns_subdomain(s.substr(0, slash))) return false;
    name = s.substr(slash + 1);
  }
  static const std::regex re("^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$");
  return !name.empty() && name.size() <= 63 && matches(name, re);
}

bool is_env_var_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < 0x20 || c > 0x7e || c == '=') return false;
  }
  return true;
}

bool is_image_reference(std::string_view s) {
  // As the container runtime parses it (the distribution reference grammar): each part is
  // checked on its own, which keeps every match short.
  if (s.empty() || s.size() > 1024) return false;
  std::string_view name = s;
  std::string_view digest;
  if (const auto atsign = s.find('@'); atsign != std::string_view::npos) {
    name = s.substr(0, atsign);
    digest = s.substr(atsign + 1);
    static const std::regex digest_re(
        "^([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*):([0-9a-fA-F]{32,})$");
    std::match_results<std::string_view::const_iterator> m;
    if (!std::regex_match(digest.begin(), digest.end(), m, digest_re)) return false;
    const std::string algorithm = m[1].str();
    const std::string hex = m[2].str();
    static const std::regex lower_hex("^[a-f0-9]+$");
    const std::size_t want = algorithm == "sha256"   ? 64
                             : algorithm == "sha384" ? 96
                             : algorithm == "sha512" ? 128
                                                     : 0;
    if (want == 0 || hex.size() != want || !matches(hex, lower_hex)) return false;
  }
  const auto slash = name.rfind('/');
  if (const auto colon = name.rfind(':');
      colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    static const std::regex tag_re("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$");
    if (!matches(name.substr(colon + 1), tag_re)) return false;
    name = name.substr(0, colon);
  }
  if (name.empty() || name.size() > 255) return false;
  static const std::regex path_re("^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$");
  static const std::regex domain_re(
      "^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
      "(?:\\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
      "|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$");
  std::size_t start = 0;
  for (bool first = true;; first = false) {
    const auto end = name.find('/', start);
    const std::string_view part =
        name.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    const bool ok = matches(part, path_re) ||
                    (first && end != std::string_view::npos && matches(part, domain_re));
    if (!ok) return false;
    if (end == std::string_view::npos) return true;
    start = end + 1;
  }
}

bool is_cpp_identifier(std::string_view s) {
  static const std::regex re("^[A-Za-z_][A-Za-z0-9_]*$");
  if (!matches(s, re)) return false;
  static const std::set<std::string_view> kKeywords = {
      "alignas",       "alignof",     "and",
      "and_eq",        "asm",         "auto",
      "bitand",        "bitor",       "bool",
      "break",         "case",        "catch",
      "char",          "char8_t",     "char16_t",
      "char32_t",      "class",       "compl",
      "concept",       "const",       "consteval",
      "constexpr",     "constinit",   "const_cast",
      "continue",      "co_await",    "co_return",
      "co_yield",      "decltype",    "default",
      "delete",        "do",          "double",
      "dynamic_cast",  "else",        "enum",
      "explicit",      "export",      "extern",
      "false",         "float",       "for",
      "friend",        "goto",        "if",
      "inline",        "int",         "long",
      "mutable",       "namespace",   "new",
      "noexcept",      "not",         "not_eq",
      "nullptr",       "operator",    "or",
      "or_eq",         "private",     "protected",
      "public",        "register",    "reinterpret_cast",
      "requires",      "return",      "short",
      "signed",        "sizeof",      "static",
      "static_assert", "static_cast", "struct",
      "switch",        "template",    "this",
      "thread_local",  "throw",       "true",
      "try",           "typedef",     "typeid",
      "typename",      "union",       "unsigned",
      "using",         "virtual",     "void",
      "volatile",      "wchar_t",     "while",
      "xor",           "xor_eq"};
  return kKeywords.count(s) == 0;
}

// --- checks ----------------------------------------------------------------------------------

std::optional<SpecError> check_env(const json& env) {
  for (std::size_t i = 0; i < env.size(); ++i) {
    const json& e = env[i];
    const std::string p = at("spec.env", i);
    if (!e.is_object()) {
      return error("InvalidEnv", p + " must be an object: {name, value} or {name, valueFrom}");
    }
    if (auto err = only_known(e, p, {"name", "value", "valueFrom"}, "InvalidEnv")) return err;
    const json name = e.value("name", json());
    if (name.is_null() || (name.is_string() && name.get<std::string>().empty())) {
      return error("InvalidEnv", p + ".name is missing: every spec.env entry needs a name");
    }
    if (!name.is_string() || !is_env_var_name(name.get<std::string>())) {
      return error("InvalidEnv", p + ".name: " + shown(name) +
                                     " is not an environment variable name: use printable "
                                     "ASCII without '=' (for example LOG_LEVEL)");
    }
    const std::string n = name.get<std::string>();
    if (reserved_env(n)) {
      return error("InvalidEnv", "spec.env sets " + n +
                                     ", which the platform owns: use the matching spec field "
                                     "(handler, timeout, resources) instead");
    }
    if (present(e, "value") && !e["value"].is_string()) {
      return error("InvalidEnv",
                   p + ".value: " + shown(e["value"]) + " is not a string: quote it (\"" +
                       (e["value"].is_primitive() ? e["value"].dump() : "...") + "\")");
    }
    if (present(e, "valueFrom")) {
      if (present(e, "value") && !e["value"].get<std::string>().empty()) {
        return error("InvalidEnv", p + " sets both value and valueFrom: keep one");
      }
      if (auto err = check_value_from(e["valueFrom"], p + ".valueFrom")) return err;
    }
  }
  return std::nullopt;
}

std::optional<SpecError> check_env_from(const json& env_from) {
  for (std::size_t i = 0; i < env_from.size(); ++i) {
    const json& e = env_from[i];
    const std::string p = at("spec.envFrom", i);
    if (!e.is_object()) {
      return error("InvalidEnv", p + " must be an object: {configMapRef} or {secretRef}");
    }
    if (auto err = only_known(e, p, {"prefix", "configMapRef", "secretRef"}, "InvalidEnv")) {
      return err;
    }
    if (present(e, "prefix")) {
      const json& prefix = e["prefix"];
      if (!prefix.is_string() ||
          (!prefix.get<std::string>().empty() && !is_env_var_name(prefix.get<std::string>()))) {
        return error("InvalidEnv", p + ".prefix: " + shown(prefix) +
                                       " is not an environment variable prefix: use printable "
                                       "ASCII without '=' (for example APP_)");
      }
    }
    const bool cm = present(e, "configMapRef");
    const bool secret = present(e, "secretRef");
    if (cm == secret) {
      return error("InvalidEnv", p + " must set exactly one of configMapRef and secretRef");
    }
    if (auto err = cm ? check_object_ref(e["configMapRef"], p + ".configMapRef", "ConfigMap", false)
                      : check_object_ref(e["secretRef"], p + ".secretRef", "Secret", false)) {
      return err;
    }
  }
  return std::nullopt;
}

std::optional<SpecError> check_resources(const json& resources) {
  if (!resources.is_object()) {
    return error("InvalidResources", "spec.resources must be an object: {requests, limits}");
  }
  if (present(resources, "claims")) {
    return error("InvalidResources",
                 "spec.resources.claims is not supported: a function's pod has no resource "
                 "claims; remove it");
  }
  if (auto e = only_known(resources, "spec.resources", {"requests", "limits", "claims"},
                          "InvalidResources")) {
    return e;
  }
  const json none = json::object();
  const json& requests = present(resources, "requests") ? resources["requests"] : none;
  const json& limits = present(resources, "limits") ? resources["limits"] : none;
  if (auto e = check_resource_list(limits, "spec.resources.limits")) return e;
  if (auto e = check_resource_list(requests, "spec.resources.requests")) return e;
  for (auto it = requests.begin(); it != requests.end(); ++it) {
    const std::string& name = it.key();
    const std::string p = "spec.resources.requests." + name;
    auto limit = limits.find(name);
    if (limit == limits.end()) {
      if (exact(name)) {
        return error("InvalidResources",
                     p + " is set without spec.resources.limits." + name + ": " + name +
                         " cannot be overcommitted, so set the limit to the same value");
      }
      continue;
    }
    const int order = compare(*quantity_of(it.value()), *quantity_of(*limit));
    if (exact(name) && order != 0) {
      return error("InvalidResources", p + " (" + shown(it.value()) +
                                           ") differs from spec.resources.limits." + name + " (" +
                                           shown(*limit) + "): " + name +
                                           " cannot be overcommitted, so make them equal");
    }
    if (order > 0) {
      return error("InvalidResources",
                   p + " (" + shown(it.value()) + ") is above spec.resources.limits." + name +
                       " (" + shown(*limit) + "): lower the request or raise the limit");
    }
  }
  // The API refuses huge pages without cpu or memory; the defaults usually supply them.
  const json effective = effective_resources(resources);
  bool hugepages = false;
  bool cpu_or_memory = false;
  for (const char* list : {"requests", "limits"}) {
    for (auto it = effective[list].begin(); it != effective[list].end(); ++it) {
      hugepages = hugepages || is_hugepages(it.key());
      cpu_or_memory = cpu_or_memory || it.key() == "cpu" || it.key() == "memory";
    }
  }
  if (hugepages && !cpu_or_memory) {
    return error("InvalidResources",
                 "spec.resources asks for huge pages without cpu or memory: add a cpu or memory "
                 "request or limit");
  }
  return std::nullopt;
}

std::optional<SpecError> check_image(const std::string& image) {
  if (!is_image_reference(image)) {
    return error("InvalidImage",
                 "spec.image: \"" + image +
                     "\" is not an image reference: [registry[:port]/]lower-case/path[:tag]"
                     "[@sha256:<64 hex>], for example registry.example.com/team/hello:1.0");
  }
  return std::nullopt;
}

json effective_resources(const json& resources) {
  json r = json::object();
  if (resources.is_object()) {
    for (auto it = resources.begin(); it != resources.end(); ++it) {
      if (!it->is_null()) r[it.key()] = *it;
    }
  }
  auto below = [](const json& a, const json& b) {
    auto qa = quantity_of(a);
    auto qb = quantity_of(b);
    return qa && qb && compare(*qa, *qb) < 0;
  };
  if (!r.contains("requests")) {
    json requests = {{"cpu", "50m"}, {"memory", "32Mi"}};
    if (r.contains("limits") && r["limits"].is_object()) {
      for (auto& [name, value] : requests.items()) {
        auto limit = r["limits"].find(name);
        if (limit != r["limits"].end() && below(*limit, value)) value = *limit;
      }
    }
    r["requests"] = std::move(requests);
  }
  if (!r.contains("limits")) {
    json limits = {{"memory", "128Mi"}};
    if (r["requests"].is_object()) {
      auto memory = r["requests"].find("memory");
      if (memory != r["requests"].end() && below(limits["memory"], *memory)) {
        limits["memory"] = *memory;
      }
    }
    r["limits"] = std::move(limits);
  }
  return r;
}

}  // namespace kubefn::controller
