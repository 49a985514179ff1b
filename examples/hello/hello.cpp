// hello: greets the caller, by name when the query says ?name=...
#include <kubefn/function.hpp>
#include <string>

namespace {

std::string query_value(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (pair.size() > key.size() && pair.substr(0, key.size()) == key && pair[key.size()] == '=') {
      return std::string(pair.substr(key.size() + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

}  // namespace

std::string greet(const kubefn::Event& event, kubefn::Context&) {
  std::string name = query_value(event.query, "name");
  return "hello " + (name.empty() ? std::string("world") : name) + "\n";
}
KUBEFN_HANDLER(greet);
