// Cost accounting with a real Prometheus (Debian's prometheus and promtool): the chart's
// recording rules (charts/kubefn/files/recording-rules.yaml) pass promtool's check and unit
// tests; the dashboard (charts/kubefn/files/dashboard.json) is well formed and names only
// metrics and rules that exist; and a Prometheus scraping the real `kubefn up` (serving
// examples/hello, priced with the sheet the chart renders) evaluates every rule without error
// and answers every query of the dashboard, the core ones with data.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "kubefn/emulator/yaml_to_json.hpp"
#include "kubefn/testing/command.hpp"
#include "kubefn/testing/free_port.hpp"
#include "kubefn/testing/http_client.hpp"
#include "kubefn/testing/process.hpp"
#include "kubefn/testing/temp_dir.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kSource = KUBEFN_SOURCE_DIR;
const std::string kRules = kSource + "/charts/kubefn/files/recording-rules.yaml";
const std::string kDashboard = kSource + "/charts/kubefn/files/dashboard.json";
const std::string kRulesTest = kSource + "/tests/e2e/prometheus/recording-rules.test.yaml";

// The metric families of the metering contract: the rules and the dashboard read only these.
const std::set<std::string> kMeteringMetrics = {
    "kubefn_function_invocations_total",
    "kubefn_function_billed_seconds_total",
    "kubefn_function_gb_seconds_total",
    "kubefn_function_cold_starts_total",
    "kubefn_function_replica_wait_seconds_bucket",
    "kubefn_function_replica_wait_seconds_sum",
    "kubefn_function_replica_wait_seconds_count",
    "kubefn_function_latency_seconds_bucket",
    "kubefn_function_latency_seconds_sum",
    "kubefn_function_latency_seconds_count",
    "kubefn_function_replica_seconds_total",
    "kubefn_function_cpu_core_seconds_total",
    "kubefn_function_memory_gb_seconds_total",
    "kubefn_function_cost_total",
    "kubefn_function_replicas",
    "kubefn_price_cpu_core_hour",
    "kubefn_price_memory_gb_hour",
    "kubefn_price_requests_per_million",
    "kubefn_price_lambda_requests_per_million",
    "kubefn_price_lambda_gb_second",
    "kubefn_price_granularity_seconds",
    "kubefn_price_default_memory_bytes",
};

// The price sheet the test renders with the chart: not the defaults, so the gauges show that
// the chart's sheet is the one `kubefn up` read. Costs come out large enough to see.
const char kPriceValues[] = R"(prices:
  currency: USD
  granularity: 10ms
  cpuCoreHour: 0.5
  memoryGBHour: 0.25
  requestsPerMillion: 2
  lambda: {requestsPerMillion: 0.4, gbSecond: 0.00002}
  defaultMemory: 256Mi
)";

// `name` as found on PATH (or `env_name` when set); empty when absent.
std::string find_program(const char* env_name, const std::string& name) {
  if (const char* env = std::getenv(env_name); env != nullptr && *env != '\0') {
    return ::access(env, X_OK) == 0 ? env : "";
  }
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

std::string prometheus_path() {
  return find_program("KUBEFN_PROMETHEUS", "prometheus");
}
std::string promtool_path() {
  return find_program("KUBEFN_PROMTOOL", "promtool");
}
std::string helm_path() {
  const char* env = std::getenv("KUBEFN_HELM");
  return env != nullptr && *env != '\0' ? env : KUBEFN_DEFAULT_HELM;
}

#define REQUIRE_PROMETHEUS()                                                             \
  do {                                                                                   \
    ASSERT_FALSE(prometheus_path().empty() || promtool_path().empty())                   \
        << "prometheus and promtool (Debian's prometheus package) are not on PATH: "     \
           "scripts/setup installs them (or set KUBEFN_PROMETHEUS and KUBEFN_PROMTOOL)"; \
  } while (0)

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

json yaml_file(const std::string& path) {
  emulator::YamlError error;
  auto docs = emulator::yaml_documents_to_json(read_file(path), &error);
  if (!docs || docs->empty()) {
    ADD_FAILURE() << path << " line " << error.line + 1 << ": " << error.message;
    return nullptr;
  }
  return (*docs)[0].value;
}

// Every recording rule's name and expression, in file order.
std::vector<std::pair<std::string, std::string>> recording_rules() {
  std::vector<std::pair<std::string, std::string>> out;
  const json rules = yaml_file(kRules);
  if (!rules.is_object()) return out;
  for (const auto& g : rules["groups"]) {
    for (const auto& r : g["rules"])
      out.emplace_back(r.value("record", ""), r.value("expr", ""));
  }
  return out;
}

// One query of the dashboard: the panel it belongs to, and how Grafana runs it.
struct DashboardQuery {
  std::string panel;
  std::string ref;
  std::string expr;
  bool instant = false;
};

// Panels, rows' nested panels included.
std::vector<json> dashboard_panels(const json& board) {
  std::vector<json> out;
  for (const auto& p : board["panels"]) {
    out.push_back(p);
    if (p.contains("panels")) {
      for (const auto& nested : p["panels"])
        out.push_back(nested);
    }
  }
  return out;
}

std::vector<DashboardQuery> dashboard_queries(const json& board) {
  std::vector<DashboardQuery> out;
  for (const auto& p : dashboard_panels(board)) {
    if (!p.contains("targets")) continue;
    for (const auto& t : p["targets"]) {
      out.push_back({p.value("title", ""), t.value("refId", ""), t.value("expr", ""),
                     t.value("instant", false) && !t.value("range", false)});
    }
  }
  return out;
}

// `text` with Grafana's variables ($name, ${name}, ${name:format}) replaced by `values`; an
// unknown variable is added to `unknown`.
std::string substitute(const std::string& text, const std::map<std::string, std::string>& values,
                       std::set<std::string>* unknown) {
  static const std::regex var(
      R"(\$\{([A-Za-z_][A-Za-z0-9_]*)(?::[A-Za-z]+)?\}|\$([A-Za-z_][A-Za-z0-9_]*))");
  std::string out;
  auto last = text.begin();
  for (std::sregex_iterator it(text.begin(), text.end(), var), end; it != end; ++it) {
    const std::smatch& m = *it;
    out.append(last, m[0].first);
    const std::string name = m[1].matched ? m[1].str() : m[2].str();
    auto found = values.find(name);
    if (found == values.end()) {
      unknown->insert(name);
      out += m[0].str();
    } else {
      out += found->second;
    }
    last = m[0].second;
  }
  out.append(last, text.end());
  return out;
}

// The metric and rule names an expression reads (identifiers followed by { or [ or standing
// alone, that are not functions, keywords or label names).
std::set<std::string> names_in(const std::string& expr) {
  static const std::set<std::string> kWords = {
      "sum",       "max",        "min",         "avg",
      "count",     "rate",       "increase",    "by",
      "on",        "without",    "and",         "or",
      "unless",    "group_left", "group_right", "histogram_quantile",
      "sort_desc", "sort",       "scalar",      "bool",
      "ignoring",  "offset",     "topk",        "bottomk",
      "irate",     "delta",      "vector",      "label_values",
      "clamp_min", "clamp_max",  "abs",         "absent",
      "time",      "e",          "inf",         "nan"};
  std::set<std::string> out;
  // Strip strings (label values) and the label lists of by/on/without (...), then matchers.
  std::string s = std::regex_replace(expr, std::regex(R"("[^"]*")"), "\"\"");
  s = std::regex_replace(
      s, std::regex(R"(\b(by|on|without|ignoring|group_left|group_right)\s*\([^)]*\))"), "$1()");
  s = std::regex_replace(s, std::regex(R"(\{[^}]*\})"), "{}");
  s = std::regex_replace(s, std::regex(R"(\[[^\]]*\])"), "[]");
  static const std::regex ident(R"([A-Za-z_:][A-Za-z0-9_:]*)");
  for (std::sregex_iterator it(s.begin(), s.end(), ident), end; it != end; ++it) {
    const std::string w = it->str();
    // A number's exponent (1e6) is not a name.
    const auto pos = static_cast<std::size_t>(it->position());
    if (pos > 0 && std::isdigit(static_cast<unsigned char>(s[pos - 1])) != 0) continue;
    if (kWords.count(w) == 0) out.insert(w);
  }
  return out;
}

TEST(PrometheusRules, PromtoolChecksTheRules) {
  REQUIRE_PROMETHEUS();
  auto r = run_command({promtool_path(), "check", "rules", kRules}, {}, seconds(60));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("SUCCESS"), std::string::npos) << r.out << r.err;
}

TEST(PrometheusRules, PromtoolTestsTheRules) {
  // Two gateway replicas (one restarting), an operator leader, prices: the sums, ratios,
  // quantiles and the hosted-service cost the rules must make of them.
  REQUIRE_PROMETHEUS();
  auto r = run_command({promtool_path(), "test", "rules", kRulesTest}, {}, seconds(60));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("SUCCESS"), std::string::npos) << r.out << r.err;
}

TEST(PrometheusRules, RulesReadOnlyTheMeteringMetricsAndSumByFunction) {
  const auto rules = recording_rules();
  ASSERT_GE(rules.size(), 10u);
  std::set<std::string> records;
  for (const auto& [record, expr] : rules) {
    EXPECT_EQ(record.rfind("kubefn:function_", 0), 0u) << record;
    EXPECT_TRUE(records.insert(record).second) << record << " is recorded twice";
    for (const auto& name : names_in(expr)) {
      EXPECT_TRUE(kMeteringMetrics.count(name) == 1)
          << record << " reads " << name << ", not a metric of the metering contract";
    }
    // Each scraped series is rated first and summed after, by function, so replicas add up
    // and counter resets are rate()'s business.
    EXPECT_NE(expr.find("sum by (namespace, function"), std::string::npos)
        << record << ": " << expr;
  }
  for (const char* must :
       {"kubefn:function_invocations:rate5m", "kubefn:function_cost:rate1h",
        "kubefn:function_gb_seconds:rate5m", "kubefn:function_utilisation:ratio_rate5m",
        "kubefn:function_idle_share:ratio_rate1h", "kubefn:function_latency_seconds:p50_rate5m",
        "kubefn:function_latency_seconds:p99_rate5m", "kubefn:function_cold_start_ratio:rate5m",
        "kubefn:function_lambda_cost_per_hour:rate1h"}) {
    EXPECT_EQ(records.count(must), 1u) << must;
  }
}

TEST(GrafanaDashboard, IsWellFormed) {
  const json board = json::parse(read_file(kDashboard), nullptr, false);
  ASSERT_TRUE(board.is_object()) << kDashboard << " is not JSON";
  EXPECT_GE(board.value("schemaVersion", 0), 39);
  EXPECT_FALSE(board.value("uid", "").empty());
  EXPECT_TRUE(board["id"].is_null()) << "a provisioned dashboard carries no database id";

  // The variables: a Prometheus data source, and namespace and function from label_values.
  std::map<std::string, json> vars;
  for (const auto& v : board["templating"]["list"])
    vars[v.value("name", "")] = v;
  ASSERT_EQ(vars.count("datasource"), 1u);
  EXPECT_EQ(vars["datasource"]["type"], "datasource");
  EXPECT_EQ(vars["datasource"]["query"], "prometheus");
  for (const char* name : {"namespace", "function"}) {
    ASSERT_EQ(vars.count(name), 1u) << name;
    EXPECT_EQ(vars[name]["type"], "query");
    EXPECT_EQ(vars[name]["datasource"]["uid"], "${datasource}");
    EXPECT_EQ(vars[name]["query"]["query"].get<std::string>().rfind("label_values(", 0), 0u);
  }

  std::set<int> ids;
  std::set<std::string> titles;
  std::set<std::string> records;
  for (const auto& [record, _] : recording_rules())
    records.insert(record);
  for (const auto& p : dashboard_panels(board)) {
    EXPECT_TRUE(ids.insert(p.value("id", -1)).second) << "panel id " << p.value("id", -1);
    const auto& pos = p["gridPos"];
    EXPECT_LE(pos.value("x", 0) + pos.value("w", 0), 24) << p.value("title", "");
    if (p.value("type", "") == "row") continue;
    titles.insert(p.value("title", ""));
    EXPECT_EQ(p["datasource"]["type"], "prometheus") << p.value("title", "");
    EXPECT_EQ(p["datasource"]["uid"], "${datasource}") << p.value("title", "");
    ASSERT_TRUE(p.contains("targets")) << p.value("title", "");
    for (const auto& t : p["targets"]) {
      EXPECT_EQ(t["datasource"]["uid"], "${datasource}") << p.value("title", "");
      const std::string expr = t.value("expr", "");
      EXPECT_FALSE(expr.empty()) << p.value("title", "");
      for (const auto& name : names_in(expr)) {
        EXPECT_TRUE(kMeteringMetrics.count(name) == 1 || records.count(name) == 1)
            << p.value("title", "") << " reads " << name
            << ": neither a metering metric nor a recording rule";
      }
    }
  }
  for (const char* panel :
       {"Invocations per second by outcome", "Latency p50 / p99", "Replicas (starting / ready)",
        "Replica-seconds per second: busy / idle / starting", "Utilisation",
        "Cost per hour by component", "Cost so far in the range",
        "On the hosted service vs own, per hour", "Idle share", "Cold starts per second"}) {
    EXPECT_EQ(titles.count(panel), 1u) << "no panel " << panel;
  }
}

// `kubefn up` serving examples/hello and a Prometheus scraping it every second with the
// chart's rules loaded (evaluated every second).
class PrometheusE2E : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto* p : {prometheus_.get(), up_.get()}) {
      if (p != nullptr && p->running()) p->signal(SIGTERM);
    }
    for (auto* p : {prometheus_.get(), up_.get()}) {
      if (p != nullptr) {
        EXPECT_TRUE(p->wait_exit(seconds(60)).has_value());
      }
    }
  }

  // The chart's prices ConfigMap rendered with kPriceValues, its prices.yaml as a file.
  std::string chart_prices() {
    const auto values = dir_.write("price-values.yaml", kPriceValues);
    auto r = run_command({helm_path(), "template", "kubefn", kSource + "/charts/kubefn",
                          "--show-only", "templates/prices-configmap.yaml", "-f", values.string()},
                         {{"HELM_CACHE_HOME", dir_.file("helm/cache")},
                          {"HELM_CONFIG_HOME", dir_.file("helm/config")},
                          {"HELM_DATA_HOME", dir_.file("helm/data")}},
                         seconds(60));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    emulator::YamlError error;
    auto docs = emulator::yaml_documents_to_json(r.out, &error);
    if (!docs || docs->empty()) {
      ADD_FAILURE() << error.message << "\n" << r.out;
      return "";
    }
    const std::string sheet = (*docs)[0].value["data"].value("prices.yaml", "");
    EXPECT_FALSE(sheet.empty()) << r.out;
    return dir_.write("prices.yaml", sheet).string();
  }

  void start_up(const std::string& prices) {
    const std::string fns = dir_.file("functions");
    std::filesystem::create_directories(fns);
    std::filesystem::copy(kSource + "/examples/hello", fns + "/hello",
                          std::filesystem::copy_options::recursive);
    up_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{KUBEFN_CLI_BIN, "up", fns, "--gateway-port", "0", "--metrics-port",
                                 "0", "--runtime", KUBEFN_RUNTIME_BIN, "--prices", prices},
        std::map<std::string, std::string>{{"KUBEFN_HOME", dir_.file("home")}}, dir_.file("up.out"),
        dir_.file("up.err"));
    ASSERT_TRUE(wait_until(
        [&] {
          const std::string out = read_file(dir_.file("up.out"));
          std::smatch m;
          static const std::regex gw("kubefn: gateway http://127\\.0\\.0\\.1:([0-9]+)");
          static const std::regex mx("kubefn: metrics http://127\\.0\\.0\\.1:([0-9]+)");
          if (std::regex_search(out, m, gw)) gateway_ = static_cast<std::uint16_t>(std::stoi(m[1]));
          if (std::regex_search(out, m, mx)) metrics_ = static_cast<std::uint16_t>(std::stoi(m[1]));
          return (gateway_ != 0 && metrics_ != 0) || !up_->running();
        },
        seconds(180), milliseconds(50)))
        << up_log();
    ASSERT_NE(gateway_, 0) << up_log();
    ASSERT_NE(metrics_, 0) << up_log();
  }

  std::string up_log() const {
    return read_file(dir_.file("up.out")) + read_file(dir_.file("up.err"));
  }
  std::string prometheus_log() const { return read_file(dir_.file("prometheus.err")); }

  // A call of hello through the gateway: its status (0: no answer).
  int call(int n) {
    auto r = http_request(gateway_, "GET", "/default/hello?name=n" + std::to_string(n), "", {},
                          seconds(60));
    return r ? r->status : 0;
  }

  // Starts Prometheus on a free port of 127.0.0.1 (another one when the port was taken
  // before it bound it); returns once it is ready.
  void start_prometheus() {
    const std::string config = dir_.write("prometheus.yml", R"(global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - )" + kRules + R"(
scrape_configs:
  - job_name: kubefn
    honor_labels: true
    static_configs:
      - targets: ["127.0.0.1:)" + std::to_string(metrics_) + R"("]
)")
                                   .string();
    auto check = run_command({promtool_path(), "check", "config", config}, {}, seconds(60));
    ASSERT_EQ(check.exit_code, 0) << check.out << check.err;
    for (int attempt = 0; attempt < 5; ++attempt) {
      prom_port_ = free_port();
      ASSERT_NE(prom_port_, 0);
      std::filesystem::remove_all(dir_.file("tsdb"));
      prometheus_ = std::make_unique<ChildProcess>(
          std::vector<std::string>{prometheus_path(), "--config.file=" + config,
                                   "--storage.tsdb.path=" + dir_.file("tsdb"),
                                   "--web.listen-address=127.0.0.1:" + std::to_string(prom_port_),
                                   "--log.level=info"},
          std::map<std::string, std::string>{}, dir_.file("prometheus.out"),
          dir_.file("prometheus.err"));
      const bool ready = wait_until(
          [&] { return http_status(prom_port_, "/-/ready") == 200 || !prometheus_->running(); },
          seconds(60), milliseconds(100));
      if (ready && prometheus_->running()) return;
      if (prometheus_log().find("address already in use") == std::string::npos) break;
      prometheus_->wait_exit(seconds(10));
    }
    FAIL() << "prometheus did not become ready:\n" << prometheus_log();
  }

  // GET `target` of Prometheus's API, as JSON (null when no JSON came). HTTP/1.0, so that a
  // long answer comes whole up to the close rather than chunked.
  json api(const std::string& target) {
    HttpConnection c(prom_port_);
    if (!c.send("GET " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")) return nullptr;
    auto r = c.read_reply(seconds(30));
    if (!r) return nullptr;
    return json::parse(r->body, nullptr, false);
  }
  json instant(const std::string& query) { return api("/api/v1/query?query=" + url_encode(query)); }
  // The result vector of an instant query (empty on error too).
  json vector_of(const std::string& query) {
    json r = instant(query);
    if (r.is_object() && r.value("status", "") == "success") return r["data"]["result"];
    return json::array();
  }

  TempDir dir_;
  std::unique_ptr<ChildProcess> up_;
  std::unique_ptr<ChildProcess> prometheus_;
  std::uint16_t gateway_ = 0;
  std::uint16_t metrics_ = 0;
  std::uint16_t prom_port_ = 0;
};

TEST_F(PrometheusE2E, RulesEvaluateAndEveryDashboardQueryRunsAgainstKubefnUp) {
  REQUIRE_PROMETHEUS();
  ASSERT_EQ(::access(helm_path().c_str(), X_OK), 0)
      << "helm not found at " << helm_path()
      << " (scripts/test builds it into .tools, or set KUBEFN_HELM): the test prices with the "
         "sheet the chart renders";
  const std::string prices = chart_prices();
  ASSERT_FALSE(prices.empty());
  ASSERT_NO_FATAL_FAILURE(start_up(prices));
  // The first call starts hello (built, then scaled from zero: a cold start).
  ASSERT_TRUE(wait_until([&] { return call(0) == 200; }, seconds(180), milliseconds(200)))
      << up_log();

  ASSERT_NO_FATAL_FAILURE(start_prometheus());
  const auto scraping_since = std::chrono::steady_clock::now();
  // Scraped: the target is up.
  ASSERT_TRUE(wait_until(
      [&] {
        json v = vector_of("up{job=\"kubefn\"} == 1");
        return !v.empty();
      },
      seconds(60), milliseconds(200)))
      << api("/api/v1/targets").dump(2) << prometheus_log();

  // Calls while Prometheus watches, so the rates have something to show.
  int ok = 0;
  for (int i = 1; i <= 40; ++i) {
    if (call(i) == 200) ++ok;
    std::this_thread::sleep_for(milliseconds(50));  // spread over two seconds of scrapes
  }
  EXPECT_EQ(ok, 40) << up_log();

  // Every rule evaluated (at least once since Prometheus started) with health "ok".
  json rules;
  std::string unhealthy;
  const bool evaluated = wait_until(
      [&] {
        rules = api("/api/v1/rules?type=record");
        if (!rules.is_object() || rules.value("status", "") != "success") return false;
        unhealthy.clear();
        std::size_t n = 0;
        for (const auto& g : rules["data"]["groups"]) {
          for (const auto& r : g["rules"]) {
            ++n;
            if (r.value("health", "") != "ok" || !r.value("lastError", "").empty()) {
              unhealthy += r.value("name", "") + ": health " + r.value("health", "") + " " +
                           r.value("lastError", "") + "\n";
            }
          }
        }
        return n == recording_rules().size() && unhealthy.empty();
      },
      seconds(60), milliseconds(250));
  ASSERT_TRUE(evaluated) << "rules not all evaluated and healthy:\n"
                         << unhealthy << rules.dump(2) << prometheus_log();

  // The core figures have data: calls were counted and rated, replica time was measured and
  // priced, and the hosted-service comparison has its prices.
  const std::string hello = "{namespace=\"default\", function=\"hello\"}";
  ASSERT_TRUE(wait_until(
      [&] {
        return !vector_of(
                    "kubefn:function_invocations:rate5m{namespace=\"default\", "
                    "function=\"hello\", outcome=\"success\"} > 0")
                    .empty() &&
               !vector_of("sum(kubefn:function_cost:rate5m" + hello + ") > 0").empty() &&
               !vector_of("kubefn:function_lambda_cost:rate5m" + hello + " > 0").empty() &&
               !vector_of("sum(kubefn:function_replica_seconds:rate5m" + hello + ") > 0").empty();
      },
      seconds(60), milliseconds(250)))
      << "invocations: " << instant("kubefn:function_invocations:rate5m").dump()
      << "\ncost: " << instant("kubefn:function_cost:rate5m").dump()
      << "\nlambda: " << instant("kubefn:function_lambda_cost:rate5m").dump()
      << "\nreplica time: " << instant("kubefn:function_replica_seconds:rate5m").dump()
      << "\nscraped: " << instant("{__name__=~\"kubefn_function_.*|kubefn_price_.*\"}").dump();
  // The prices are the chart's sheet, as `kubefn up` read it.
  const json cpu_price = vector_of("kubefn_price_cpu_core_hour");
  ASSERT_EQ(cpu_price.size(), 1u) << cpu_price.dump();
  EXPECT_EQ(cpu_price[0]["metric"].value("currency", ""), "USD");
  EXPECT_EQ(std::stod(cpu_price[0]["value"][1].get<std::string>()), 0.5);
  const json lambda_price = vector_of("kubefn_price_lambda_requests_per_million");
  ASSERT_EQ(lambda_price.size(), 1u) << lambda_price.dump();
  EXPECT_EQ(std::stod(lambda_price[0]["value"][1].get<std::string>()), 0.4);

  // Every query of the dashboard, its variables given values the way Grafana would, run as
  // Grafana runs it (instant or over a range): no error, and data for the core panels.
  const json board = json::parse(read_file(kDashboard), nullptr, false);
  ASSERT_TRUE(board.is_object());
  const auto elapsed =
      std::chrono::duration_cast<seconds>(std::chrono::steady_clock::now() - scraping_since)
          .count();
  const std::string range = std::to_string(std::max<long>(elapsed, 5)) + "s";
  const std::map<std::string, std::string> values = {
      {"namespace", "default"},  {"function", "hello"},
      {"currency", "USD"},       {"datasource", "prometheus"},
      {"__range", range},        {"__range_s", range.substr(0, range.size() - 1)},
      {"__rate_interval", "4s"}, {"__interval", "1s"},
      {"__interval_ms", "1000"}};
  const std::set<std::string> core = {"Invocations per second by outcome",
                                      "Latency p50 / p99",
                                      "Replica-seconds per second: busy / idle / starting",
                                      "Utilisation",
                                      "Idle share",
                                      "Cost by function in the range",
                                      "Cost per hour by component",
                                      "Cost so far in the range",
                                      "On the hosted service vs own, per hour",
                                      "On the hosted service vs own, in the range",
                                      "Replicas (starting / ready)",
                                      "Price sheet"};
  const auto queries = dashboard_queries(board);
  ASSERT_GE(queries.size(), 20u);
  // Range queries end one second from now (a whole second: the last step must not fall before
  // a rule's first sample, which may be less than a second old).
  const auto now =
      std::chrono::duration_cast<seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count() +
      1;
  for (const auto& q : queries) {
    std::set<std::string> unknown;
    const std::string expr = substitute(q.expr, values, &unknown);
    EXPECT_TRUE(unknown.empty()) << q.panel << " " << q.ref
                                 << " uses an unknown variable: " << *unknown.begin();
    const std::string target = q.instant ? "/api/v1/query?query=" + url_encode(expr)
                                         : "/api/v1/query_range?query=" + url_encode(expr) +
                                               "&start=" + std::to_string(now - 60) +
                                               "&end=" + std::to_string(now) + "&step=2";
    const json r = api(target);
    ASSERT_TRUE(r.is_object()) << q.panel << ": no answer to " << expr;
    EXPECT_EQ(r.value("status", ""), "success") << q.panel << " " << q.ref << ": " << expr << "\n"
                                                << r.dump();
    EXPECT_FALSE(r.contains("error")) << q.panel << ": " << r.dump();
    if (core.count(q.panel) == 1 && r.value("status", "") == "success") {
      EXPECT_FALSE(r["data"]["result"].empty())
          << q.panel << " " << q.ref << " has no data: " << expr;
    }
  }

  // The variables' own queries (label_values(METRIC, LABEL)) offer this function.
  for (const auto& v : board["templating"]["list"]) {
    if (v.value("type", "") != "query") continue;
    std::set<std::string> unknown;
    const std::string q = substitute(v["query"].value("query", ""), values, &unknown);
    EXPECT_TRUE(unknown.empty()) << v.value("name", "");
    std::smatch m;
    ASSERT_TRUE(std::regex_match(q, m, std::regex(R"(label_values\((.+),\s*([A-Za-z_]+)\))"))) << q;
    const json r = api("/api/v1/label/" + m[2].str() + "/values?match[]=" + url_encode(m[1].str()));
    ASSERT_TRUE(r.is_object()) << q;
    EXPECT_EQ(r.value("status", ""), "success") << q << ": " << r.dump();
    const std::string want = v["name"] == "namespace"  ? "default"
                             : v["name"] == "function" ? "hello"
                                                       : "USD";
    const auto& got = r["data"];
    EXPECT_NE(std::find(got.begin(), got.end(), want), got.end())
        << v.value("name", "") << ": " << q << " gave " << got.dump();
  }

  // `kubefn cost --prometheus` (what a cluster's user runs) reports the function from this
  // Prometheus: its calls (increase() over the window extrapolates, so about the 40 made while
  // it scraped, once a scrape has seen the last of them), its replica time and cost, at the
  // chart's prices.
  ASSERT_TRUE(wait_until(
      [&] {
        return !vector_of(
                    "kubefn_function_invocations_total{function=\"hello\", "
                    "outcome=\"success\"} >= 41")
                    .empty();
      },
      seconds(30), milliseconds(250)))
      << instant("kubefn_function_invocations_total").dump();
  const auto cost = run_command({KUBEFN_CLI_BIN, "cost", "-A", "--since", "10m", "-o", "json",
                                 "--prometheus", "http://127.0.0.1:" + std::to_string(prom_port_)},
                                {{"KUBEFN_HOME", dir_.file("home")}}, seconds(60));
  ASSERT_EQ(cost.exit_code, 0) << cost.err;
  const json report = json::parse(cost.out, nullptr, false);
  ASSERT_TRUE(report.is_object()) << cost.out;
  EXPECT_DOUBLE_EQ(report["prices"].value("cpuCoreHour", 0.0), 0.5);
  ASSERT_EQ(report["functions"].size(), 1u) << cost.out;
  const json& fn = report["functions"][0];
  EXPECT_EQ(fn.value("name", ""), "hello");
  // increase() extrapolates from the first and last samples towards the window's edges (up to
  // half a scrape interval at each end of a short series, at the series' average rate): never
  // below the calls scraped, and at most about half as many again here.
  EXPECT_GE(fn["invocations"].value("success", 0), 40) << cost.out;
  EXPECT_LE(fn["invocations"].value("success", 0), 80) << cost.out;
  EXPECT_GT(fn["replica_seconds"].value("idle", 0.0), 0) << cost.out;
  EXPECT_GT(fn["cost"].value("total", 0.0), 0) << cost.out;
  EXPECT_GT(fn.value("lambda_cost", 0.0), 0) << cost.out;
  const auto table = run_command({KUBEFN_CLI_BIN, "cost", "-A", "--prometheus",
                                  "http://127.0.0.1:" + std::to_string(prom_port_)},
                                 {{"KUBEFN_HOME", dir_.file("home")}}, seconds(60));
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("hello"), std::string::npos) << table.out;
}

}  // namespace
}  // namespace kubefn::testing
