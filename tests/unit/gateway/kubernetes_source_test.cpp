#include "kubefn/gateway/kubernetes_source.hpp"

#include <gtest/gtest.h>

namespace kubefn::gateway {
namespace {

using nlohmann::json;

TEST(RouteFromFunction, ReadsAccessConcurrencyTimeoutAndHost) {
  json fn = {{"metadata", {{"name", "hello"}, {"namespace", "team"}}},
             {"spec",
              {{"access", "public"},
               {"concurrency", 4},
               {"timeout", 12},
               {"triggers", {{"http", {{"host", "hello.example.com"}}}}}}}};
  auto r = route_from_function(fn);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->ns, "team");
  EXPECT_EQ(r->name, "hello");
  EXPECT_EQ(r->access, Access::kPublic);
  EXPECT_EQ(r->concurrency, 4);
  EXPECT_EQ(r->timeout, std::chrono::seconds(12));
  EXPECT_EQ(r->hosts, std::vector<std::string>{"hello.example.com"});

  auto plain = route_from_function({{"metadata", {{"name", "f"}, {"namespace", "x"}}}});
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->access, Access::kPrivate);
  EXPECT_EQ(plain->concurrency, 0);
  EXPECT_TRUE(plain->hosts.empty());
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
  EXPECT_FALSE(endpoint_from_pod(pod("10.0.0.5", "False"), 8080)->ready);
  EXPECT_FALSE(endpoint_from_pod(pod("10.0.0.5", "True", true), 8080)->ready);
  EXPECT_FALSE(endpoint_from_pod(pod("", "True"), 8080).has_value());
  json bare = {{"metadata", {{"name", "p"}}}, {"status", {{"podIP", "1.2.3.4"}}}};
  EXPECT_EQ(endpoint_from_pod(bare, 8080)->port, 8080);
  EXPECT_FALSE(endpoint_from_pod(bare, 8080)->ready);
}

TEST(TokensFromSecret, DecodesDataValues) {
  json s = {{"data", {{"a", "dG9rZW4tb25l"}, {"b", "dHdvCnRocmVlCg=="}}},
            {"stringData", {{"c", "four"}}}};
  EXPECT_EQ(tokens_from_secret(s), (std::vector<std::string>{"token-one", "two", "three", "four"}));
}

}  // namespace
}  // namespace kubefn::gateway
