// Watch semantics (replay, synthetic ADDED, selector transitions, 410, bookmarks, timeouts)
// and the fault switches tests use to provoke client error paths.

#include "emulator_fixture.hpp"

namespace kubefn::emulator::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

class WatchTest : public EmulatorTest {};

std::string type_of(const std::optional<json>& e) {
  return e ? e->value("type", "") : "<none>";
}
std::string name_of(const std::optional<json>& e) {
  return e ? (*e)["object"]["metadata"].value("name", "") : "<none>";
}

TEST_F(WatchTest, WithoutResourceVersionReplaysCurrentStateAsAdded) {
  create(kConfigMaps, config_map("a"));
  create(kConfigMaps, config_map("b"));
  WatchReader w(emu_.port(), std::string(kConfigMaps) + "?watch=true");
  EXPECT_EQ(w.status(), 200);
  EXPECT_EQ(name_of(w.next()), "a");
  EXPECT_EQ(name_of(w.next()), "b");
  create(kConfigMaps, config_map("c"));
  auto e = w.next();
  EXPECT_EQ(type_of(e), "ADDED");
  EXPECT_EQ(name_of(e), "c");
}

TEST_F(WatchTest, FromResourceVersionReplaysOnlyLaterEvents) {
  const auto a = create(kConfigMaps, config_map("a"));
  http_.patch(std::string(kConfigMaps) + "/a", {{"data", {{"k", "2"}}}});
  http_.del(std::string(kConfigMaps) + "/a");
  WatchReader w(emu_.port(), std::string(kConfigMaps) + "?watch=1&resourceVersion=" + rv_of(a));
  auto m = w.next();
  EXPECT_EQ(type_of(m), "MODIFIED");
  auto d = w.next();
  EXPECT_EQ(type_of(d), "DELETED");
  EXPECT_GT(std::stoull(rv_of((*d)["object"])), std::stoull(rv_of((*m)["object"])));
  EXPECT_FALSE(w.next(milliseconds(200)).has_value());
}

TEST_F(WatchTest, SelectorTransitionsBecomeAddedAndDeleted) {
  const auto rv = std::to_string(emu_.resource_version());
  WatchReader w(emu_.port(), std::string(kConfigMaps) +
                                 "?watch=true&labelSelector=tier%3Dgold&resourceVersion=" + rv);
  const std::string path = std::string(kConfigMaps) + "/a";
  create(kConfigMaps, config_map("a", {{"tier", "silver"}}));
  http_.patch(path, {{"metadata", {{"labels", {{"tier", "gold"}}}}}});
  http_.patch(path, {{"metadata", {{"labels", {{"tier", "silver"}}}}}});
  http_.patch(path, {{"metadata", {{"labels", {{"tier", "gold"}}}}}});
  http_.del(path);
  std::vector<std::string> types;
  types.reserve(4);
  for (int i = 0; i < 4; ++i)
    types.push_back(type_of(w.next()));
  EXPECT_EQ(types, (std::vector<std::string>{"ADDED", "DELETED", "ADDED", "DELETED"}));
}

// Stored objects are shared by every watcher and list; each still sees the version it asked for.
TEST_F(WatchTest, EveryServedVersionSeesItsOwnApiVersion) {
  auto crd = widget_crd();
  auto v2 = crd["spec"]["versions"][0];
  v2["name"] = "v2";
  v2["storage"] = false;
  crd["spec"]["versions"].push_back(v2);
  ASSERT_EQ(http_.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd).status, 201);
  const std::string v1_path = kWidgets;
  const std::string v2_path = "/apis/emulator.kubefn.dev/v2/namespaces/default/widgets";
  ASSERT_TRUE(
      wait_until([&] { return http_.get(v2_path).status == 200; }, std::chrono::seconds(5)));
  const auto rv = std::to_string(emu_.resource_version());
  WatchReader w1(emu_.port(), v1_path + "?watch=true&resourceVersion=" + rv);
  WatchReader w2(emu_.port(), v2_path + "?watch=true&resourceVersion=" + rv);
  create(v1_path, widget("a", "red"));
  for (auto* w : {&w1, &w2}) {
    const auto e = w->next();
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(type_of(e), "ADDED");
    EXPECT_EQ(name_of(e), "a");
    EXPECT_EQ((*e)["object"]["spec"]["color"], "red");
    EXPECT_EQ((*e)["object"]["kind"], "Widget");
    EXPECT_EQ((*e)["object"]["apiVersion"],
              w == &w1 ? "emulator.kubefn.dev/v1" : "emulator.kubefn.dev/v2");
  }
  for (const auto& [path, version] : {std::pair{v1_path, "emulator.kubefn.dev/v1"},
                                      std::pair{v2_path, "emulator.kubefn.dev/v2"}}) {
    const auto list = http_.get(path).json();
    EXPECT_EQ(list["apiVersion"], version);
    ASSERT_EQ(list["items"].size(), 1u);
    EXPECT_EQ(list["items"][0]["apiVersion"], version);
    EXPECT_EQ(list["items"][0]["metadata"]["name"], "a");
    EXPECT_EQ(list["kind"], "WidgetList");
    EXPECT_FALSE(list["metadata"].value("resourceVersion", "").empty());
  }
}

TEST_F(WatchTest, CompactedHistoryGivesErrorEvent410) {
  const auto a = create(kConfigMaps, config_map("a"));
  create(kConfigMaps, config_map("b"));
  emu_.compact();
  WatchReader w(emu_.port(), std::string(kConfigMaps) + "?watch=true&resourceVersion=" + rv_of(a));
  EXPECT_EQ(w.status(), 200);
  auto e = w.next();
  ASSERT_EQ(type_of(e), "ERROR");
  EXPECT_EQ((*e)["object"]["code"], 410);
  EXPECT_EQ((*e)["object"]["reason"], "Expired");
  EXPECT_TRUE(w.ended());
}

TEST_F(WatchTest, SmallWatchCacheExpiresOldVersions) {
  // A fresh emulator with room for two events only.
  EmulatorOptions o;
  o.watch_cache_size = 2;
  KubeEmulator small(o);
  HttpClient c(small.port());
  const auto first = c.post(kConfigMaps, config_map("a")).json();
  for (const char* n : {"b", "c", "d"})
    c.post(kConfigMaps, config_map(n));
  WatchReader w(small.port(),
                std::string(kConfigMaps) + "?watch=true&resourceVersion=" + rv_of(first));
  EXPECT_EQ(type_of(w.next()), "ERROR");
}

TEST_F(WatchTest, ExpireNextWatchesForcesRelist) {
  const auto a = create(kConfigMaps, config_map("a"));
  emu_.expire_next_watches(1);
  {
    WatchReader w(emu_.port(),
                  std::string(kConfigMaps) + "?watch=true&resourceVersion=" + rv_of(a));
    EXPECT_EQ(type_of(w.next()), "ERROR");
  }
  WatchReader again(emu_.port(),
                    std::string(kConfigMaps) + "?watch=true&resourceVersion=" + rv_of(a));
  create(kConfigMaps, config_map("b"));
  EXPECT_EQ(name_of(again.next()), "b");
}

TEST_F(WatchTest, BookmarksCarryTheCurrentVersion) {
  EmulatorOptions o;
  o.bookmark_interval = milliseconds(50);
  KubeEmulator fast(o);
  const auto rv = std::to_string(fast.resource_version());
  WatchReader w(fast.port(), std::string(kConfigMaps) +
                                 "?watch=true&allowWatchBookmarks=true&resourceVersion=" + rv);
  auto e = w.next();
  ASSERT_EQ(type_of(e), "BOOKMARK");
  EXPECT_EQ((*e)["object"]["metadata"]["resourceVersion"], rv);
  EXPECT_EQ((*e)["object"]["kind"], "ConfigMap");
}

TEST_F(WatchTest, SendInitialEventsEndsWithAnnotatedBookmark) {
  create(kConfigMaps, config_map("a"));
  WatchReader w(emu_.port(), std::string(kConfigMaps) +
                                 "?watch=true&sendInitialEvents=true&resourceVersionMatch="
                                 "NotOlderThan&allowWatchBookmarks=true");
  EXPECT_EQ(type_of(w.next()), "ADDED");
  auto b = w.next();
  ASSERT_EQ(type_of(b), "BOOKMARK");
  EXPECT_EQ((*b)["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
}

TEST_F(WatchTest, TimeoutSecondsEndsTheStreamCleanly) {
  WatchReader w(emu_.port(), std::string(kConfigMaps) + "?watch=true&timeoutSeconds=1");
  EXPECT_TRUE(w.ended(std::chrono::seconds(5)));
}

TEST_F(WatchTest, DropWatchesClosesOpenStreams) {
  WatchReader w(emu_.port(), std::string(kConfigMaps) + "?watch=true&resourceVersion=" +
                                 std::to_string(emu_.resource_version()));
  ASSERT_TRUE(wait_until([&] { return emu_.open_watches() == 1; }, std::chrono::seconds(5)));
  emu_.drop_watches();
  EXPECT_TRUE(w.ended());
  EXPECT_TRUE(wait_until([&] { return emu_.open_watches() == 0; }, std::chrono::seconds(5)));
}

TEST_F(WatchTest, TableWatchSendsColumnsOnlyFirst) {
  install_widgets();
  WatchReader w(emu_.port(), std::string(kWidgets) + "?watch=true",
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json");
  create(kWidgets, widget("a", "red"));
  create(kWidgets, widget("b", "blue"));
  auto first = w.next();
  auto second = w.next();
  ASSERT_TRUE(first && second);
  EXPECT_EQ((*first)["object"]["kind"], "Table");
  EXPECT_EQ((*first)["object"]["columnDefinitions"].size(), 4u);
  EXPECT_TRUE((*second)["object"]["columnDefinitions"].empty());
  EXPECT_EQ((*second)["object"]["rows"][0]["cells"][1], "blue");
}

class FaultSwitchTest : public EmulatorTest {};

TEST_F(FaultSwitchTest, InjectedErrorsHitMatchingRequestsOnly) {
  emu_.inject_error("create", "configmaps", 429, 1, 3);
  auto r = http_.post(kConfigMaps, config_map("a"));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.headers["retry-after"], "3");
  EXPECT_EQ(r.json()["reason"], "TooManyRequests");
  EXPECT_EQ(http_.post(kConfigMaps, config_map("a")).status, 201);

  emu_.inject_error("*", "configmaps", 500, 2);
  EXPECT_EQ(http_.get(kConfigMaps).status, 500);
  EXPECT_EQ(http_.get("/api/v1/namespaces/default/secrets").status, 200);
  EXPECT_EQ(http_.get(std::string(kConfigMaps) + "/a").status, 500);
  EXPECT_EQ(http_.get(std::string(kConfigMaps) + "/a").status, 200);

  emu_.inject_error("update", "*", 409, 1);
  auto cm = http_.get(std::string(kConfigMaps) + "/a").json();
  r = http_.put(std::string(kConfigMaps) + "/a", cm);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.json()["reason"], "Conflict");
}

TEST_F(FaultSwitchTest, LatencyDelaysTheChosenVerb) {
  emu_.set_latency("list", milliseconds(300));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(http_.get(kConfigMaps).status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(300));
  emu_.set_latency("list", milliseconds(0));
}

TEST_F(FaultSwitchTest, ResetRestoresTheInitialState) {
  install_widgets();
  create(kConfigMaps, config_map("a"));
  emu_.inject_error("*", "*", 500, 100);
  const auto rv = emu_.resource_version();
  emu_.reset();
  EXPECT_GT(emu_.resource_version(), rv);
  EXPECT_EQ(http_.get(std::string(kConfigMaps) + "/a").status, 404);
  EXPECT_EQ(http_.get(kWidgets).status, 404);
  EXPECT_EQ(http_.get("/api/v1/namespaces/default").status, 200);
}

}  // namespace
}  // namespace kubefn::emulator::testing
