#include "table.hpp"

#include <chrono>
#include <functional>

#include "selectors.hpp"
#include "time_and_ids.hpp"

namespace kubefn::emulator {
namespace {

using nlohmann::json;

struct Column {
  std::string name;
  std::string type;
  std::string format;
  int priority;
  std::function<json(const json&)> cell;
};

std::string age_of(const json& obj) {
  const auto ts = obj["metadata"].value("creationTimestamp", "");
  if (ts.empty()) return "<unknown>";
  const auto d = std::chrono::system_clock::now() - parse_rfc3339(ts);
  return human_duration(std::chrono::duration_cast<std::chrono::seconds>(d));
}

json int_at(const json& obj, const std::string& path) {
  const auto v = json_path_value(obj, path);
  return v.is_number() ? v : json(0);
}

std::vector<Column> builtin_columns(const ResourceType& type) {
  std::vector<Column> cols;
  if (type.resource == "deployments") {
    cols.push_back({"Ready", "string", "", 0, [](const json& o) {
                      return json(int_at(o, ".status.readyReplicas").dump() + "/" +
                                  int_at(o, ".spec.replicas").dump());
                    }});
    // Typed "string" by the real printer although the cells are numbers.
    cols.push_back({"Up-to-date", "string", "", 0,
                    [](const json& o) { return int_at(o, ".status.updatedReplicas"); }});
    cols.push_back({"Available", "string", "", 0,
                    [](const json& o) { return int_at(o, ".status.availableReplicas"); }});
    cols.push_back({"Containers", "string", "", 1, [](const json& o) {
                      std::string s;
                      for (const auto& c : json_path_value(o, ".spec.template.spec.containers")) {
                        s += (s.empty() ? "" : ",") + c.value("name", "");
                      }
                      return json(s);
                    }});
    cols.push_back({"Images", "string", "", 1, [](const json& o) {
                      std::string s;
                      for (const auto& c : json_path_value(o, ".spec.template.spec.containers")) {
                        s += (s.empty() ? "" : ",") + c.value("image", "");
                      }
                      return json(s);
                    }});
    cols.push_back({"Selector", "string", "", 1, [](const json& o) {
                      return json(label_selector_string(json_path_value(o, ".spec.selector")));
                    }});
  } else if (type.resource == "namespaces") {
    cols.push_back({"Status", "string", "", 0,
                    [](const json& o) { return json_path_value(o, ".status.phase"); }});
  } else if (type.resource == "pods") {
    cols.push_back({"Status", "string", "", 0,
                    [](const json& o) { return json_path_value(o, ".status.phase"); }});
  } else if (type.resource == "configmaps" || type.resource == "secrets") {
    if (type.resource == "secrets") {
      cols.push_back({"Type", "string", "", 0, [](const json& o) {
                        const json t = o.value("type", json(""));
                        return t.is_string() ? t : json("");
                      }});
    }
    // Typed "string" by the real printer although the cell is a number.
    cols.push_back({"Data", "string", "", 0, [](const json& o) {
                      const auto d = o.value("data", json::object());
                      return json(d.is_object() ? d.size() : 0);
                    }});
  }
  cols.push_back({"Age", "string", "", 0, [](const json& o) { return json(age_of(o)); }});
  return cols;
}

std::vector<Column> custom_columns(const ResourceType& type) {
  std::vector<Column> cols;
  bool has_age = false;
  for (const auto& pc : type.columns) {
    const auto path = pc.json_path;
    const bool date = pc.type == "date";
    has_age = has_age || date;
    cols.push_back(
        {pc.name, pc.type, pc.format, pc.priority, [path, date](const json& o) {
           json v = json_path_value(o, path);
           if (date && v.is_string()) {
             const auto d = std::chrono::system_clock::now() - parse_rfc3339(v.get<std::string>());
             return json(human_duration(std::chrono::duration_cast<std::chrono::seconds>(d)));
           }
           return v;
         }});
  }
  if (type.columns.empty()) {
    cols.push_back({"Age", "date", "", 0, [](const json& o) { return json(age_of(o)); }});
  }
  return cols;
}

json partial_metadata(const json& obj) {
  json meta = obj["metadata"];
  return {{"kind", "PartialObjectMetadata"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", meta}};
}

}  // namespace

json json_path_value(const json& object, const std::string& path) {
  std::string p = path;
  if (!p.empty() && p.front() == '{' && p.back() == '}') p = p.substr(1, p.size() - 2);
  const json* cur = &object;
  std::size_t i = 0;
  while (i < p.size()) {
    if (p[i] == '.') {
      ++i;
      continue;
    }
    if (p.compare(i, 2, "[?") == 0) {
      // A filter such as [?(@.type=="Ready")]: the first element whose field equals the literal.
      const auto close = p.find(")]", i);
      if (close == std::string::npos || !cur->is_array()) return nullptr;
      const auto expr = p.substr(i + 3, close - i - 3);  // @.type=="Ready"
      const auto eq = expr.find("==");
      if (expr.rfind('@', 0) != 0 || eq == std::string::npos) return nullptr;
      const auto field = expr.substr(1, eq - 1);
      auto literal = expr.substr(eq + 2);
      if (literal.size() >= 2 && (literal.front() == '"' || literal.front() == '\'')) {
        literal = literal.substr(1, literal.size() - 2);
      }
      const json* match = nullptr;
      for (const auto& element : *cur) {
        const auto v = json_path_value(element, field);
        if ((v.is_string() && v.get<std::string>() == literal) ||
            (!v.is_string() && !v.is_null() && v.dump() == literal)) {
          match = &element;
          break;
        }
      }
      if (match == nullptr) return nullptr;
      cur = match;
      i = close + 2;
      continue;
    }
    if (p[i] == '[') {
      const auto close = p.find(']', i);
      if (close == std::string::npos) return nullptr;
      std::size_t idx = 0;
      try {
        idx = std::stoul(p.substr(i + 1, close - i - 1));
      } catch (const std::exception&) {
        return nullptr;
      }
      if (!cur->is_array() || idx >= cur->size()) return nullptr;
      cur = &(*cur)[idx];
      i = close + 1;
      continue;
    }
    const auto end = p.find_first_of(".[", i);
    const auto field = p.substr(i, end == std::string::npos ? std::string::npos : end - i);
    if (!cur->is_object() || !cur->contains(field)) return nullptr;
    cur = &(*cur)[field];
    i = end == std::string::npos ? p.size() : end;
  }
  return *cur;
}

json make_table(const ResourceType& type, const std::vector<json>& objects,
                const std::string& resource_version, const std::string& include_object,
                bool with_columns) {
  auto cols = type.custom ? custom_columns(type) : builtin_columns(type);
  json defs = json::array();
  if (with_columns) {
    defs.push_back({{"name", "Name"},
                    {"type", "string"},
                    {"format", "name"},
                    {"description", "Name must be unique within a namespace."},
                    {"priority", 0}});
    for (const auto& c : cols) {
      defs.push_back({{"name", c.name},
                      {"type", c.type},
                      {"format", c.format},
                      {"description", ""},
                      {"priority", c.priority}});
    }
  }
  json rows = json::array();
  for (const auto& obj : objects) {
    json cells = json::array({obj["metadata"].value("name", "")});
    for (const auto& c : cols)
      cells.push_back(c.cell(obj));
    json row = {{"cells", cells}};
    if (include_object == "Object") {
      row["object"] = obj;
    } else if (include_object != "None") {
      row["object"] = partial_metadata(obj);
    }
    rows.push_back(row);
  }
  return {{"kind", "Table"},
          {"apiVersion", "meta.k8s.io/v1"},
          {"metadata", {{"resourceVersion", resource_version}}},
          {"columnDefinitions", defs},
          {"rows", rows}};
}

}  // namespace kubefn::emulator
