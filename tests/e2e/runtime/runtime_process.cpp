#include "runtime_process.hpp"

#include <regex>

#include "kubefn/testing/http_client.hpp"
#include "kubefn/testing/metrics_text.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::testing {

RuntimeProcess::RuntimeProcess(const std::string& library, const std::string& handler,
                               std::map<std::string, std::string> env) {
  env.emplace("FUNC_HANDLER", handler);
  env.emplace("MOD_NAME", "fn");
  env.emplace("KUBEFN_FUNCTION_LIB", library);
  env.emplace("FUNC_PORT", "0");
  env.emplace("KUBEFN_BIND_ADDRESS", "127.0.0.1");
  child_ = std::make_unique<ChildProcess>(std::vector<std::string>{KUBEFN_RUNTIME_BIN}, env,
                                          dir_.file("stdout"), dir_.file("stderr"));
  static const std::regex kListening("\"msg\":\"listening\",\"port\":([0-9]+)");
  wait_until(
      [&] {
        std::smatch m;
        std::string err = stderr_text();
        if (std::regex_search(err, m, kListening)) {
          port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
          return true;
        }
        return !child_->running();
      },
      std::chrono::seconds(10));
}

std::string RuntimeProcess::metrics() const {
  auto r = http_request(port_, "GET", "/metrics");
  return r ? r->body : std::string();
}

double RuntimeProcess::metric(const std::string& series) const {
  return metric_value(metrics(), series).value_or(-1);
}

}  // namespace kubefn::testing
