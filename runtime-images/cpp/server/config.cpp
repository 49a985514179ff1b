#include "config.hpp"

#include <sched.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>

namespace kubefn::runtime {
namespace {

template <typename T>
std::optional<T> parse_uint(const std::string& s) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<double> parse_decimal(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v) || v < 0) return std::nullopt;
  return v;
}

}  // namespace

std::optional<std::uint64_t> parse_quantity(const std::string& text) {
  static const std::pair<const char*, double> kSuffixes[] = {
      {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
      {"k", 1e3},     {"M", 1e6},        {"G", 1e9},           {"T", 1e12}};
  std::string number = text;
  double scale = 1;
  for (const auto& [suffix, factor] : kSuffixes) {
    std::string_view sv(suffix);
    if (text.size() > sv.size() && text.compare(text.size() - sv.size(), sv.size(), sv) == 0) {
      number = text.substr(0, text.size() - sv.size());
      scale = factor;
      break;
    }
  }
  auto v = parse_decimal(number);
  if (!v) return std::nullopt;
  return static_cast<std::uint64_t>(std::llround(*v * scale));
}

std::optional<std::chrono::milliseconds> parse_seconds(const std::string& text) {
  auto v = parse_decimal(text);
  if (!v || *v <= 0) return std::nullopt;
  return std::chrono::milliseconds(static_cast<long long>(std::llround(*v * 1000.0)));
}

unsigned available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  unsigned cpus = 1;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) cpus = static_cast<unsigned>(CPU_COUNT(&set));
  // A cgroup v2 CPU quota ("max 100000" or "150000 100000") caps what we may use.
  std::ifstream quota("/sys/fs/cgroup/cpu.max");
  std::string limit;
  std::string period;
  if (quota >> limit >> period && limit != "max") {
    auto l = parse_decimal(limit);
    auto p = parse_decimal(period);
    if (l && p && *p > 0) {
      auto q = static_cast<unsigned>(std::ceil(*l / *p));
      if (q >= 1 && q < cpus) cpus = q;
    }
  }
  return cpus < 1 ? 1 : cpus;
}

std::variant<RuntimeConfig, ConfigError> load_config(const EnvLookup& env) {
  RuntimeConfig c;
  auto handler = env("FUNC_HANDLER");
  if (!handler || handler->empty()) {
    return ConfigError{
        "FUNC_HANDLER is not set: give the handler as <module>.<function> "
        "(e.g. hello.greet), or set MOD_NAME and FUNC_HANDLER=<function>"};
  }
  auto module = env("MOD_NAME");
  if (module && !module->empty()) {
    c.module = *module;
    c.handler = *handler;
  } else {
    auto dot = handler->find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == handler->size() ||
        handler->find('.', dot + 1) != std::string::npos) {
      return ConfigError{
          "FUNC_HANDLER \"" + *handler +
          "\" must be <module>.<function> (e.g. hello.greet) when MOD_NAME is unset"};
    }
    c.module = handler->substr(0, dot);
    c.handler = handler->substr(dot + 1);
  }
  for (char ch : c.handler) {
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_')) {
      return ConfigError{"handler name \"" + c.handler +
                         "\" is not a C++ identifier: use the name given to KUBEFN_HANDLER(...)"};
    }
  }
  c.function_name = env("KUBEFN_FUNCTION_NAME").value_or(c.handler);
  if (auto lib = env("KUBEFN_FUNCTION_LIB"); lib && !lib->empty()) {
    c.library_path = *lib;
  } else {
    c.library_path = env("KUBEFN_FUNCTION_DIR").value_or("/kubefn") + "/" + c.module + ".so";
  }
  if (auto r = env("FUNC_RUNTIME"); r && !r->empty()) c.runtime = *r;
  if (auto t = env("FUNC_TIMEOUT"); t && !t->empty()) {
    auto v = parse_seconds(*t);
    if (!v) return ConfigError{"FUNC_TIMEOUT \"" + *t + "\" must be a positive number of seconds"};
    c.timeout = *v;
  }
  if (auto m = env("FUNC_MEMORY_LIMIT"); m && !m->empty()) {
    auto v = parse_quantity(*m);
    if (!v) {
      return ConfigError{"FUNC_MEMORY_LIMIT \"" + *m + "\" is not a quantity (e.g. 128Mi, 1Gi)"};
    }
    c.memory_limit_bytes = *v;
  }
  if (auto p = env("FUNC_PORT"); p && !p->empty()) {
    auto v = parse_uint<std::uint16_t>(*p);
    if (!v) return ConfigError{"FUNC_PORT \"" + *p + "\" must be a port number (0-65535)"};
    c.port = *v;
  }
  if (auto b = env("KUBEFN_BIND_ADDRESS"); b && !b->empty()) c.bind_address = *b;

  struct MsSetting {
    const char* name;
    std::chrono::milliseconds* field;
  };
  for (auto [name, field] : {MsSetting{"KUBEFN_READ_TIMEOUT_MS", &c.read_timeout},
                             MsSetting{"KUBEFN_IDLE_TIMEOUT_MS", &c.idle_timeout},
                             MsSetting{"KUBEFN_DRAIN_TIMEOUT_MS", &c.drain_timeout},
                             MsSetting{"KUBEFN_STUCK_GRACE_MS", &c.stuck_grace}}) {
    if (auto v = env(name); v && !v->empty()) {
      auto n = parse_uint<std::uint32_t>(*v);
      if (!n || *n == 0)
        return ConfigError{std::string(name) + " \"" + *v + "\" must be a positive integer"};
      *field = std::chrono::milliseconds(*n);
    }
  }
  if (auto v = env("KUBEFN_MAX_BODY_BYTES"); v && !v->empty()) {
    auto n = parse_quantity(*v);
    if (!n) return ConfigError{"KUBEFN_MAX_BODY_BYTES \"" + *v + "\" is not a size (e.g. 8Mi)"};
    c.limits.max_body_bytes = *n;
  }
  c.min_threads = available_cpus();
  if (auto v = env("KUBEFN_THREADS"); v && !v->empty()) {
    auto n = parse_uint<unsigned>(*v);
    if (!n || *n == 0)
      return ConfigError{"KUBEFN_THREADS \"" + *v + "\" must be a positive integer"};
    c.min_threads = *n;
  }
  if (auto v = env("KUBEFN_MAX_THREADS"); v && !v->empty()) {
    auto n = parse_uint<unsigned>(*v);
    if (!n || *n == 0)
      return ConfigError{"KUBEFN_MAX_THREADS \"" + *v + "\" must be a positive integer"};
    c.max_threads = *n;
  }
  if (c.max_threads < c.min_threads) c.max_threads = c.min_threads;
  if (auto v = env("KUBEFN_ACCESS_LOG"); v && (*v == "off" || *v == "0" || *v == "false")) {
    c.access_log = false;
  }
  if (auto v = env("KUBEFN_EXECUTION_HEADER"); v && (*v == "off" || *v == "0" || *v == "false")) {
    c.execution_header = false;
  }
  if (auto v = env("KUBEFN_STATS_ADDRESS"); v && !v->empty()) {
    const auto colon = v->rfind(':');
    const auto port =
        colon == std::string::npos ? std::nullopt : parse_uint<std::uint16_t>(v->substr(colon + 1));
    if (colon == 0 || !port || *port == 0)
      return ConfigError{"KUBEFN_STATS_ADDRESS \"" + *v + "\" must be host:port"};
    c.stats_address = *v;
    c.stats_namespace = env("POD_NAMESPACE").value_or("");
    if (c.stats_namespace.empty()) c.stats_namespace = "default";
    c.stats_replica = env("POD_NAME").value_or("");
    if (c.stats_replica.empty()) c.stats_replica = env("HOSTNAME").value_or("");
    c.stats_plugin = env("KUBEFN_STATS_PLUGIN").value_or("");
  }
  return c;
}

}  // namespace kubefn::runtime
