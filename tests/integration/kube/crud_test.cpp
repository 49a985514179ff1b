#include <set>

#include "emulator_client_fixture.hpp"

namespace kubefn::kube::testing {
namespace {

using nlohmann::json;

const GroupVersionResource kConfigMaps = resources::config_maps();

class CrudTest : public EmulatorClientTest {};

TEST_F(CrudTest, GetOfMissingObjectIsNotFound) {
  auto got = client_->get({kConfigMaps, "default", "absent"});
  ASSERT_THAT(got, StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(got.status().http_status(), 404);
}

TEST_F(CrudTest, CreateTwiceIsAlreadyExists) {
  ASSERT_THAT(client_->create(kConfigMaps, config_map("dup", "1"), {}), IsOk());
  auto again = client_->create(kConfigMaps, config_map("dup", "1"), {});
  ASSERT_THAT(again, StatusIs(StatusCode::kAlreadyExists));
}

TEST_F(CrudTest, CreateInMissingNamespaceIsNotFound) {
  auto created = client_->create(kConfigMaps, config_map("x", "1", "no-such-namespace"), {});
  ASSERT_THAT(created, StatusIs(StatusCode::kNotFound));
}

TEST_F(CrudTest, StaleUpdateIsConflict) {
  auto created = client_->create(kConfigMaps, config_map("cas", "1"), {});
  ASSERT_THAT(created, IsOk());
  json first = *created;
  first["data"]["value"] = "2";
  auto updated = client_->update(kConfigMaps, first, {});
  ASSERT_THAT(updated, IsOk());
  EXPECT_NE(object_resource_version(*updated), object_resource_version(*created));

  json stale = *created;  // still carries the first resourceVersion
  stale["data"]["value"] = "3";
  auto conflicted = client_->update(kConfigMaps, stale, {});
  ASSERT_THAT(conflicted, StatusIs(StatusCode::kConflict));
  EXPECT_EQ((*client_->get({kConfigMaps, "default", "cas"}))["data"]["value"], "2");
}

TEST_F(CrudTest, CreateGetUpdateDeleteRoundTrip) {
  auto created = client_->create(kConfigMaps, config_map("round", "1"), {"kubefn-test"});
  ASSERT_THAT(created, IsOk());
  EXPECT_FALSE(object_resource_version(*created).empty());
  auto got = client_->get({kConfigMaps, "default", "round"});
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ((*got)["data"]["value"], "1");
  auto removed = client_->remove({kConfigMaps, "default", "round"}, {});
  ASSERT_THAT(removed, IsOk());
  EXPECT_THAT(client_->get({kConfigMaps, "default", "round"}), StatusIs(StatusCode::kNotFound));
}

TEST_F(CrudTest, ObjectWithoutNamespaceGoesToDefaultNamespace) {
  json object = config_map("defaulted", "1");
  object["metadata"].erase("namespace");
  ASSERT_THAT(client_->create(kConfigMaps, object, {}), IsOk());
  EXPECT_THAT(client_->get({kConfigMaps, "default", "defaulted"}), IsOk());
}

TEST_F(CrudTest, ClusterScopedResources) {
  const GroupVersionResource namespaces = resources::namespaces();
  json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "team-x"}}}};
  ASSERT_THAT(client_->create(namespaces, ns, {}), IsOk());
  auto got = client_->get({namespaces, "", "team-x"});
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(object_name(*got), "team-x");
  ASSERT_THAT(client_->create(kConfigMaps, config_map("inside", "1", "team-x"), {}), IsOk());
  auto all = client_->list(kConfigMaps, "", {});
  ASSERT_THAT(all, IsOk());
  bool found = false;
  for (const auto& item : all->items)
    found |= object_key(item) == "team-x/inside";
  EXPECT_TRUE(found) << "an empty namespace lists across all namespaces";
}

TEST_F(CrudTest, ListPaginatesWithContinueTokens) {
  for (int i = 0; i < 25; ++i) {
    ASSERT_THAT(client_->create(kConfigMaps, config_map("page-" + std::to_string(i), "v"), {}),
                IsOk());
  }
  std::set<std::string> names;
  ListOptions options;
  options.limit = 10;
  options.label_selector = "app=test";
  int pages = 0;
  do {
    auto page = client_->list(kConfigMaps, "default", options);
    ASSERT_THAT(page, IsOk());
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
    ASSERT_THAT(client_->create(kConfigMaps, config_map("c-" + std::to_string(i), "v"), {}),
                IsOk());
  }
  ListOptions options;
  options.limit = 2;
  auto first = client_->list(kConfigMaps, "default", options);
  ASSERT_THAT(first, IsOk());
  ASSERT_FALSE(first->continue_token.empty());
  // The history the token points into is written over, then compacted away.
  ASSERT_THAT(client_->create(kConfigMaps, config_map("later", "v"), {}), IsOk());
  emulator_.compact();
  options.continue_token = first->continue_token;
  auto next = client_->list(kConfigMaps, "default", options);
  ASSERT_THAT(next, StatusIs(StatusCode::kGone));
}

TEST_F(CrudTest, MergeJsonAndApplyPatches) {
  ASSERT_THAT(client_->create(kConfigMaps, config_map("patched", "1"), {}), IsOk());
  const ObjectRef ref{kConfigMaps, "default", "patched"};

  auto merged = client_->patch(ref, PatchType::kMerge, {{"data", {{"extra", "x"}}}}, {});
  ASSERT_THAT(merged, IsOk());
  EXPECT_EQ((*merged)["data"]["value"], "1");
  EXPECT_EQ((*merged)["data"]["extra"], "x");

  auto json_patched =
      client_->patch(ref, PatchType::kJson,
                     json::array({{{"op", "replace"}, {"path", "/data/value"}, {"value", "2"}},
                                  {{"op", "remove"}, {"path", "/data/extra"}}}),
                     {});
  ASSERT_THAT(json_patched, IsOk());
  EXPECT_EQ((*json_patched)["data"]["value"], "2");
  EXPECT_FALSE((*json_patched)["data"].contains("extra"));

  json applied = config_map("patched", "3");
  auto missing_manager = client_->patch(ref, PatchType::kApply, applied, {});
  EXPECT_THAT(missing_manager, Not(IsOk())) << "server-side apply needs a field manager";
  auto apply = client_->patch(ref, PatchType::kApply, applied, {"kubefn-test", true, ""});
  ASSERT_THAT(apply, IsOk());
  EXPECT_EQ((*apply)["data"]["value"], "3");

  // Apply also creates.
  auto created = client_->patch({kConfigMaps, "default", "applied-new"}, PatchType::kApply,
                                config_map("applied-new", "a"), {"kubefn-test", false, ""});
  ASSERT_THAT(created, IsOk());
  EXPECT_THAT(client_->get({kConfigMaps, "default", "applied-new"}), IsOk());
}

TEST_F(CrudTest, PatchOfMissingObjectIsNotFound) {
  auto patched = client_->patch({kConfigMaps, "default", "ghost"}, PatchType::kMerge,
                                {{"data", {{"a", "b"}}}}, {});
  ASSERT_THAT(patched, StatusIs(StatusCode::kNotFound));
}

TEST_F(CrudTest, DeleteHonoursPreconditions) {
  auto created = client_->create(kConfigMaps, config_map("guarded", "1"), {});
  ASSERT_THAT(created, IsOk());
  const ObjectRef ref{kConfigMaps, "default", "guarded"};
  const std::string uid = (*created)["metadata"]["uid"];

  DeleteOptions wrong_uid;
  wrong_uid.precondition_uid = "00000000-0000-0000-0000-000000000000";
  auto refused = client_->remove(ref, wrong_uid);
  ASSERT_THAT(refused, StatusIs(StatusCode::kConflict));

  DeleteOptions stale_version;
  stale_version.precondition_resource_version = "1";
  auto refused_again = client_->remove(ref, stale_version);
  ASSERT_THAT(refused_again, StatusIs(StatusCode::kConflict));
  EXPECT_THAT(client_->get(ref), IsOk());

  DeleteOptions exact;
  exact.precondition_uid = uid;
  exact.precondition_resource_version = object_resource_version(*created);
  exact.propagation_policy = PropagationPolicy::kBackground;
  auto removed = client_->remove(ref, exact);
  ASSERT_THAT(removed, IsOk());
  EXPECT_THAT(client_->get(ref), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(client_->remove(ref, {}), StatusIs(StatusCode::kNotFound));
}

TEST_F(CrudTest, DeleteWithFinalizersReturnsTheObject) {
  json object = config_map("finalized", "1");
  object["metadata"]["finalizers"] = {"kubefn.dev/cleanup"};
  ASSERT_THAT(client_->create(kConfigMaps, object, {}), IsOk());
  const ObjectRef ref{kConfigMaps, "default", "finalized"};
  auto removed = client_->remove(ref, {});
  ASSERT_THAT(removed, IsOk());
  EXPECT_TRUE((*removed)["metadata"].contains("deletionTimestamp"));
  auto removed_finalizer =
      client_->patch(ref, PatchType::kJson,
                     json::array({{{"op", "remove"}, {"path", "/metadata/finalizers"}}}), {});
  ASSERT_THAT(removed_finalizer, IsOk());
  EXPECT_TRUE(wait_until([&] { return client_->get(ref).status().is_not_found(); },
                         std::chrono::seconds(10)));
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
  ASSERT_THAT(client_->create(resources::deployments(), deployment, {}), IsOk());
  const ObjectRef ref{resources::deployments(), "default", "web"};

  auto scale = client_->get_scale(ref);
  ASSERT_THAT(scale, IsOk());
  EXPECT_EQ((*scale)["kind"], "Scale");
  EXPECT_EQ((*scale)["spec"]["replicas"], 1);

  (*scale)["spec"]["replicas"] = 4;
  auto updated = client_->update_scale(ref, *scale);
  ASSERT_THAT(updated, IsOk());
  EXPECT_EQ((*updated)["spec"]["replicas"], 4);
  EXPECT_EQ((*client_->get(ref))["spec"]["replicas"], 4);

  // A stale Scale is refused like any stale write.
  auto stale = client_->update_scale(ref, *scale);
  ASSERT_THAT(stale, StatusIs(StatusCode::kConflict));

  PatchOptions on_scale;
  on_scale.subresource = "scale";
  auto patched = client_->patch(ref, PatchType::kMerge, {{"spec", {{"replicas", 0}}}}, on_scale);
  ASSERT_THAT(patched, IsOk());
  EXPECT_EQ((*client_->get(ref))["spec"]["replicas"], 0);
}

TEST_F(CrudTest, CustomResourceStatusAndScale) {
  install_gadgets();
  auto created = client_->create(kGadgets, gadget("g1", 1), {});
  ASSERT_THAT(created, IsOk());
  const ObjectRef ref{kGadgets, "default", "g1"};
  EXPECT_EQ((*created)["metadata"]["generation"], 1);

  // /status takes only the status: the spec change is ignored and generation stays.
  json with_status = *created;
  with_status["status"] = {{"replicas", 1}, {"observedGeneration", 1}};
  with_status["spec"]["color"] = "blue";
  auto status_written = client_->update_status(kGadgets, with_status, {});
  ASSERT_THAT(status_written, IsOk());
  EXPECT_EQ((*status_written)["status"]["replicas"], 1);
  EXPECT_EQ((*status_written)["spec"]["color"], "red");
  EXPECT_EQ((*status_written)["metadata"]["generation"], 1);

  // The main endpoint ignores status and bumps generation on a spec change.
  json spec_change = *status_written;
  spec_change["spec"]["color"] = "green";
  spec_change["status"]["replicas"] = 99;
  auto updated = client_->update(kGadgets, spec_change, {});
  ASSERT_THAT(updated, IsOk());
  EXPECT_EQ((*updated)["spec"]["color"], "green");
  EXPECT_EQ((*updated)["status"]["replicas"], 1);
  EXPECT_EQ((*updated)["metadata"]["generation"], 2);

  // A stale status write conflicts.
  auto stale = client_->update_status(kGadgets, with_status, {});
  ASSERT_THAT(stale, StatusIs(StatusCode::kConflict));

  PatchOptions status_patch;
  status_patch.subresource = "status";
  auto patched =
      client_->patch(ref, PatchType::kMerge, {{"status", {{"ready", true}}}}, status_patch);
  ASSERT_THAT(patched, IsOk());
  EXPECT_EQ((*patched)["status"]["ready"], true);

  auto scale = client_->get_scale(ref);
  ASSERT_THAT(scale, IsOk());
  EXPECT_EQ((*scale)["spec"]["replicas"], 1);
  (*scale)["spec"]["replicas"] = 3;
  ASSERT_THAT(client_->update_scale(ref, *scale), IsOk());
  EXPECT_EQ((*client_->get(ref))["spec"]["replicas"], 3);
}

}  // namespace
}  // namespace kubefn::kube::testing
