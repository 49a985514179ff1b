#include <future>

#include "emulator_client_fixture.hpp"

namespace kubefn::kube::testing {
namespace {

const GroupVersionResource kConfigMaps = resources::config_maps();

class WatchTest : public EmulatorClientTest {
 protected:
  std::unique_ptr<WatchStream> open(const ListOptions& options) {
    auto stream = client_->watch(kConfigMaps, "default", options);
    EXPECT_THAT(stream, IsOk());
    return stream.ok() ? std::move(*stream) : nullptr;
  }

  std::string current_version() {
    auto list = client_->list(kConfigMaps, "default", {});
    EXPECT_THAT(list, IsOk());
    return list->resource_version;
  }
};

TEST_F(WatchTest, ExpiredResourceVersionGivesErrorEvent) {
  const std::string version = current_version();
  ASSERT_THAT(client_->create(kConfigMaps, config_map("a", "1"), {}), IsOk());
  emulator_.compact();
  ListOptions options;
  options.resource_version = version;
  auto stream = client_->watch(kConfigMaps, "default", options);
  if (!stream.ok()) {
    EXPECT_THAT(stream, StatusIs(StatusCode::kGone));
    return;
  }
  auto event = (*stream)->next();
  ASSERT_THAT(event, IsOk());
  ASSERT_TRUE(event->has_value());
  EXPECT_EQ((*event)->type, WatchEvent::Type::kError);
  EXPECT_EQ((*event)->object["code"], 410);
}

TEST_F(WatchTest, StreamsChangesAsTheyHappen) {
  ListOptions options;
  options.resource_version = current_version();
  options.timeout_seconds = 30;
  auto stream = open(options);
  ASSERT_NE(stream, nullptr);

  ASSERT_THAT(client_->create(kConfigMaps, config_map("w", "1"), {}), IsOk());
  auto added = stream->next();
  ASSERT_TRUE(added.ok() && added->has_value()) << added.status().to_string();
  EXPECT_EQ((*added)->type, WatchEvent::Type::kAdded);
  EXPECT_EQ(object_name((*added)->object), "w");

  ASSERT_THAT(client_->patch({kConfigMaps, "default", "w"}, PatchType::kMerge,
                             {{"data", {{"value", "2"}}}}, {}),
              IsOk());
  auto modified = stream->next();
  ASSERT_TRUE(modified.ok() && modified->has_value());
  EXPECT_EQ((*modified)->type, WatchEvent::Type::kModified);
  EXPECT_EQ((*modified)->object["data"]["value"], "2");

  ASSERT_THAT(client_->remove({kConfigMaps, "default", "w"}, {}), IsOk());
  auto deleted = stream->next();
  ASSERT_TRUE(deleted.ok() && deleted->has_value());
  EXPECT_EQ((*deleted)->type, WatchEvent::Type::kDeleted);
}

TEST_F(WatchTest, ServerTimeoutEndsTheStreamCleanly) {
  ListOptions options;
  options.resource_version = current_version();
  options.timeout_seconds = 1;
  auto stream = open(options);
  ASSERT_NE(stream, nullptr);
  auto end = stream->next();
  ASSERT_THAT(end, IsOk());
  EXPECT_FALSE(end->has_value());
}

TEST_F(WatchTest, BookmarksCarryTheResourceVersion) {
  ListOptions options;
  options.resource_version = current_version();
  options.allow_watch_bookmarks = true;
  options.timeout_seconds = 10;
  auto stream = open(options);
  ASSERT_NE(stream, nullptr);
  auto event = stream->next();  // the emulator sends one per second
  ASSERT_TRUE(event.ok() && event->has_value()) << event.status().to_string();
  EXPECT_EQ((*event)->type, WatchEvent::Type::kBookmark);
  EXPECT_FALSE(object_resource_version((*event)->object).empty());
}

TEST_F(WatchTest, CancelUnblocksAWaitingReader) {
  ListOptions options;
  options.resource_version = current_version();
  options.timeout_seconds = 60;
  auto stream = open(options);
  ASSERT_NE(stream, nullptr);
  auto reader = std::async(std::launch::async, [&] { return stream->next(); });
  EXPECT_EQ(reader.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  stream->cancel();
  ASSERT_EQ(reader.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  auto result = reader.get();
  ASSERT_THAT(result, StatusIs(StatusCode::kCancelled));
}

TEST_F(WatchTest, DroppedStreamEnds) {
  ListOptions options;
  options.resource_version = current_version();
  options.timeout_seconds = 60;
  auto stream = open(options);
  ASSERT_NE(stream, nullptr);
  ASSERT_TRUE(wait_until([&] { return emulator_.open_watches() == 1; }, std::chrono::seconds(10)));
  emulator_.drop_watches();
  auto end = stream->next();
  // Cleanly ended or failed, but never blocked.
  EXPECT_TRUE(!end.ok() || !end->has_value());
}

}  // namespace
}  // namespace kubefn::kube::testing
