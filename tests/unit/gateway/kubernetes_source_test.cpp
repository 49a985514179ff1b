#include "kubefn/gateway/kubernetes_source.hpp"

#include <gtest/gtest.h>

namespace kubefn::gateway {
namespace {

using nlohmann::json;

TEST(RouteFromFunction, ReadsAccessConcurrencyTimeoutAndHost) {
  json fn = {
      {"metadata",
       {{"name", "hello"}, {"namespace", "team"}, {"creationTimestamp", "2024-01-01T00:00:00Z"}}},
      {"spec",
       {{"access", "public"},
        {"concurrency", 4},
        {"timeout", 12},
        {"triggers", {{"http", {{"host", "hello.example.com"}, {"path", "/hello"}}}}}}}};
  auto r = route_from_function(fn);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->ns, "team");
  EXPECT_EQ(r->name, "hello");
  EXPECT_EQ(r->access, Access::kPublic);
  EXPECT_EQ(r->concurrency, 4);
  EXPECT_EQ(r->timeout, std::chrono::seconds(12));
  EXPECT_EQ(r->host, "hello.example.com");
  EXPECT_EQ(r->path, "/hello");
  EXPECT_EQ(r->created, "2024-01-01T00:00:00Z");

  auto plain = route_from_function({{"metadata", {{"name", "f"}, {"namespace", "x"}}}});
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->access, Access::kPrivate);
  EXPECT_EQ(plain->concurrency, 0);
  EXPECT_TRUE(plain->host.empty());
  EXPECT_TRUE(plain->path.empty());
  EXPECT_FALSE(route_from_function(json::object()).has_value());
}

json pod(const std::string& ip, const std::string& ready, bool deleting = false) {
  json p = {
      {"metadata", {{"name", "p1"}, {"namespace", "x"}}},
      {"spec",
       {{"containers",
         json::array({{{"ports", json::array({{{"name", "http"}, {"containerPort", 9090}}})}}})}}},
      {"status", {{"conditions", json::array({{{"type", "Ready"}, {"status", ready}}})}}}};
  if (!ip.empty()) p["status"]["podIP"] = ip;
  if (deleting) p["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z";
  return p;
}

TEST(EndpointFromPod, ReadyNeedsIpConditionAndNoDeletion) {
  auto e = endpoint_from_pod(pod("10.0.0.5", "True"), 8080);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->id, "p1");
  EXPECT_EQ(e->host, "10.0.0.5");
  EXPECT_EQ(e->port, 9090);
  EXPECT_TRUE(e->ready);
  EXPECT_FALSE(e->started) << "no container status: nothing is known to run";
  EXPECT_FALSE(endpoint_from_pod(pod("10.0.0.5", "False"), 8080)->ready);
  EXPECT_FALSE(endpoint_from_pod(pod("10.0.0.5", "True", true), 8080)->ready);
  EXPECT_FALSE(endpoint_from_pod(pod("", "True"), 8080).has_value());
  json bare = {{"metadata", {{"name", "p"}}}, {"status", {{"podIP", "1.2.3.4"}}}};
  EXPECT_EQ(endpoint_from_pod(bare, 8080)->port, 8080);
  EXPECT_FALSE(endpoint_from_pod(bare, 8080)->ready);
}

// A pod of two containers, the function's (declaring the "http" port) and a sidecar, with
// each container's state: "running", "waiting" or "" (no status reported yet).
json two_containers(const std::string& function_state, const std::string& sidecar_state,
                    const std::string& ready = "False", bool deleting = false) {
  json p = {
      {"metadata", {{"name", "p2"}, {"namespace", "x"}}},
      {"spec",
       {{"containers",
         json::array({{{"name", "sidecar"}},
                      {{"name", "fn"},
                       {"ports", json::array({{{"name", "http"}, {"containerPort", 9090}}})}}})}}},
      {"status",
       {{"podIP", "10.0.0.7"},
        {"conditions", json::array({{{"type", "Ready"}, {"status", ready}}})}}}};
  json statuses = json::array();
  for (const auto& [name, state] :
       {std::pair<std::string, std::string>{"fn", function_state},
        std::pair<std::string, std::string>{"sidecar", sidecar_state}}) {
    if (state.empty()) continue;
    json st = state == "running" ? json{{"running", {{"startedAt", "2024-01-01T00:00:00Z"}}}}
                                 : json{{"waiting", {{"reason", "ContainerCreating"}}}};
    statuses.push_back({{"name", name}, {"ready", false}, {"state", st}});
  }
  if (!statuses.empty()) p["status"]["containerStatuses"] = statuses;
  if (deleting) p["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z";
  return p;
}

TEST(EndpointFromPod, StartedWhenTheFunctionContainerRunsAndNoDeletionIsPending) {
  struct Row {
    const char* what;
    json pod;
    bool ready, started;
  };
  for (const Row& row : std::vector<Row>{
           {"no container status yet", two_containers("", ""), false, false},
           {"the function's container is being created", two_containers("waiting", "running"),
            false, false},
           {"the function's container runs, not ready yet", two_containers("running", "waiting"),
            false, true},
           {"running and ready", two_containers("running", "running", "True"), true, true},
           {"being deleted", two_containers("running", "running", "True", true), false, false},
       }) {
    SCOPED_TRACE(row.what);
    auto e = endpoint_from_pod(row.pod, 8080);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->port, 9090);
    EXPECT_EQ(e->ready, row.ready);
    EXPECT_EQ(e->started, row.started);
    EXPECT_FALSE(e->probed) << "only the route table sets it";
  }

  // Without an "http" port: the container named "function", else the only one.
  json named = {
      {"metadata", {{"name", "p"}}},
      {"spec", {{"containers", json::array({{{"name", "log"}}, {{"name", "function"}}})}}},
      {"status",
       {{"podIP", "1.2.3.4"},
        {"containerStatuses",
         json::array({{{"name", "function"}, {"state", {{"running", json::object()}}}},
                      {{"name", "log"}, {"state", {{"waiting", json::object()}}}}})}}}};
  EXPECT_TRUE(endpoint_from_pod(named, 8080)->started);
  named["status"]["containerStatuses"][0]["state"] = {{"terminated", json::object()}};
  named["status"]["containerStatuses"][1]["state"] = {{"running", json::object()}};
  EXPECT_FALSE(endpoint_from_pod(named, 8080)->started) << "a sidecar running is not enough";
  json only = {{"metadata", {{"name", "p"}}},
               {"spec", {{"containers", json::array({{{"name", "main"}}})}}},
               {"status",
                {{"podIP", "1.2.3.4"},
                 {"containerStatuses",
                  json::array({{{"name", "main"}, {"state", {{"running", json::object()}}}}})}}}};
  EXPECT_TRUE(endpoint_from_pod(only, 8080)->started);
}

std::vector<std::string> tokens_of(const std::vector<Key>& keys) {
  std::vector<std::string> out;
  for (const Key& k : keys)
    out.push_back(k.token);
  return out;
}

TEST(KeysFromSecret, DecodesDataValues) {
  json s = {{"data", {{"a", "dG9rZW4tb25l"}, {"b", "dHdvCnRocmVlCg=="}}},
            {"stringData", {{"c", "four"}}}};
  auto keys = keys_from_secret(s);
  EXPECT_EQ(tokens_of(keys), (std::vector<std::string>{"token-one", "two", "three", "four"}));
  for (const Key& k : keys)
    EXPECT_TRUE(k.scopes.empty()) << k.token;  // every function, as before scopes
}

TEST(KeysFromSecret, ScopesComeFromIdDotScopesOrTheLine) {
  // "team-a" holds a token; "team-a.scopes" what it opens.
  json s = {{"stringData",
             {{"team-a", "token-a\n"},
              {"team-a.scopes", "team-a/*,shared/report\n"},
              {"mixed", "token-m\ntoken-n ops/*\n"},
              {"mixed.scopes", "web/site"},
              {"admin", "token-admin"}}}};
  std::vector<std::string> errors;
  auto keys = keys_from_secret(s, &errors);
  EXPECT_TRUE(errors.empty());
  ASSERT_EQ(keys.size(), 4u);
  std::map<std::string, std::vector<std::string>> by_token;
  for (const Key& k : keys)
    by_token[k.token] = k.scopes;
  EXPECT_EQ(by_token["token-a"], (std::vector<std::string>{"team-a/*", "shared/report"}));
  EXPECT_EQ(by_token["token-m"], std::vector<std::string>{"web/site"});
  EXPECT_EQ(by_token["token-n"], std::vector<std::string>{"ops/*"});
  EXPECT_TRUE(by_token["token-admin"].empty());
}

TEST(KeysFromSecret, AMalformedEntryOpensNothingAndIsReported) {
  json s = {{"stringData",
             {{"bad", "token-bad"},
              {"bad.scopes", "Team A/*"},
              {"worse", "token-worse not/a/scope"},
              {"orphan.scopes", "x/*"},
              {"good", "token-good"}}}};
  std::vector<std::string> errors;
  auto keys = keys_from_secret(s, &errors);
  EXPECT_EQ(tokens_of(keys), std::vector<std::string>{"token-good"});
  ASSERT_EQ(errors.size(), 3u);
  std::string all;
  for (const auto& e : errors)
    all += e + "\n";
  EXPECT_NE(all.find("key entry bad is left out"), std::string::npos) << all;
  EXPECT_NE(all.find("key entry worse is left out: line 1"), std::string::npos) << all;
  EXPECT_NE(all.find("orphan.scopes"), std::string::npos) << all;
  EXPECT_EQ(all.find("token-"), std::string::npos) << "errors never show a token: " << all;
}

}  // namespace
}  // namespace kubefn::gateway
