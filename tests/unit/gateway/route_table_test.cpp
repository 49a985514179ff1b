#include "kubefn/gateway/route_table.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace kubefn::gateway {
namespace {

Endpoint ep(std::string id, std::uint16_t port, bool ready = true) {
  return Endpoint{std::move(id), "127.0.0.1", port, ready};
}

// Started (its container runs), not ready: what the activation probe may make routable.
Endpoint started(std::string id, std::uint16_t port) {
  Endpoint e = ep(std::move(id), port, false);
  e.started = true;
  return e;
}

FunctionRoute route(std::string ns, std::string name) {
  FunctionRoute r;
  r.ns = std::move(ns);
  r.name = std::move(name);
  return r;
}

kube::ClaimPolicy allow_all_hosts(std::vector<std::string> reserved = {}) {
  kube::ClaimPolicy p;
  p.reserved_hosts = std::move(reserved);
  p.allowances = {{"*", "*"}};
  return p;
}

FunctionRoute claiming(std::string ns, std::string name, std::string created, std::string host,
                       std::string path = {}) {
  FunctionRoute r = route(std::move(ns), std::move(name));
  r.created = std::move(created);
  r.host = std::move(host);
  r.path = std::move(path);
  return r;
}

TEST(RouteTable, FindsByNameAndHost) {
  RouteTable t(allow_all_hosts());
  EXPECT_EQ(t.find("default", "hello"), nullptr);
  auto r = route("default", "hello");
  r.access = Access::kPublic;
  r.host = "Hello.Example.com";
  t.upsert(r);
  auto found = t.find("default", "hello");
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->access, Access::kPublic);
  EXPECT_EQ(t.find("other", "hello"), nullptr);
  EXPECT_EQ(t.find_host("hello.example.com"), found);
  EXPECT_EQ(t.find_host("HELLO.example.com:8080"), found);
  EXPECT_EQ(t.find_host("nope.example.com"), nullptr);
  t.remove("default", "hello");
  EXPECT_EQ(t.find("default", "hello"), nullptr);
  EXPECT_EQ(t.find_host("hello.example.com"), nullptr);
}

TEST(RouteTable, HostsGoOnlyToTheirHolderAndNeverToReservedNames) {
  RouteTable t;  // no allowance: no host routes, the default routes still work
  t.upsert(claiming("team", "api", "2024-01-02T00:00:00Z", "api.example.com"));
  EXPECT_NE(t.find("team", "api"), nullptr);
  EXPECT_EQ(t.find_host("api.example.com"), nullptr);
  EXPECT_EQ(t.find("team", "api")->claims.summary().reason, kube::kHostNotAllowedReason);

  kube::ClaimPolicy p;
  p.reserved_hosts = {"gw.example.com"};
  p.allowances = {{"team", "*.example.com"}, {"evil", "*"}};
  t.set_claim_policy(p);
  EXPECT_EQ(t.find_host("api.example.com"), t.find("team", "api"));
  // A later claim, even an allowed one, does not take the host over.
  t.upsert(claiming("evil", "grab", "2024-01-03T00:00:00Z", "API.example.com"));
  EXPECT_EQ(t.find_host("api.example.com")->name, "api");
  EXPECT_EQ(t.find("evil", "grab")->claims.summary().reason, kube::kHostConflictReason);
  // The gateway's own names are never routed, whoever claims them first.
  t.upsert(claiming("evil", "gw", "2000-01-01T00:00:00Z", "gw.example.com"));
  t.upsert(claiming("evil", "local", "2000-01-01T00:00:00Z", "localhost"));
  t.upsert(claiming("evil", "ip", "2000-01-01T00:00:00Z", "127.0.0.1"));
  EXPECT_EQ(t.find_host("gw.example.com:8080"), nullptr);
  EXPECT_EQ(t.find_host("localhost"), nullptr);
  EXPECT_EQ(t.find_host("127.0.0.1"), nullptr);
  EXPECT_EQ(t.find("evil", "ip")->claims.summary().reason, kube::kInvalidTriggerReason);
  // The holder goes: the next claimant holds the host.
  t.remove("team", "api");
  EXPECT_EQ(t.find_host("api.example.com")->name, "grab");
  // An earlier claimant arriving later takes it (first created, not first seen).
  t.upsert(claiming("team", "older", "2023-12-31T00:00:00Z", "api.example.com"));
  EXPECT_EQ(t.find_host("api.example.com")->name, "older");
}

TEST(RouteTable, FindsTheLongestHeldPathPrefixOnSegmentBoundaries) {
  RouteTable t;
  t.upsert(claiming("default", "hello", "2024-01-01T00:00:00Z", "", "/hello"));
  t.upsert(claiming("default", "deep", "2024-01-01T00:00:00Z", "", "/hello/deep/"));
  t.upsert(claiming("default", "late", "2024-01-02T00:00:00Z", "", "/hello"));
  std::string up;
  auto expect = [&](const char* target, const char* name, const char* upstream) {
    up = "unset";
    auto r = t.find_path(target, &up);
    if (name == nullptr) {
      EXPECT_EQ(r, nullptr) << target;
      return;
    }
    ASSERT_NE(r, nullptr) << target;
    EXPECT_EQ(r->name, name) << target;
    EXPECT_EQ(up, upstream) << target;
  };
  expect("/hello", "hello", "/");
  expect("/hello/", "hello", "/");
  expect("/hello?name=x", "hello", "/?name=x");
  expect("/hello/a/b?q=1&r=/x", "hello", "/a/b?q=1&r=/x");
  expect("/hello/deep", "deep", "/");
  expect("/hello/deep/er/x", "deep", "/er/x");
  expect("/hello/deeper", "hello", "/deeper");
  expect("/hellox", nullptr, "");
  expect("/hell", nullptr, "");
  expect("/", nullptr, "");
  expect("", nullptr, "");
  expect("hello", nullptr, "");
  expect("/other/hello", nullptr, "");
  EXPECT_EQ(t.find("default", "late")->claims.summary().reason, kube::kPathConflictReason);
  t.remove("default", "hello");
  expect("/hello/x", "late", "/x");
}

TEST(RouteTable, UpsertKeepsEndpointsWhenGivenNone) {
  RouteTable t;
  // Endpoints may be known before the function is.
  t.set_endpoints("default", "f", {ep("a", 1), ep("b", 2, false)});
  EXPECT_EQ(t.find("default", "f"), nullptr);
  t.upsert(route("default", "f"));
  auto r = t.find("default", "f");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->endpoints.size(), 2u);
  EXPECT_EQ(r->ready_endpoints, 1);
  auto changed = route("default", "f");
  changed.concurrency = 3;
  t.upsert(changed);
  r = t.find("default", "f");
  EXPECT_EQ(r->endpoints.size(), 2u);
  EXPECT_EQ(r->limit(), 3);
  t.set_endpoints("default", "f", {});
  EXPECT_EQ(t.find("default", "f")->endpoints.size(), 0u);
  EXPECT_EQ(t.find("default", "f")->limit(), 0);
}

TEST(RouteTable, LoadsAndStateSurviveUpdates) {
  RouteTable t;
  t.upsert(route("ns", "f"));
  t.set_endpoints("ns", "f", {ep("a", 1), ep("b", 2)});
  auto first = t.find("ns", "f");
  first->loads[0]->inflight.store(7);
  t.set_endpoints("ns", "f", {ep("a", 1), ep("c", 3)});
  auto second = t.find("ns", "f");
  EXPECT_EQ(second->state, first->state);
  EXPECT_EQ(second->loads[0], first->loads[0]);
  EXPECT_EQ(second->loads[0]->inflight.load(), 7);
  EXPECT_FALSE(first->loads[0]->removed.load());
  EXPECT_TRUE(first->loads[1]->removed.load());  // "b" is gone
  t.remove("ns", "f");
  EXPECT_TRUE(first->state->removed.load());
  EXPECT_TRUE(second->loads[0]->removed.load());
}

TEST(RouteTable, ReadersOnOtherThreadsSeeNewVersions) {
  RouteTable t;
  t.upsert(route("ns", "f"));
  std::atomic<bool> stop{false};
  std::atomic<int> seen_ready{0};
  std::thread reader([&] {
    while (!stop.load()) {
      auto r = t.find("ns", "f");
      if (r && r->ready_endpoints > seen_ready.load()) seen_ready.store(r->ready_endpoints);
    }
  });
  for (int i = 1; i <= 5; ++i) {
    std::vector<Endpoint> eps;
    for (int k = 0; k < i; ++k)
      eps.push_back(ep("e" + std::to_string(k), static_cast<std::uint16_t>(k + 1)));
    t.set_endpoints("ns", "f", eps);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (seen_ready.load() < 5 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  stop = true;
  reader.join();
  EXPECT_EQ(seen_ready.load(), 5);
}

TEST(ChooseEndpoint, LeastInFlightThenRoundRobin) {
  RouteTable t;
  t.upsert(route("ns", "f"));
  t.set_endpoints("ns", "f", {ep("a", 1), ep("b", 2), ep("c", 3), ep("d", 4, false)});
  auto r = t.find("ns", "f");
  // All idle: the start index rotates over the ready ones.
  EXPECT_EQ(choose_endpoint(*r, 0), 0);
  EXPECT_EQ(choose_endpoint(*r, 1), 1);
  EXPECT_EQ(choose_endpoint(*r, 2), 2);
  EXPECT_EQ(choose_endpoint(*r, 3), 0);  // "d" is not ready
  r->loads[0]->inflight = 2;
  r->loads[1]->inflight = 1;
  r->loads[2]->inflight = 3;
  for (std::uint64_t s = 0; s < 8; ++s)
    EXPECT_EQ(choose_endpoint(*r, s), 1);
  EXPECT_EQ(choose_endpoint(*r, 0, {1}), 0);
  EXPECT_EQ(choose_endpoint(*r, 0, {0, 1, 2}), -1);
  FunctionRoute empty;
  EXPECT_EQ(choose_endpoint(empty, 0), -1);
}

// The activation probe's finding makes an endpoint routable only while the platform's word
// allows it, and the platform's word always wins.
TEST(RouteTable, AProbedEndpointIsRoutableUntilThePlatformSaysOtherwise) {
  RouteTable t;
  t.upsert(route("default", "fn"));
  t.set_endpoints("default", "fn", {started("p0", 9000), ep("p1", 9001, false)});
  auto r = t.find("default", "fn");
  ASSERT_EQ(r->ready_endpoints, 0);
  EXPECT_EQ(choose_endpoint(*r, 0), -1);
  const EndpointLoad* p0 = r->loads[0].get();
  const EndpointLoad* p1 = r->loads[1].get();

  // Not started (nothing runs to answer), or not listed: refused.
  EXPECT_FALSE(t.set_probed("default", "fn", p1, true));
  EXPECT_FALSE(t.set_probed("default", "other", p0, true));
  const std::uint64_t before = t.version();
  ASSERT_TRUE(t.set_probed("default", "fn", p0, true));
  EXPECT_GT(t.version(), before) << "a new snapshot";
  EXPECT_FALSE(t.set_probed("default", "fn", p0, true)) << "no change";
  r = t.find("default", "fn");
  EXPECT_TRUE(r->endpoints[0].probed);
  EXPECT_FALSE(r->endpoints[0].ready) << "ready stays the platform's word";
  EXPECT_EQ(r->ready_endpoints, 1);
  EXPECT_EQ(choose_endpoint(*r, 0), 0);
  EXPECT_EQ(choose_endpoint(*r, 1), 0);

  // The watch says the same again (another pod changed): still probed.
  t.set_endpoints("default", "fn", {started("p0", 9000), ep("p1", 9001, false)});
  EXPECT_TRUE(t.find("default", "fn")->endpoints[0].probed);
  // A value given by a writer is not the table's finding.
  Endpoint claimed = started("p1", 9001);
  claimed.probed = true;
  t.set_endpoints("default", "fn", {started("p0", 9000), claimed});
  r = t.find("default", "fn");
  EXPECT_FALSE(r->endpoints[1].probed);
  EXPECT_EQ(r->ready_endpoints, 1);

  // Its container stops (or the pod starts being deleted: started is false then too).
  t.set_endpoints("default", "fn", {ep("p0", 9000, false), started("p1", 9001)});
  r = t.find("default", "fn");
  EXPECT_FALSE(r->endpoints[0].probed);
  EXPECT_EQ(r->ready_endpoints, 0);
  // Running again and never ready: it may be probed again. A refused connection undoes it.
  t.set_endpoints("default", "fn", {started("p0", 9000), started("p1", 9001)});
  ASSERT_TRUE(t.set_probed("default", "fn", p0, true));
  ASSERT_TRUE(t.set_probed("default", "fn", p0, false));
  EXPECT_EQ(t.find("default", "fn")->ready_endpoints, 0);
}

TEST(RouteTable, AnEndpointThePlatformOnceMadeReadyIsNeverProbedReady) {
  RouteTable t;
  t.upsert(route("default", "fn"));
  t.set_endpoints("default", "fn", {started("p0", 9000)});
  const EndpointLoad* p0 = t.find("default", "fn")->loads[0].get();
  ASSERT_TRUE(t.set_probed("default", "fn", p0, true));
  // The kubelet's probe passes: ready, probed no more.
  Endpoint ready = started("p0", 9000);
  ready.ready = true;
  t.set_endpoints("default", "fn", {ready});
  auto r = t.find("default", "fn");
  EXPECT_TRUE(r->endpoints[0].ready);
  EXPECT_FALSE(r->endpoints[0].probed);
  EXPECT_TRUE(r->loads[0]->seen_ready.load());
  // Then it marks it not ready: that stands, whatever a probe would say.
  t.set_endpoints("default", "fn", {started("p0", 9000)});
  EXPECT_FALSE(t.set_probed("default", "fn", p0, true));
  EXPECT_EQ(t.find("default", "fn")->ready_endpoints, 0);
}

}  // namespace
}  // namespace kubefn::gateway
