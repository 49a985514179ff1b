#include "kubefn/cli/functions.hpp"

#include <set>
#include <sstream>

#include "kubefn/api/function.hpp"
#include "kubefn/cli/table.hpp"

namespace kubefn::cli {
namespace {

using nlohmann::json;

std::string str(const json& object, const json::json_pointer& pointer,
                const std::string& fallback = "") {
  if (!object.contains(pointer)) return fallback;
  const json& v = object.at(pointer);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return fallback;
  return v.dump();
}

std::int64_t integer(const json& object, const json::json_pointer& pointer,
                     std::int64_t fallback = 0) {
  if (!object.contains(pointer)) return fallback;
  const json& v = object.at(pointer);
  return v.is_number_integer() ? v.get<std::int64_t>() : fallback;
}

// Reasons that are steps on the way to Ready rather than something the user must fix.
bool in_progress(const std::string& reason) {
  static const std::set<std::string> steps = {
      "",          "BuildPending", "Building",    "BuildRunning",
      "Deploying", "Progressing",  "Reconciling", "Pending",
      "Scaling",   "ScalingUp",    "SourceStored"};
  return steps.count(reason) != 0;
}

std::string condition_summary(const json& function) {
  std::string out;
  for (const char* type : {api::condition::kSourceReady, api::condition::kBuilt,
                           api::condition::kDeploymentReady, api::condition::kReady}) {
    json c = condition(function, type);
    if (c.is_null()) continue;
    if (!out.empty()) out += " ";
    out += std::string(type) + "=" + c.value("status", "Unknown");
    const std::string reason = c.value("reason", "");
    if (!reason.empty() && c.value("status", "") != "True") out += " (" + reason + ")";
  }
  return out.empty() ? "no status yet" : out;
}

}  // namespace

json condition(const json& function, const std::string& type) {
  const auto pointer = json::json_pointer("/status/conditions");
  if (!function.contains(pointer) || !function.at(pointer).is_array()) return nullptr;
  for (const auto& c : function.at(pointer)) {
    if (c.is_object() && c.value("type", "") == type) return c;
  }
  return nullptr;
}

Readiness readiness(const json& function) {
  Readiness out;
  out.summary = condition_summary(function);
  const std::int64_t generation = integer(function, json::json_pointer("/metadata/generation"), 0);
  const std::int64_t observed =
      integer(function, json::json_pointer("/status/observedGeneration"), -1);
  auto current = [&](const json& c) {
    // A condition without observedGeneration follows status.observedGeneration.
    const std::int64_t seen =
        c.contains("observedGeneration") && c["observedGeneration"].is_number_integer()
            ? c["observedGeneration"].get<std::int64_t>()
            : observed;
    return generation == 0 || seen >= generation;
  };
  json built = condition(function, api::condition::kBuilt);
  if (!built.is_null() && current(built) && built.value("status", "") == "False" &&
      built.value("reason", "") == "BuildFailed") {
    out.progress = Progress::kFailed;
    out.reason = built.value("reason", "");
    out.message = built.value("message", "");
    return out;
  }
  json ready = condition(function, api::condition::kReady);
  if (ready.is_null() || !current(ready)) return out;
  out.reason = ready.value("reason", "");
  out.message = ready.value("message", "");
  const std::string status = ready.value("status", "Unknown");
  if (status == "True" || out.reason == "ScaledToZero") {
    out.progress = Progress::kReady;
  } else if (status == "False" && !in_progress(out.reason)) {
    out.progress = Progress::kFailed;
  }
  return out;
}

std::vector<std::string> list_header(bool all_namespaces) {
  std::vector<std::string> header = {"NAME", "READY", "REPLICAS", "IMAGE/URL", "AGE"};
  if (all_namespaces) header.insert(header.begin(), "NAMESPACE");
  return header;
}

std::vector<std::string> list_row(const json& function, bool all_namespaces,
                                  std::chrono::system_clock::time_point now) {
  using P = json::json_pointer;
  json ready = condition(function, api::condition::kReady);
  std::string ready_text = ready.is_null() ? "-" : ready.value("status", "Unknown");
  std::string replicas = "-";
  if (function.contains(P("/status/replicas")) || function.contains(P("/status/readyReplicas"))) {
    replicas = std::to_string(integer(function, P("/status/readyReplicas"))) + "/" +
               std::to_string(integer(function, P("/status/replicas")));
  }
  std::string where = str(function, P("/status/url"));
  if (where.empty()) where = str(function, P("/status/image"));
  if (where.empty()) where = str(function, P("/spec/image"));
  if (where.empty()) where = "-";
  std::vector<std::string> row = {str(function, P("/metadata/name")), ready_text, replicas, where,
                                  age_since(str(function, P("/metadata/creationTimestamp")), now)};
  if (all_namespaces) row.insert(row.begin(), str(function, P("/metadata/namespace")));
  return row;
}

std::string describe_text(const json& function, const std::vector<json>& events,
                          std::chrono::system_clock::time_point now) {
  using P = json::json_pointer;
  std::ostringstream out;
  auto field = [&](const std::string& name, const std::string& value) {
    if (value.empty()) return;
    out << name << ":" << std::string(name.size() < 15 ? 15 - name.size() : 1, ' ') << value
        << "\n";
  };
  field("Name", str(function, P("/metadata/name")));
  field("Namespace", str(function, P("/metadata/namespace")));
  field("Created", str(function, P("/metadata/creationTimestamp")) + " (" +
                       age_since(str(function, P("/metadata/creationTimestamp")), now) + " ago)");
  field("Generation", str(function, P("/metadata/generation")));
  field("Handler", str(function, P("/spec/handler")));
  field("Runtime", str(function, P("/spec/runtime"), "cpp20"));
  if (function.contains(P("/spec/source/inline"))) {
    field("Source",
          "inline (" + std::to_string(str(function, P("/spec/source/inline")).size()) + " bytes)");
  } else if (function.contains(P("/spec/source/configMapRef"))) {
    field("Source", "configMap " + str(function, P("/spec/source/configMapRef/name")));
  } else if (function.contains(P("/spec/source/url"))) {
    field("Source", str(function, P("/spec/source/url")));
  }
  if (function.contains(P("/spec/dependencies"))) {
    std::string deps;
    for (const auto& d : function.at(P("/spec/dependencies"))) {
      if (!deps.empty()) deps += ", ";
      deps += d.is_string() ? d.get<std::string>() : d.dump();
    }
    field("Dependencies", deps);
  }
  field("Image", str(function, P("/spec/image")));
  field("Timeout", function.contains(P("/spec/timeout")) ? str(function, P("/spec/timeout")) + "s"
                                                         : std::string());
  field("Concurrency", str(function, P("/spec/concurrency")));
  if (function.contains(P("/spec/scaling"))) {
    std::string scaling = str(function, P("/spec/scaling/minReplicas"), "0") + ".." +
                          str(function, P("/spec/scaling/maxReplicas"), "10") + " replicas";
    const std::string metric = str(function, P("/spec/scaling/metric"));
    if (!metric.empty()) {
      scaling += ", " + metric;
      const std::string target = str(function, P("/spec/scaling/target"));
      if (!target.empty()) scaling += " target " + target;
    }
    field("Scaling", scaling);
  }
  field("Access", str(function, P("/spec/access"), "private"));
  out << "Status:\n";
  auto status_field = [&](const std::string& name, const std::string& value) {
    if (value.empty()) return;
    out << "  " << name << ":" << std::string(name.size() < 13 ? 13 - name.size() : 1, ' ') << value
        << "\n";
  };
  if (!function.contains("status")) out << "  (none yet: is the operator running?)\n";
  status_field("Replicas", function.contains(P("/status/replicas"))
                               ? str(function, P("/status/readyReplicas"), "0") + " ready of " +
                                     str(function, P("/status/replicas"))
                               : std::string());
  status_field("Image", str(function, P("/status/image")));
  status_field("URL", str(function, P("/status/url")));
  status_field("Source digest", str(function, P("/status/sourceDigest")));
  status_field("Observed gen", str(function, P("/status/observedGeneration")));
  if (function.contains(P("/status/scaling/desiredReplicas"))) {
    status_field("Last scale", "to " + str(function, P("/status/scaling/desiredReplicas")) +
                                   " at " + str(function, P("/status/scaling/lastScaleTime")) +
                                   ": " + str(function, P("/status/scaling/reason")));
  }

  out << "Conditions:\n";
  std::vector<std::vector<std::string>> rows;
  if (function.contains(P("/status/conditions")) &&
      function.at(P("/status/conditions")).is_array()) {
    for (const auto& c : function.at(P("/status/conditions"))) {
      rows.push_back({c.value("type", ""), c.value("status", ""), c.value("reason", ""),
                      age_since(c.value("lastTransitionTime", ""), now), c.value("message", "")});
    }
  }
  if (rows.empty()) {
    out << "  <none>\n";
  } else {
    std::istringstream table(format_table({"TYPE", "STATUS", "REASON", "SINCE", "MESSAGE"}, rows));
    for (std::string line; std::getline(table, line);)
      out << "  " << line << "\n";
  }

  out << "Events:\n";
  std::vector<std::vector<std::string>> event_rows;
  for (const auto& e : events) {
    std::string when = e.value("lastTimestamp", "");
    if (when.empty() || e["lastTimestamp"].is_null()) when = e.value("eventTime", "");
    if (when.empty()) when = str(e, P("/metadata/creationTimestamp"));
    std::string count;
    if (e.contains("count") && e["count"].is_number_integer() && e["count"].get<int>() > 1) {
      count = " (x" + std::to_string(e["count"].get<int>()) + ")";
    }
    std::string from = str(e, P("/source/component"));
    if (from.empty()) from = e.value("reportingComponent", "");
    event_rows.push_back({e.value("type", ""), e.value("reason", ""), age_since(when, now) + count,
                          from, e.value("message", "")});
  }
  if (event_rows.empty()) {
    out << "  <none>\n";
  } else {
    std::istringstream table(
        format_table({"TYPE", "REASON", "AGE", "FROM", "MESSAGE"}, event_rows));
    for (std::string line; std::getline(table, line);)
      out << "  " << line << "\n";
  }
  return out.str();
}

}  // namespace kubefn::cli
