#include "replica_metrics.hpp"

#include <algorithm>
#include <map>
#include <sstream>

#include "local_get.hpp"

namespace kubefn::platform::local::detail {

namespace {

std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

// Whether the sample `name` is of `family`: its name, or one of the series a histogram, a
// summary or a counter named without its suffix has.
bool of_family(const std::string& name, const std::string& family) {
  if (family.empty()) return false;
  if (name == family) return true;
  if (name.size() <= family.size() || name.compare(0, family.size(), family) != 0) return false;
  const std::string suffix = name.substr(family.size());
  return suffix == "_bucket" || suffix == "_sum" || suffix == "_count" || suffix == "_total" ||
         suffix == "_created" || suffix == "_info";
}

}  // namespace

std::string merge_replica_metrics(const std::vector<ReplicaPage>& pages) {
  struct Family {
    std::vector<std::string> head;  // HELP and TYPE lines
    std::vector<std::string> samples;
  };
  std::vector<std::string> order;
  std::map<std::string, Family> families;
  for (const auto& page : pages) {
    const std::string labels = "namespace=\"" + escape_label(page.ns) + "\",function=\"" +
                               escape_label(page.function) + "\",replica=\"" +
                               escape_label(page.replica) + "\"";
    std::istringstream in(page.text);
    std::string line;
    std::string family;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      if (line[0] == '#') {
        std::istringstream words(line);
        std::string hash, kind, name;
        words >> hash >> kind >> name;
        if (kind != "HELP" && kind != "TYPE") continue;
        family = name;
        auto [it, added] = families.try_emplace(name);
        if (added) order.push_back(name);
        if (it->second.head.size() < 2 &&
            (it->second.head.empty() || it->second.head.back() != line)) {
          bool seen = false;
          for (const auto& h : it->second.head)
            seen = seen || h == line;
          if (!seen) it->second.head.push_back(line);
        }
        continue;
      }
      const auto brace = line.find('{');
      const auto space = line.find(' ');
      std::string sample;
      if (brace != std::string::npos && brace < space) {
        const bool empty = line[brace + 1] == '}';
        sample = line.substr(0, brace + 1) + labels + (empty ? "" : ",") + line.substr(brace + 1);
      } else if (space != std::string::npos) {
        sample = line.substr(0, space) + "{" + labels + "}" + line.substr(space);
      } else {
        continue;
      }
      // A sample of the family of the last HELP or TYPE line, else a family of its own (one
      // without HELP or TYPE lines), so that each family's samples stay together.
      const std::string name = line.substr(0, std::min(brace, space));
      if (!of_family(name, family)) {
        family = name;
        if (families.try_emplace(family).second) order.push_back(family);
      }
      families[family].samples.push_back(std::move(sample));
    }
  }
  std::string out;
  for (const auto& name : order) {
    const Family& f = families[name];
    for (const auto& h : f.head)
      out += h + "\n";
    for (const auto& s : f.samples)
      out += s + "\n";
  }
  return out;
}

std::string replica_metrics(gateway::RouteTable& routes) {
  std::vector<ReplicaPage> pages;
  for (const auto& route : routes.all()) {
    for (const auto& ep : route->endpoints) {
      if (!ep.ready) continue;
      pages.push_back({route->ns, route->name, ep.id, local_get(ep.port, "/metrics")});
    }
  }
  return merge_replica_metrics(pages);
}

}  // namespace kubefn::platform::local::detail
