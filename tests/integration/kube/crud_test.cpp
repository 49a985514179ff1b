#include <set>

#include "emulator_client_fixture.hpp"

namespace kubefn::kube::testing {
namespace {

using nlohmann::json;

const GroupVersionResource kConfigMaps = resources::config_maps();

class CrudTest : public EmulatorClientTest {};

TEST_F(CrudTest, GetOfMissingObjectIsNotFound) {
  auto got = client_->get({kConfigMaps, "default", "absent"});
  ASSERT_FALSE(got.ok());
  EXPECT_TRUE(got.status().is_not_found()) << got.status().to_string();
  EXPECT_EQ(got.status().http_status(), 404);
}

TEST_F(CrudTest, CreateTwiceIsAlreadyExists) {
  ASSERT_TRUE(client_->create(kConfigMaps, config_map("dup", "1"), {}).ok());
  auto again = client_->create(kConfigMaps, config_map("dup", "1"), {});
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.status().is_already_exists()) << again.status().to_string();
}

TEST_F(CrudTest, CreateInMissingNamespaceIsNotFound) {
  auto created = client_->create(kConfigMaps, config_map("x", "1", "no-such-namespace"), {});
  ASSERT_FALSE(created.ok());
  EXPECT_TRUE(created.status().is_not_found()) << created.status().to_string();
}

TEST_F(CrudTest, StaleUpdateIsConflict) {
  auto created = client_->create(kConfigMaps, config_map("cas", "1"), {});
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  json first = *created;
  first["data"]["value"] = "2";
  auto updated = client_->update(kConfigMaps, first, {});
  ASSERT_TRUE(updated.ok()) << updated.status().to_string();
  EXPECT_NE(object_resource_version(*updated), object_resource_version(*created));

  json stale = *created;  // still carries the first resourceVersion
  stale["data"]["value"] = "3";
  auto conflicted = client_->update(kConfigMaps, stale, {});
  ASSERT_FALSE(conflicted.ok());
  EXPECT_TRUE(conflicted.status().is_conflict()) << conflicted.status().to_string();
  EXPECT_EQ((*client_->get({kConfigMaps, "default", "cas"}))["data"]["value"], "2");
}

TEST_F(CrudTest, CreateGetUpdateDeleteRoundTrip) {
  auto created = client_->create(kConfigMaps, config_map("round", "1"), {"kubefn-test"});
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  EXPECT_FALSE(object_resource_version(*created).empty());
  auto got = client_->get({kConfigMaps, "default", "round"});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)["data"]["value"], "1");
  auto removed = client_->remove({kConfigMaps, "default", "round"}, {});
  ASSERT_TRUE(removed.ok()) << removed.status().to_string();
  EXPECT_TRUE(client_->get({kConfigMaps, "default", "round"}).status().is_not_found());
}

TEST_F(CrudTest, ObjectWithoutNamespaceGoesToDefaultNamespace) {
  json object = config_map("defaulted", "1");
  object["metadata"].erase("namespace");
  ASSERT_TRUE(client_->create(kConfigMaps, object, {}).ok());
  EXPECT_TRUE(client_->get({kConfigMaps, "default", "defaulted"}).ok());
}

TEST_F(CrudTest, ClusterScopedResources) {
  const GroupVersionResource namespaces = resources::namespaces();
  json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "team-x"}}}};
  ASSERT_TRUE(client_->create(namespaces, ns, {}).ok());
  auto got = client_->get({namespaces, "", "team-x"});
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(object_name(*got), "team-x");
  ASSERT_TRUE(client_->create(kConfigMaps, config_map("inside", "1", "team-x"), {}).ok());
  auto all = client_->list(kConfigMaps, "", {});
  ASSERT_TRUE(all.ok());
  bool found = false;
  for (const auto& item : all->items)
    found |= object_key(item) == "team-x/inside";
  EXPECT_TRUE(found) << "an empty namespace lists across all namespaces";
}

TEST_F(CrudTest, ListPaginatesWithContinueTokens) {
  for (int i = 0; i < 25; ++i) {
    ASSERT_TRUE(
        client_->create(kConfigMaps, config_map("page-" + std::to_string(i), "v"), {}).ok());
  }
  std::set<std::string> names;
  ListOptions options;
  options.limit = 10;
  options.label_selector = "app=test";
  int pages = 0;
  do {
    auto page = client_->list(kConfigMaps, "default", options);
    ASSERT_TRUE(page.ok()) << page.status().to_string();
    EXPECT_LE(page->items.size(), 10u);
    for (const auto& item : page->items)
      EXPECT_TRUE(names.insert(object_name(item)).second);
    EXPECT_FALSE(page->resource_version.empty());
    options.continue_token = page->continue_token;
    ++pages;
  } while (!options.continue_token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(names.size(), 25u);
}

TEST_F(CrudTest, ExpiredContinueTokenIsGone) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client_->create(kConfigMaps, config_map("c-" + std::to_string(i), "v"), {}).ok());
  }
  ListOptions options;
  options.limit = 2;
  auto first = client_->list(kConfigMaps, "default", options);
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(first->continue_token.empty());
  // The history the token points into is written over, then compacted away.
  ASSERT_TRUE(client_->create(kConfigMaps, config_map("later", "v"), {}).ok());
  emulator_.compact();
  options.continue_token = first->continue_token;
  auto next = client_->list(kConfigMaps, "default", options);
  ASSERT_FALSE(next.ok());
  EXPECT_TRUE(next.status().is_gone()) << next.status().to_string();
}

TEST_F(CrudTest, MergeJsonAndApplyPatches) {
  ASSERT_TRUE(client_->create(kConfigMaps, config_map("patched", "1"), {}).ok());
  const ObjectRef ref{kConfigMaps, "default", "patched"};

  auto merged = client_->patch(ref, PatchType::kMerge, {{"data", {{"extra", "x"}}}}, {});
  ASSERT_TRUE(merged.ok()) << merged.status().to_string();
  EXPECT_EQ((*merged)["data"]["value"], "1");
  EXPECT_EQ((*merged)["data"]["extra"], "x");

  auto json_patched =
      client_->patch(ref, PatchType::kJson,
                     json::array({{{"op", "replace"}, {"path", "/data/value"}, {"value", "2"}},
                                  {{"op", "remove"}, {"path", "/data/extra"}}}),
                     {});
  ASSERT_TRUE(json_patched.ok()) << json_patched.status().to_string();
  EXPECT_EQ((*json_patched)["data"]["value"], "2");
  EXPECT_FALSE((*json_patched)["data"].contains("extra"));

  json applied = config_map("patched", "3");
  auto missing_manager = client_->patch(ref, PatchType::kApply, applied, {});
  EXPECT_FALSE(missing_manager.ok()) << "server-side apply needs a field manager";
  auto apply = client_->patch(ref, PatchType::kApply, applied, {"kubefn-test", true, ""});
  ASSERT_TRUE(apply.ok()) << apply.status().to_string();
  EXPECT_EQ((*apply)["data"]["value"], "3");

  // Apply also creates.
  auto created = client_->patch({kConfigMaps, "default", "applied-new"}, PatchType::kApply,
                                config_map("applied-new", "a"), {"kubefn-test", false, ""});
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  EXPECT_TRUE(client_->get({kConfigMaps, "default", "applied-new"}).ok());
}

TEST_F(CrudTest, PatchOfMissingObjectIsNotFound) {
  auto patched = client_->patch({kConfigMaps, "default", "ghost"}, PatchType::kMerge,
                                {{"data", {{"a", "b"}}}}, {});
  ASSERT_FALSE(patched.ok());
  EXPECT_TRUE(patched.status().is_not_found());
}

TEST_F(CrudTest, DeleteHonoursPreconditions) {
  auto created = client_->create(kConfigMaps, config_map("guarded", "1"), {});
  ASSERT_TRUE(created.ok());
  const ObjectRef ref{kConfigMaps, "default", "guarded"};
  const std::string uid = (*created)["metadata"]["uid"];

  DeleteOptions wrong_uid;
  wrong_uid.precondition_uid = "00000000-0000-0000-0000-000000000000";
  auto refused = client_->remove(ref, wrong_uid);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().is_conflict()) << refused.status().to_string();

  DeleteOptions stale_version;
  stale_version.precondition_resource_version = "1";
  auto refused_again = client_->remove(ref, stale_version);
  ASSERT_FALSE(refused_again.ok());
  EXPECT_TRUE(refused_again.status().is_conflict()) << refused_again.status().to_string();
  EXPECT_TRUE(client_->get(ref).ok());

  DeleteOptions exact;
  exact.precondition_uid = uid;
  exact.precondition_resource_version = object_resource_version(*created);
  exact.propagation_policy = PropagationPolicy::kBackground;
  auto removed = client_->remove(ref, exact);
  ASSERT_TRUE(removed.ok()) << removed.status().to_string();
  EXPECT_TRUE(client_->get(ref).status().is_not_found());
  EXPECT_TRUE(client_->remove(ref, {}).status().is_not_found());
}

TEST_F(CrudTest, DeleteWithFinalizersReturnsTheObject) {
  json object = config_map("finalized", "1");
  object["metadata"]["finalizers"] = {"kubefn.dev/cleanup"};
  ASSERT_TRUE(client_->create(kConfigMaps, object, {}).ok());
  const ObjectRef ref{kConfigMaps, "default", "finalized"};
  auto removed = client_->remove(ref, {});
  ASSERT_TRUE(removed.ok()) << removed.status().to_string();
  EXPECT_TRUE((*removed)["metadata"].contains("deletionTimestamp"));
  auto removed_finalizer =
      client_->patch(ref, PatchType::kJson,
                     json::array({{{"op", "remove"}, {"path", "/metadata/finalizers"}}}), {});
  ASSERT_TRUE(removed_finalizer.ok()) << removed_finalizer.status().to_string();
  EXPECT_TRUE(eventually([&] { return client_->get(ref).status().is_not_found(); }));
}

emulator::EmulatorOptions without_deployment_controller() {
  emulator::EmulatorOptions options;
  // Its status writes would race the resourceVersion this test reads and writes back.
  options.deployment_controller = false;
  return options;
}

class ScaleTest : public EmulatorClientTest {
 protected:
  ScaleTest() : EmulatorClientTest(without_deployment_controller()) {}
};

TEST_F(ScaleTest, DeploymentScaleSubresource) {
  json deployment = json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":"web","namespace":"default"},
    "spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},
      "template":{"metadata":{"labels":{"app":"web"}},
        "spec":{"containers":[{"name":"web","image":"nginx:1.27"}]}}}})");
  ASSERT_TRUE(client_->create(resources::deployments(), deployment, {}).ok());
  const ObjectRef ref{resources::deployments(), "default", "web"};

  auto scale = client_->get_scale(ref);
  ASSERT_TRUE(scale.ok()) << scale.status().to_string();
  EXPECT_EQ((*scale)["kind"], "Scale");
  EXPECT_EQ((*scale)["spec"]["replicas"], 1);

  (*scale)["spec"]["replicas"] = 4;
  auto updated = client_->update_scale(ref, *scale);
  ASSERT_TRUE(updated.ok()) << updated.status().to_string();
  EXPECT_EQ((*updated)["spec"]["replicas"], 4);
  EXPECT_EQ((*client_->get(ref))["spec"]["replicas"], 4);

  // A stale Scale is refused like any stale write.
  auto stale = client_->update_scale(ref, *scale);
  ASSERT_FALSE(stale.ok());
  EXPECT_TRUE(stale.status().is_conflict()) << stale.status().to_string();

  PatchOptions on_scale;
  on_scale.subresource = "scale";
  auto patched = client_->patch(ref, PatchType::kMerge, {{"spec", {{"replicas", 0}}}}, on_scale);
  ASSERT_TRUE(patched.ok()) << patched.status().to_string();
  EXPECT_EQ((*client_->get(ref))["spec"]["replicas"], 0);
}

TEST_F(CrudTest, CustomResourceStatusAndScale) {
  install_gadgets();
  auto created = client_->create(kGadgets, gadget("g1", 1), {});
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  const ObjectRef ref{kGadgets, "default", "g1"};
  EXPECT_EQ((*created)["metadata"]["generation"], 1);

  // /status takes only the status: the spec change is ignored and generation stays.
  json with_status = *created;
  with_status["status"] = {{"replicas", 1}, {"observedGeneration", 1}};
  with_status["spec"]["color"] = "blue";
  auto status_written = client_->update_status(kGadgets, with_status, {});
  ASSERT_TRUE(status_written.ok()) << status_written.status().to_string();
  EXPECT_EQ((*status_written)["status"]["replicas"], 1);
  EXPECT_EQ((*status_written)["spec"]["color"], "red");
  EXPECT_EQ((*status_written)["metadata"]["generation"], 1);

  // The main endpoint ignores status and bumps generation on a spec change.
  json spec_change = *status_written;
  spec_change["spec"]["color"] = "green";
  spec_change["status"]["replicas"] = 99;
  auto updated = client_->update(kGadgets, spec_change, {});
  ASSERT_TRUE(updated.ok()) << updated.status().to_string();
  EXPECT_EQ((*updated)["spec"]["color"], "green");
  EXPECT_EQ((*updated)["status"]["replicas"], 1);
  EXPECT_EQ((*updated)["metadata"]["generation"], 2);

  // A stale status write conflicts.
  auto stale = client_->update_status(kGadgets, with_status, {});
  ASSERT_FALSE(stale.ok());
  EXPECT_TRUE(stale.status().is_conflict());

  PatchOptions status_patch;
  status_patch.subresource = "status";
  auto patched =
      client_->patch(ref, PatchType::kMerge, {{"status", {{"ready", true}}}}, status_patch);
  ASSERT_TRUE(patched.ok()) << patched.status().to_string();
  EXPECT_EQ((*patched)["status"]["ready"], true);

  auto scale = client_->get_scale(ref);
  ASSERT_TRUE(scale.ok()) << scale.status().to_string();
  EXPECT_EQ((*scale)["spec"]["replicas"], 1);
  (*scale)["spec"]["replicas"] = 3;
  ASSERT_TRUE(client_->update_scale(ref, *scale).ok());
  EXPECT_EQ((*client_->get(ref))["spec"]["replicas"], 3);
}

}  // namespace
}  // namespace kubefn::kube::testing
