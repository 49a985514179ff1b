#include "kubefn/kube/object_cache.hpp"

#include <gtest/gtest.h>

namespace kubefn::kube {
namespace {

ObjectSnapshot make(const std::string& ns, const std::string& name, nlohmann::json labels) {
  return std::make_shared<const nlohmann::json>(nlohmann::json{
      {"metadata", {{"namespace", ns}, {"name", name}, {"labels", std::move(labels)}}}});
}

TEST(ObjectCache, MissingKeysGiveNull) {
  ObjectCache cache;
  EXPECT_EQ(cache.get("ns/absent"), nullptr);
  EXPECT_EQ(cache.erase("ns/absent"), nullptr);
  EXPECT_TRUE(cache.list_namespace("ns").empty());
  EXPECT_TRUE(cache.list_labelled("app", "x").empty());
}

TEST(ObjectCache, IndexesByNamespaceAndLabel) {
  ObjectCache cache;
  cache.upsert(make("a", "one", {{"app", "web"}}));
  cache.upsert(make("a", "two", {{"app", "db"}}));
  cache.upsert(make("b", "three", {{"app", "web"}}));
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.list_namespace("a").size(), 2u);
  EXPECT_EQ(cache.list_labelled("app", "web").size(), 2u);
  ASSERT_NE(cache.get("a", "two"), nullptr);

  // Relabelling moves the object between label indexes.
  auto previous = cache.upsert(make("a", "one", {{"app", "db"}}));
  ASSERT_NE(previous, nullptr);
  EXPECT_EQ(cache.list_labelled("app", "web").size(), 1u);
  EXPECT_EQ(cache.list_labelled("app", "db").size(), 2u);

  cache.erase("a/two");
  EXPECT_EQ(cache.list_labelled("app", "db").size(), 1u);
  EXPECT_EQ(cache.list_namespace("a").size(), 1u);
  EXPECT_EQ(cache.size(), 2u);
}

TEST(ObjectCache, CompactCacheGivesBackWhatWasStored) {
  ObjectCache cache(ObjectCacheOptions{std::nullopt, true});
  auto stored = std::make_shared<const nlohmann::json>(nlohmann::json{
      {"metadata", {{"namespace", "a"}, {"name", "one"}, {"labels", {{"app", "web"}}}}},
      {"spec", {{"replicas", 3}, {"ratio", 0.5}, {"on", true}, {"none", nullptr}}},
      {"status", {{"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}});
  EXPECT_EQ(cache.upsert(stored), nullptr);
  const auto got = cache.get("a", "one");
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(*got, *stored);
  EXPECT_EQ(got->dump(), stored->dump());
  ASSERT_EQ(cache.list_labelled("app", "web").size(), 1u);
  EXPECT_EQ(*cache.list_labelled("app", "web")[0], *stored);
  ASSERT_EQ(cache.list().size(), 1u);
  EXPECT_EQ(*cache.list()[0], *stored);

  auto previous = cache.upsert(make("a", "one", {{"app", "db"}}));
  ASSERT_NE(previous, nullptr);
  EXPECT_EQ(*previous, *stored);
  EXPECT_TRUE(cache.list_labelled("app", "web").empty());
  auto gone = cache.erase("a/one");
  ASSERT_NE(gone, nullptr);
  EXPECT_EQ((*gone)["metadata"]["labels"]["app"], "db");
  EXPECT_EQ(cache.size(), 0u);
}

TEST(ObjectCache, IndexesOnlyTheLabelsNamed) {
  ObjectCache cache(ObjectCacheOptions{std::vector<std::string>{"app"}, false});
  cache.upsert(make("a", "one", {{"app", "web"}, {"tier", "front"}}));
  EXPECT_EQ(cache.list_labelled("app", "web").size(), 1u);
  EXPECT_TRUE(cache.list_labelled("tier", "front").empty());
  cache.erase("a/one");
  EXPECT_TRUE(cache.list_labelled("app", "web").empty());

  ObjectCache unindexed(ObjectCacheOptions{std::vector<std::string>{}, false});
  unindexed.upsert(make("a", "one", {{"app", "web"}}));
  EXPECT_TRUE(unindexed.list_labelled("app", "web").empty());
  EXPECT_NE(unindexed.get("a/one"), nullptr);
  EXPECT_EQ(unindexed.list_namespace("a").size(), 1u);
}

}  // namespace
}  // namespace kubefn::kube
