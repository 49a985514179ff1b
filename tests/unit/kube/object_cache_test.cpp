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

}  // namespace
}  // namespace kubefn::kube
