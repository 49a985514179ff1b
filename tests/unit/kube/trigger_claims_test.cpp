#include "kubefn/kube/trigger_claims.hpp"

#include <gtest/gtest.h>

namespace kubefn::kube {
namespace {

using nlohmann::json;

ClaimPolicy allow_all(std::vector<std::string> reserved = {}) {
  ClaimPolicy p;
  p.reserved_hosts = std::move(reserved);
  p.allowances = {{"*", "*"}};
  return p;
}

Claimant claim(std::string ns, std::string name, std::string created, std::string host,
               std::string path = {}) {
  return Claimant{std::move(ns), std::move(name), std::move(created), std::move(host),
                  std::move(path)};
}

TEST(TriggerClaims, HostKeysAreLowerCaseDnsNames) {
  EXPECT_EQ(host_claim_key("Api.Example.COM").key, "api.example.com");
  EXPECT_EQ(host_claim_key("gateway").key, "gateway");
  EXPECT_EQ(host_claim_key("a-1.b2.example").key, "a-1.b2.example");
  for (const char* bad : {"", "a.example.com:8080", "127.0.0.1", "10.1", "[::1]", "::1",
                          "a..example.com", "-a.example.com", "a-.example.com", "a_b.example.com",
                          "a.example.com.", "*.example.com", "a b.example.com", "exa%6dple.com"}) {
    ClaimKey k = host_claim_key(bad);
    EXPECT_FALSE(k.ok()) << bad;
    EXPECT_NE(k.error.find("spec.triggers.http.host"), std::string::npos) << k.error;
  }
  EXPECT_FALSE(host_claim_key(std::string(64, 'a') + ".example.com").ok());
  EXPECT_NE(host_claim_key("a.example.com:80").error.find("without a port"), std::string::npos);
}

TEST(TriggerClaims, PathKeysAreCleanPrefixes) {
  EXPECT_EQ(path_claim_key("/hello").key, "/hello");
  EXPECT_EQ(path_claim_key("/hello/").key, "/hello");
  EXPECT_EQ(path_claim_key("/api/v1").key, "/api/v1");
  EXPECT_EQ(path_claim_key("/caf%C3%A9").key, "/caf%C3%A9");
  EXPECT_EQ(path_claim_key("/metricsx").key, "/metricsx");
  for (const char* bad :
       {"", "hello", "/", "//", "/a//b", "/a/../b", "/..", "/./a", "/a?x=1", "/a#f", "/a%2fb",
        "/a%2Fb", "/a%2e%2e", "/a%5cb", "/a%zz", "/a%4", "/a b", "/a\\b", "/healthz", "/readyz",
        "/metrics", "/metrics/", "/metrics/x"}) {
    ClaimKey k = path_claim_key(bad);
    EXPECT_FALSE(k.ok()) << bad;
    EXPECT_NE(k.error.find("spec.triggers.http.path"), std::string::npos) << k.error;
  }
}

TEST(TriggerClaims, AllowancesAndReservedNames) {
  auto a = parse_host_allowance("team=*.team.example.com");
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_TRUE(a->matches("team", "api.team.example.com"));
  EXPECT_FALSE(a->matches("team", "team.example.com"));
  EXPECT_FALSE(a->matches("other", "api.team.example.com"));
  auto any = parse_host_allowance("*=*");
  ASSERT_TRUE(any.ok());
  EXPECT_TRUE(any->matches("x", "y.z"));
  auto exact = parse_host_allowance("web=WWW.example.com");
  ASSERT_TRUE(exact.ok());
  EXPECT_TRUE(exact->matches("web", "www.example.com"));
  EXPECT_FALSE(exact->matches("web", "a.www.example.com"));
  for (const char* bad : {"team", "=a.com", "team=", "team=a.com:80", "Team=a.com", "t=*.*"}) {
    auto r = parse_host_allowance(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("NAMESPACE=PATTERN"), std::string::npos);
    }
  }

  ClaimPolicy p = allow_all({"Gateway.Example.com", "*.svc.cluster.local"});
  EXPECT_TRUE(p.reserved("localhost"));
  EXPECT_TRUE(p.reserved("a.localhost"));
  EXPECT_TRUE(p.reserved("gateway.example.com"));
  EXPECT_TRUE(p.reserved("kubefn-gateway.kubefn-system.svc.cluster.local"));
  EXPECT_FALSE(p.reserved("api.example.com"));
  EXPECT_FALSE(ClaimPolicy{}.allowed("default", "api.example.com"));
}

TEST(TriggerClaims, EarliestEligibleClaimantHoldsAKey) {
  TriggerClaims c(allow_all());
  EXPECT_TRUE(c.upsert(claim("b", "late", "2024-01-02T00:00:00Z", "api.example.com")).empty());
  // An earlier claimant takes the key; the one that held it is told.
  EXPECT_EQ(c.upsert(claim("a", "early", "2024-01-01T00:00:00Z", "API.example.com")),
            std::vector<std::string>{"b/late"});
  EXPECT_EQ(c.host_holder("api.example.com"), "a/early");
  EXPECT_EQ(c.verdict("a", "early").host, "api.example.com");
  ClaimVerdict lost = c.verdict("b", "late");
  EXPECT_TRUE(lost.host.empty());
  ASSERT_EQ(lost.problems.size(), 1u);
  EXPECT_EQ(lost.problems[0].reason, kHostConflictReason);
  EXPECT_NE(lost.problems[0].message.find("host api.example.com is held by a/early"),
            std::string::npos)
      << lost.problems[0].message;
  // Same second: namespace, then name.
  c.upsert(claim("a", "same", "2024-01-01T00:00:00Z", "api.example.com"));
  EXPECT_EQ(c.host_holder("api.example.com"), "a/early");
  // The holder goes: the next claimant holds, and the others are told.
  EXPECT_EQ(c.remove("a", "early"), (std::vector<std::string>{"a/same", "b/late"}));
  EXPECT_EQ(c.host_holder("api.example.com"), "a/same");
  // Moving to another host frees the first.
  EXPECT_EQ(c.upsert(claim("a", "same", "2024-01-01T00:00:00Z", "other.example.com")),
            std::vector<std::string>{"b/late"});
  EXPECT_EQ(c.verdict("b", "late").host, "api.example.com");
  EXPECT_TRUE(c.verdict("b", "late").ok());
  EXPECT_TRUE(c.verdict("no", "such").ok());
}

TEST(TriggerClaims, PathsAreFirstComeAndNeedNoAllowance) {
  TriggerClaims c;  // no allowance: hosts are refused, paths are not
  c.upsert(claim("a", "hello", "2024-01-01T00:00:00Z", "", "/hello/"));
  c.upsert(claim("b", "hello", "2024-01-02T00:00:00Z", "", "/hello"));
  EXPECT_EQ(c.path_holder("/hello"), "a/hello");
  EXPECT_EQ(c.verdict("a", "hello").path, "/hello");
  ClaimVerdict lost = c.verdict("b", "hello");
  ASSERT_EQ(lost.problems.size(), 1u);
  EXPECT_EQ(lost.problems[0].reason, kPathConflictReason);
  EXPECT_NE(lost.problems[0].message.find("path /hello is held by a/hello"), std::string::npos);
  // A different prefix, even a longer one below it, is another key.
  c.upsert(claim("b", "deeper", "2024-01-03T00:00:00Z", "", "/hello/deeper"));
  EXPECT_TRUE(c.verdict("b", "deeper").ok());
}

TEST(TriggerClaims, IneligibleClaimsNeverBlockOthers) {
  ClaimPolicy p;
  p.reserved_hosts = {"gateway.example.com"};
  p.allowances = {{"team", "*.team.example.com"}, {"team", "gateway.example.com"}};
  TriggerClaims c(p);
  // Not allowed for its namespace, though first.
  c.upsert(claim("intruder", "f", "2020-01-01T00:00:00Z", "api.team.example.com"));
  c.upsert(claim("team", "api", "2024-01-01T00:00:00Z", "api.team.example.com"));
  EXPECT_EQ(c.host_holder("api.team.example.com"), "team/api");
  ClaimVerdict refused = c.verdict("intruder", "f");
  ASSERT_EQ(refused.problems.size(), 1u);
  EXPECT_EQ(refused.problems[0].reason, kHostNotAllowedReason);
  EXPECT_NE(refused.problems[0].message.find("--allow-host intruder="), std::string::npos)
      << refused.problems[0].message;
  // Reserved names are refused even where an allowance matches.
  c.upsert(claim("team", "takeover", "2020-01-01T00:00:00Z", "gateway.example.com"));
  EXPECT_EQ(c.host_holder("gateway.example.com"), "");
  ClaimVerdict reserved = c.verdict("team", "takeover");
  ASSERT_EQ(reserved.problems.size(), 1u);
  EXPECT_EQ(reserved.problems[0].reason, kHostNotAllowedReason);
  EXPECT_NE(reserved.problems[0].message.find("reserved for the gateway"), std::string::npos);
  c.upsert(claim("team", "local", "2020-01-01T00:00:00Z", "LocalHost"));
  EXPECT_EQ(c.verdict("team", "local").problems.at(0).reason, kHostNotAllowedReason);
  // Malformed: InvalidTrigger, and the valid half of the claim still holds.
  c.upsert(claim("team", "mixed", "2020-01-01T00:00:00Z", "127.0.0.1", "/mixed"));
  ClaimVerdict mixed = c.verdict("team", "mixed");
  EXPECT_EQ(mixed.path, "/mixed");
  ASSERT_EQ(mixed.problems.size(), 1u);
  EXPECT_EQ(mixed.summary().reason, kInvalidTriggerReason);
  EXPECT_NE(mixed.summary().message.find("is an IP address"), std::string::npos);
}

TEST(TriggerClaims, ResolvesFunctionObjects) {
  auto fn = [](const std::string& ns, const std::string& name, const std::string& created,
               json http) {
    return json{{"metadata", {{"namespace", ns}, {"name", name}, {"creationTimestamp", created}}},
                {"spec", {{"triggers", {{"http", std::move(http)}}}}}};
  };
  auto verdicts = resolve_trigger_claims(
      {fn("x", "second", "2024-05-01T10:00:01Z", {{"host", "h.example.com"}, {"path", "/p"}}),
       fn("x", "first", "2024-05-01T10:00:00Z", {{"host", "h.example.com"}}),
       fn("y", "path", "2024-05-01T09:00:00Z", {{"path", "/p/"}}),
       {{"metadata", {{"name", "plain"}}}}},
      allow_all());
  ASSERT_EQ(verdicts.size(), 4u);
  EXPECT_EQ(verdicts["x/first"].host, "h.example.com");
  EXPECT_EQ(verdicts["y/path"].path, "/p");
  ClaimProblem s = verdicts["x/second"].summary();
  EXPECT_EQ(s.reason, kHostConflictReason);
  EXPECT_NE(s.message.find("held by x/first"), std::string::npos) << s.message;
  EXPECT_NE(s.message.find("path /p is held by y/path"), std::string::npos) << s.message;
  EXPECT_TRUE(verdicts["default/plain"].ok());
}

}  // namespace
}  // namespace kubefn::kube
