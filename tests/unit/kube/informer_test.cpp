#include "kubefn/kube/informer.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include "kubefn/kube/fake_clock.hpp"
#include "kubefn/testing/fakes/fake_kube_client.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::kube {
namespace {

using kubefn::testing::FakeKubeClient;
using kubefn::testing::wait_until;
using nlohmann::json;
using std::chrono::seconds;

json config_map(const std::string& name, const std::string& value) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", "ns"}}},
          {"data", {{"value", value}}}};
}

WatchEvent event(WatchEvent::Type type, json object) {
  return WatchEvent{type, std::move(object)};
}

// Records handler calls as "add a", "update a", "delete a".
class Recorder {
 public:
  InformerHandlers handlers() {
    InformerHandlers handlers;
    handlers.on_add = [this](const json& o) { record("add " + object_name(o)); };
    handlers.on_update = [this](const json&, const json& o) { record("update " + object_name(o)); };
    handlers.on_delete = [this](const json& o) { record("delete " + object_name(o)); };
    return handlers;
  }
  std::vector<std::string> calls() const {
    std::lock_guard guard(mutex_);
    return calls_;
  }
  std::size_t size() const { return calls().size(); }

 private:
  void record(std::string call) {
    std::lock_guard guard(mutex_);
    calls_.push_back(std::move(call));
  }
  mutable std::mutex mutex_;
  std::vector<std::string> calls_;
};

InformerOptions options() {
  InformerOptions options;
  options.resource = resources::config_maps();
  options.ns = "ns";
  options.page_size = 2;  // forces pagination
  return options;
}

TEST(Informer, RetriesAFailedListWithBackoff) {
  FakeClock clock;
  FakeKubeClient client;
  client.put_object(resources::config_maps(), config_map("a", "1"));
  client.fail_next("list", Status(StatusCode::kInternalError, "down"));
  Recorder recorder;
  Informer informer(client, clock, options(), recorder.handlers());
  informer.start();
  ASSERT_TRUE(wait_until([&] { return clock.waiters() > 0; }, seconds(5)));
  EXPECT_FALSE(informer.has_synced());
  clock.advance(std::chrono::minutes(1));
  ASSERT_TRUE(informer.wait_for_sync(std::chrono::seconds(5)));
  EXPECT_EQ(recorder.calls(), std::vector<std::string>{"add a"});
}

TEST(Informer, ListsPagesThenAppliesWatchEventsWithoutDuplicates) {
  FakeClock clock;
  FakeKubeClient client;
  client.put_object(resources::config_maps(), config_map("a", "1"));
  const json b = client.put_object(resources::config_maps(), config_map("b", "1"));
  client.put_object(resources::config_maps(), config_map("c", "1"));

  json b2 = b;
  b2["data"]["value"] = "2";
  b2["metadata"]["resourceVersion"] = "2001";
  json d = config_map("d", "1");
  d["metadata"]["resourceVersion"] = "2002";
  json a_deleted = config_map("a", "1");
  a_deleted["metadata"]["resourceVersion"] = "2003";
  json bookmark = {{"kind", "ConfigMap"}, {"metadata", {{"resourceVersion", "2010"}}}};
  client.script_watch(
      {event(WatchEvent::Type::kModified, b2),
       event(WatchEvent::Type::kModified, b2),  // replayed: no second update
       event(WatchEvent::Type::kAdded, d), event(WatchEvent::Type::kDeleted, a_deleted),
       event(WatchEvent::Type::kDeleted, a_deleted),  // replayed: ignored
       event(WatchEvent::Type::kBookmark, bookmark)},
      /*hold_open=*/true);

  Recorder recorder;
  Informer informer(client, clock, options(), recorder.handlers());
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(std::chrono::seconds(5)));
  ASSERT_TRUE(wait_until([&] { return informer.last_resource_version() == "2010"; }, seconds(5)));

  EXPECT_EQ(recorder.calls(),
            (std::vector<std::string>{"add a", "add b", "add c", "update b", "add d", "delete a"}));
  EXPECT_EQ(informer.cache().size(), 3u);
  EXPECT_EQ((*informer.cache().get("ns", "b"))["data"]["value"], "2");
  EXPECT_EQ(informer.cache().get("ns", "a"), nullptr);
  EXPECT_EQ(client.calls("list"), 2) << "three objects in pages of two";
  const auto watches = client.watch_requests();
  ASSERT_EQ(watches.size(), 1u);
  EXPECT_EQ(watches[0].resource_version, "1003") << "the watch starts at the list's version";
  EXPECT_TRUE(watches[0].allow_watch_bookmarks);
  informer.stop();
}

TEST(Informer, TransformShapesWhatIsCachedAndHandled) {
  FakeClock clock;
  FakeKubeClient client;
  json fat = config_map("a", "1");
  fat["metadata"]["managedFields"] = json::array({{{"manager", "kubectl"}}});
  client.put_object(resources::config_maps(), fat);
  json later = config_map("b", "1");
  later["metadata"]["managedFields"] = json::array({{{"manager", "kubectl"}}});
  later["metadata"]["resourceVersion"] = "2001";
  client.script_watch({event(WatchEvent::Type::kAdded, later)}, /*hold_open=*/true);
  InformerOptions opts = options();
  opts.transform = [](json& o) { o["metadata"].erase("managedFields"); };
  std::vector<json> handled;
  std::mutex mu;
  InformerHandlers handlers;
  handlers.on_add = [&](const json& o) {
    std::lock_guard guard(mu);
    handled.push_back(o);
  };
  Informer informer(client, clock, opts, handlers);
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(std::chrono::seconds(5)));
  ASSERT_TRUE(wait_until([&] { return informer.cache().size() == 2; }, seconds(5)));
  for (const char* name : {"a", "b"}) {
    auto cached = informer.cache().get("ns", name);
    ASSERT_NE(cached, nullptr);
    EXPECT_FALSE((*cached)["metadata"].contains("managedFields")) << name;
    EXPECT_EQ((*cached)["data"]["value"], "1");
  }
  std::lock_guard guard(mu);
  ASSERT_EQ(handled.size(), 2u);
  for (const auto& o : handled)
    EXPECT_FALSE(o["metadata"].contains("managedFields"));
  informer.stop();
}

TEST(Informer, ExpiredWatchRelistsAndReportsOnlyTheDifference) {
  FakeClock clock;
  FakeKubeClient client;
  client.put_object(resources::config_maps(), config_map("keep", "1"));
  client.put_object(resources::config_maps(), config_map("change", "1"));
  client.put_object(resources::config_maps(), config_map("remove", "1"));
  json expired = {{"kind", "Status"}, {"code", 410}, {"reason", "Expired"}};
  client.script_watch({event(WatchEvent::Type::kError, expired)}, /*hold_open=*/false);

  Recorder recorder;
  std::atomic<bool> changed{false};
  InformerHandlers handlers = recorder.handlers();
  // While the first watch is failing, the world changes behind the informer's back.
  auto on_add = handlers.on_add;
  handlers.on_add = [&, on_add](const json& o) {
    on_add(o);
    if (object_name(o) == "remove" && !changed.exchange(true)) {
      client.erase_object({resources::config_maps(), "ns", "remove"});
      client.put_object(resources::config_maps(), config_map("change", "2"));
      client.put_object(resources::config_maps(), config_map("new", "1"));
    }
  };
  Informer informer(client, clock, options(), handlers);
  informer.start();
  ASSERT_TRUE(wait_until([&] { return recorder.size() == 6; }, seconds(5)));
  const auto calls = recorder.calls();
  const std::vector<std::string> first_list(calls.begin(), calls.begin() + 3);
  EXPECT_EQ(first_list, (std::vector<std::string>{"add change", "add keep", "add remove"}));
  const std::vector<std::string> relist(calls.begin() + 3, calls.end());
  EXPECT_EQ(relist, (std::vector<std::string>{"delete remove", "update change", "add new"}));
  EXPECT_EQ(informer.lists(), 2u);
  EXPECT_EQ(informer.cache().size(), 3u);
}

TEST(Informer, CleanlyClosedWatchResumesFromLastVersion) {
  FakeClock clock;
  FakeKubeClient client;
  json x = config_map("x", "1");
  x["metadata"]["resourceVersion"] = "5000";
  client.script_watch({event(WatchEvent::Type::kAdded, x)}, /*hold_open=*/false);
  Recorder recorder;
  Informer informer(client, clock, options(), recorder.handlers());
  informer.start();
  ASSERT_TRUE(wait_until([&] { return client.watch_requests().size() == 2; }, seconds(5)));
  EXPECT_EQ(client.watch_requests()[1].resource_version, "5000");
  EXPECT_EQ(client.calls("list"), 1) << "no relist after a clean close";
  EXPECT_EQ(recorder.calls(), std::vector<std::string>{"add x"});
}

TEST(Informer, ResyncRedeliversCachedObjectsOnTheClock) {
  FakeClock clock;
  FakeKubeClient client;
  client.put_object(resources::config_maps(), config_map("a", "1"));
  Recorder recorder;
  InformerOptions resyncing = options();
  resyncing.resync_period = std::chrono::seconds(30);
  Informer informer(client, clock, resyncing, recorder.handlers());
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(std::chrono::seconds(5)));
  ASSERT_TRUE(wait_until([&] { return clock.waiters() > 0; }, seconds(5)));
  clock.advance(std::chrono::seconds(29));
  EXPECT_EQ(recorder.size(), 1u);
  clock.advance(std::chrono::seconds(1));
  ASSERT_TRUE(wait_until([&] { return recorder.size() == 2; }, seconds(5)));
  EXPECT_EQ(recorder.calls()[1], "update a");
}

}  // namespace
}  // namespace kubefn::kube
