#include <gtest/gtest.h>

#include "kubefn/kube/kube_client.hpp"
#include "kubefn/kube/resource.hpp"
#include "kubefn/kube/watch_stream.hpp"

namespace kubefn::kube {
namespace {

TEST(WatchEvent, RejectsMalformedLines) {
  EXPECT_FALSE(parse_watch_event("").ok());
  EXPECT_FALSE(parse_watch_event("{not json").ok());
  EXPECT_FALSE(parse_watch_event(R"({"type":"ADDED"})").ok());
  EXPECT_FALSE(parse_watch_event(R"({"type":"RENAMED","object":{}})").ok());
}

TEST(WatchEvent, ParsesEveryType) {
  for (const auto& [text, type] : {std::pair{"ADDED", WatchEvent::Type::kAdded},
                                   {"MODIFIED", WatchEvent::Type::kModified},
                                   {"DELETED", WatchEvent::Type::kDeleted},
                                   {"BOOKMARK", WatchEvent::Type::kBookmark},
                                   {"ERROR", WatchEvent::Type::kError}}) {
    auto event = parse_watch_event(std::string(R"({"type":")") + text +
                                   R"(","object":{"metadata":{"resourceVersion":"7"}}})");
    ASSERT_TRUE(event.ok()) << text;
    EXPECT_EQ(event->type, type);
    EXPECT_EQ(to_string(event->type), text);
    EXPECT_EQ(object_resource_version(event->object), "7");
  }
}

TEST(Resource, BuildsPaths) {
  EXPECT_EQ(resources::config_maps().collection_path("ns"), "/api/v1/namespaces/ns/configmaps");
  EXPECT_EQ(resources::config_maps().collection_path(""), "/api/v1/configmaps");
  EXPECT_EQ(resources::namespaces().collection_path("ignored"), "/api/v1/namespaces");
  const ObjectRef ref{resources::deployments(), "ns", "web"};
  EXPECT_EQ(ref.path(), "/apis/apps/v1/namespaces/ns/deployments/web");
  EXPECT_EQ(ref.key(), "ns/web");
  EXPECT_EQ(resources::leases().qualified_name(), "leases.coordination.k8s.io");
}

TEST(ObjectMeta, ReadsMetadataSafely) {
  const nlohmann::json object = {{"metadata", {{"name", "a"}, {"namespace", "n"}}}};
  EXPECT_EQ(object_key(object), "n/a");
  EXPECT_EQ(object_key({{"metadata", {{"name", "cluster-wide"}}}}), "cluster-wide");
  EXPECT_EQ(object_name(nlohmann::json::array()), "");
  EXPECT_EQ(object_resource_version({{"metadata", 3}}), "");
}

}  // namespace
}  // namespace kubefn::kube
