// hello: greets the caller, by name when the query says ?name=...
#include <kubefn/function.hpp>
#include <string>

std::string greet(const kubefn::Event& event, kubefn::Context&) {
  std::string_view name = event.query_param("name");
  return "hello " + std::string(name.empty() ? "world" : name) + "\n";
}
KUBEFN_HANDLER(greet);
