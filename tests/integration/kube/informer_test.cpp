#include "kubefn/kube/informer.hpp"

#include <iostream>
#include <map>
#include <mutex>

#include "emulator_client_fixture.hpp"

namespace kubefn::kube::testing {
namespace {

using nlohmann::json;

const GroupVersionResource kConfigMaps = resources::config_maps();

// Replays handler calls onto a model of the world and counts calls that contradict it: an add
// of a key already known, an update or delete of an unknown key, or an update that changes
// nothing. A lost or duplicated event shows up here or in the final comparison.
class HandlerModel {
 public:
  InformerHandlers handlers() {
    InformerHandlers handlers;
    handlers.on_add = [this](const json& object) {
      std::lock_guard guard(mutex_);
      if (!versions_.emplace(object_key(object), object_resource_version(object)).second) {
        ++violations_;
      }
    };
    handlers.on_update = [this](const json& previous, const json& object) {
      std::lock_guard guard(mutex_);
      auto found = versions_.find(object_key(object));
      if (found == versions_.end() || found->second != object_resource_version(previous) ||
          object_resource_version(previous) == object_resource_version(object)) {
        ++violations_;
        return;
      }
      found->second = object_resource_version(object);
    };
    handlers.on_delete = [this](const json& object) {
      std::lock_guard guard(mutex_);
      if (versions_.erase(object_key(object)) == 0) ++violations_;
    };
    return handlers;
  }

  std::map<std::string, std::string> versions() const {
    std::lock_guard guard(mutex_);
    return versions_;
  }
  int violations() const {
    std::lock_guard guard(mutex_);
    return violations_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::string> versions_;
  int violations_ = 0;
};

std::map<std::string, std::string> versions_of(const std::vector<ObjectSnapshot>& objects) {
  std::map<std::string, std::string> out;
  for (const auto& object : objects)
    out[object_key(*object)] = object_resource_version(*object);
  return out;
}

class InformerTest : public EmulatorClientTest {
 protected:
  InformerOptions options() const {
    InformerOptions options;
    options.resource = kConfigMaps;
    options.ns = "default";
    options.page_size = 50;
    options.min_watch_timeout = std::chrono::seconds(1);
    options.max_watch_timeout = std::chrono::seconds(3);
    options.error_backoff = Backoff{std::chrono::milliseconds(10), std::chrono::milliseconds(200)};
    return options;
  }

  // The server's state, read in-process so that injected faults do not get in the way.
  std::map<std::string, std::string> server_versions() {
    std::map<std::string, std::string> out;
    auto reply = emulator_.call("GET", "/api/v1/namespaces/default/configmaps");
    EXPECT_EQ(reply.status, 200) << reply.body.dump();
    for (const auto& item : reply.body["items"]) {
      out[object_key(item)] = object_resource_version(item);
    }
    return out;
  }
};

TEST_F(InformerTest, DroppedWatchResumesWithoutRelisting) {
  ASSERT_THAT(client_->create(kConfigMaps, config_map("before", "1"), {}), IsOk());
  HandlerModel model;
  Informer informer(*client_, clock_, options(), model.handlers());
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(std::chrono::seconds(10)));
  ASSERT_TRUE(wait_until([&] { return emulator_.open_watches() == 1; }, std::chrono::seconds(10)));
  emulator_.drop_watches();
  ASSERT_THAT(client_->create(kConfigMaps, config_map("after", "1"), {}), IsOk());
  ASSERT_TRUE(wait_until([&] { return informer.cache().get("default", "after") != nullptr; },
                         std::chrono::seconds(10)));
  EXPECT_EQ(informer.lists(), 1u) << "a dropped watch resumes from the last resourceVersion";
  EXPECT_GE(informer.watches(), 2u);
  EXPECT_EQ(model.violations(), 0);
}

TEST_F(InformerTest, CompactionForcesARelist) {
  HandlerModel model;
  Informer informer(*client_, clock_, options(), model.handlers());
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(std::chrono::seconds(10)));
  ASSERT_TRUE(wait_until([&] { return emulator_.open_watches() == 1; }, std::chrono::seconds(10)));
  emulator_.expire_next_watches(1);
  emulator_.drop_watches();
  ASSERT_THAT(client_->create(kConfigMaps, config_map("late", "1"), {}), IsOk());
  ASSERT_TRUE(wait_until([&] { return informer.cache().get("default", "late") != nullptr; },
                         std::chrono::seconds(10)));
  EXPECT_GE(informer.lists(), 2u);
  EXPECT_EQ(model.violations(), 0);
  EXPECT_EQ(model.versions(), server_versions());
}

TEST_F(InformerTest, CacheEndsEqualToServerThroughDropsExpiryAndErrors) {
  for (int i = 0; i < 40; ++i) {
    ASSERT_THAT(client_->create(kConfigMaps, config_map("seed-" + std::to_string(i), "0"), {}),
                IsOk());
  }
  HandlerModel model;
  Informer informer(*client_, clock_, options(), model.handlers());
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(std::chrono::seconds(10)));

  for (int step = 0; step < 150; ++step) {
    const std::string name = "obj-" + std::to_string(step % 30);
    const ObjectRef ref{kConfigMaps, "default", name};
    switch (step % 3) {
      case 0:
        // Writes of the stream may fail (a patch of a removed object): what counts is that
        // the cache ends equal to the API, checked below.
        (void)client_->create(kConfigMaps, config_map(name, std::to_string(step)), {});
        break;
      case 1:
        (void)client_->patch(ref, PatchType::kMerge, {{"data", {{"value", std::to_string(step)}}}},
                             {});
        break;
      default:
        if (step % 9 == 2) (void)client_->remove(ref, {});
        break;
    }
    if (step % 10 == 0)
      (void)client_->remove({kConfigMaps, "default", "seed-" + std::to_string(step / 10)}, {});
    switch (step % 25) {
      case 5:
        emulator_.drop_watches();
        break;
      case 10:
        emulator_.compact();
        emulator_.drop_watches();
        break;
      case 15:
        emulator_.expire_next_watches(2);
        emulator_.drop_watches();
        break;
      case 20:
        emulator_.inject_error("watch", "configmaps", 500, 2);
        emulator_.drop_watches();
        break;
      case 24:
        emulator_.inject_error("list", "configmaps", 500, 1);
        emulator_.compact();
        break;
      default:
        break;
    }
  }

  const bool converged = wait_until(
      [&] {
        const auto server = server_versions();
        return versions_of(informer.cache().list()) == server && model.versions() == server;
      },
      std::chrono::seconds(20));
  EXPECT_TRUE(converged);
  EXPECT_EQ(model.violations(), 0) << "a handler saw a duplicated or out-of-order event";
  EXPECT_EQ(informer.cache().list_labelled("app", "test").size(), informer.cache().size());
  EXPECT_GE(informer.lists(), 2u) << "the compactions forced relists";
}

TEST_F(InformerTest, SyncsThousandsOfObjectsQuickly) {
  constexpr int kObjects = 3000;
  for (int i = 0; i < kObjects; ++i) {
    auto reply = emulator_.call("POST", "/api/v1/namespaces/default/configmaps",
                                config_map("bulk-" + std::to_string(i), "v"));
    ASSERT_EQ(reply.status, 201);
  }
  HandlerModel model;
  InformerOptions bulk = options();
  bulk.page_size = 500;
  Informer informer(*client_, clock_, bulk, model.handlers());
  const auto started = std::chrono::steady_clock::now();
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(std::chrono::seconds(30)));
  const auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(informer.cache().size(), static_cast<std::size_t>(kObjects));
  EXPECT_EQ(model.versions().size(), static_cast<std::size_t>(kObjects));
  std::cout << "synced " << kObjects << " objects in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms\n";
}

}  // namespace
}  // namespace kubefn::kube::testing
