// CRUD semantics over real HTTP: resourceVersion, conflicts, validation, generation, the status
// and scale subresources, finalizers, patch types, server-side apply, selectors and tables.

#include "emulator_fixture.hpp"

namespace kubefn::emulator::testing {
namespace {

using nlohmann::json;

class ApiSemanticsTest : public EmulatorTest {};

TEST_F(ApiSemanticsTest, RejectsBadRequestsWithStatusBodies) {
  install_widgets();
  struct Case {
    std::string method, target;
    json body;
    int status;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"GET", "/api/v1/namespaces/default/configmaps/absent", nullptr, 404, "NotFound"},
      {"GET", "/apis/nope.dev/v1/things", nullptr, 404, "NotFound"},
      {"POST", "/api/v1/namespaces/missing/configmaps", config_map("a"), 404, "NotFound"},
      {"POST", kConfigMaps, json{{"metadata", json::object()}}, 422, "Invalid"},
      {"POST", kConfigMaps, config_map("Bad_Name"), 422, "Invalid"},
      {"POST", kConfigMaps, json{{"metadata", {{"name", "x"}, {"namespace", "other"}}}}, 400,
       "BadRequest"},
      {"GET", std::string(kConfigMaps) + "?labelSelector=a%20in%20(", nullptr, 400, "BadRequest"},
      {"GET", std::string(kConfigMaps) + "?fieldSelector=spec.color%3Dred", nullptr, 400,
       "BadRequest"},
  };
  for (const auto& c : cases) {
    auto r = http_.request(c.method, c.target, c.body.is_null() ? "" : c.body.dump());
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.target << ": " << r.body;
    EXPECT_EQ(r.json()["kind"], "Status");
    EXPECT_EQ(r.json()["reason"], c.reason) << c.target;
    EXPECT_EQ(r.json()["code"], c.status);
  }
}

TEST_F(ApiSemanticsTest, MalformedInputNeverBreaksTheServer) {
  install_widgets();
  const std::vector<std::pair<std::string, std::string>> posts = {
      {kConfigMaps, "not json"},
      {kConfigMaps, "[1,2]"},
      {kConfigMaps, R"({"metadata": "oops"})"},
      {kConfigMaps, R"({"metadata": {"name": 5}})"},
      {kWidgets, R"({"metadata": {"name": "w", "labels": 5, "finalizers": "x"}, "spec": 3})"},
  };
  for (const auto& [path, body] : posts) {
    auto r = http_.request("POST", path, body);
    EXPECT_GE(r.status, 201) << body;
    EXPECT_FALSE(r.json().is_discarded()) << r.body;
  }
  EXPECT_EQ(http_.get(std::string(kConfigMaps) + "?labelSelector=%zz").status, 200);
  EXPECT_EQ(http_.get(std::string(kWidgets) + "?labelSelector=a%3Db").status, 200);
  EXPECT_EQ(
      http_.patch(std::string(kWidgets) + "/w/scale", {{"spec", {{"replicas", "three"}}}}).status,
      422);
  EXPECT_EQ(http_.get("/version").status, 200);
}

TEST_F(ApiSemanticsTest, ResourceVersionIsGlobalAndIncreasing) {
  install_widgets();
  const auto cm = create(kConfigMaps, config_map("a"));
  const auto w = create(kWidgets, widget("w", "red"));
  EXPECT_LT(std::stoull(rv_of(cm)), std::stoull(rv_of(w)));
  auto list = http_.get(kConfigMaps).json();
  EXPECT_GE(std::stoull(list["metadata"]["resourceVersion"].get<std::string>()),
            std::stoull(rv_of(w)));
  // A no-op update neither bumps the version nor emits anything.
  auto same = http_.put(std::string(kConfigMaps) + "/a", cm);
  ASSERT_EQ(same.status, 200) << same.body;
  EXPECT_EQ(rv_of(same.json()), rv_of(cm));
  EXPECT_EQ(emu_.resource_version(), std::stoull(rv_of(w)));
}

TEST_F(ApiSemanticsTest, OptimisticConcurrency) {
  install_widgets();
  auto w = create(kWidgets, widget("w", "red"));
  EXPECT_EQ(http_.post(kWidgets, widget("w", "red")).json()["reason"], "AlreadyExists");
  auto fresh = w;
  fresh["spec"]["color"] = "blue";
  ASSERT_EQ(http_.put(std::string(kWidgets) + "/w", fresh).status, 200);
  auto stale = w;
  stale["spec"]["color"] = "green";
  auto r = http_.put(std::string(kWidgets) + "/w", stale);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.json()["reason"], "Conflict");
  // Custom resources refuse unconditional updates.
  stale["metadata"].erase("resourceVersion");
  EXPECT_EQ(http_.put(std::string(kWidgets) + "/w", stale).status, 422);
  // A resourceVersion inside a patch is a precondition.
  r = http_.patch(std::string(kWidgets) + "/w", {{"metadata", {{"resourceVersion", rv_of(w)}}}});
  EXPECT_EQ(r.status, 409);
  // Delete preconditions.
  r = http_.del(std::string(kWidgets) + "/w", {{"preconditions", {{"uid", "not-the-uid"}}}});
  EXPECT_EQ(r.status, 409);
}

TEST_F(ApiSemanticsTest, GenerationCountsSpecChangesOnly) {
  install_widgets();
  const std::string path = std::string(kWidgets) + "/w";
  auto w = create(kWidgets, widget("w", "red"));
  EXPECT_EQ(w["metadata"]["generation"], 1);
  auto r = http_.patch(path, {{"metadata", {{"labels", {{"tier", "gold"}}}}}});
  EXPECT_EQ(r.json()["metadata"]["generation"], 1);
  r = http_.patch(path, {{"spec", {{"color", "blue"}}}});
  EXPECT_EQ(r.json()["metadata"]["generation"], 2);
  r = http_.patch(path + "/status", {{"status", {{"phase", "Ready"}}}});
  EXPECT_EQ(r.json()["metadata"]["generation"], 2);
  EXPECT_EQ(r.json()["status"]["phase"], "Ready");
}

TEST_F(ApiSemanticsTest, StatusSubresourceRules) {
  install_widgets();
  const std::string path = std::string(kWidgets) + "/w";
  auto body = widget("w", "red");
  body["status"] = {{"phase", "Bogus"}};
  auto w = create(kWidgets, body);
  EXPECT_FALSE(w.contains("status")) << "create drops status";
  // The main endpoint keeps the old status.
  auto r = http_.patch(path, {{"status", {{"phase", "Ignored"}}}, {"spec", {{"color", "blue"}}}});
  EXPECT_FALSE(r.json().contains("status"));
  EXPECT_EQ(r.json()["spec"]["color"], "blue");
  // The status endpoint changes status only, ignoring spec and metadata.
  r = http_.patch(path + "/status", {{"status", {{"phase", "Ready"}}},
                                     {"spec", {{"color", "green"}}},
                                     {"metadata", {{"labels", {{"x", "y"}}}}}});
  EXPECT_EQ(r.json()["status"]["phase"], "Ready");
  EXPECT_EQ(r.json()["spec"]["color"], "blue");
  EXPECT_FALSE(r.json()["metadata"]["labels"].contains("x"));
  // PUT on /status checks the resourceVersion too.
  auto stale = w;
  stale["status"] = {{"phase", "Old"}};
  EXPECT_EQ(http_.put(path + "/status", stale).status, 409);
  // GET on /status returns the whole object.
  EXPECT_EQ(http_.get(path + "/status").json()["spec"]["color"], "blue");
}

TEST_F(ApiSemanticsTest, ScaleSubresource) {
  install_widgets();
  create(kWidgets, widget("w", "red"));
  const std::string path = std::string(kWidgets) + "/w/scale";
  auto scale = http_.get(path).json();
  EXPECT_EQ(scale["kind"], "Scale");
  EXPECT_EQ(scale["spec"]["replicas"], 1);
  auto r = http_.patch(path, {{"spec", {{"replicas", 4}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["spec"]["replicas"], 4);
  auto w = http_.get(std::string(kWidgets) + "/w").json();
  EXPECT_EQ(w["spec"]["replicas"], 4);
  EXPECT_EQ(w["metadata"]["generation"], 2);
  EXPECT_EQ(r.json()["metadata"]["resourceVersion"], w["metadata"]["resourceVersion"]);
  EXPECT_EQ(http_.patch(path, {{"spec", {{"replicas", -1}}}}).status, 422);
}

TEST_F(ApiSemanticsTest, FinalizersHoldDeletion) {
  install_widgets();
  const std::string path = std::string(kWidgets) + "/w";
  auto body = widget("w", "red");
  body["metadata"]["finalizers"] = {"emulator.kubefn.dev/hold"};
  create(kWidgets, body);
  auto r = http_.del(path, {{"propagationPolicy", "Background"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(r.json()["metadata"].contains("deletionTimestamp"));
  EXPECT_EQ(http_.get(path).status, 200);
  EXPECT_EQ(http_.del(path).json()["metadata"]["deletionTimestamp"],
            r.json()["metadata"]["deletionTimestamp"]);
  // No new finalizers once deleting.
  auto add =
      http_.patch(path, {{"metadata", {{"finalizers", {"emulator.kubefn.dev/hold", "x/y"}}}}});
  EXPECT_EQ(add.status, 422) << add.body;
  // Clearing the finalizers completes the deletion.
  r = http_.patch(path, json::array({{{"op", "remove"}, {"path", "/metadata/finalizers"}}}),
                  "application/json-patch+json");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(http_.get(path).status, 404);
}

TEST_F(ApiSemanticsTest, DeleteWithoutFinalizersReturnsSuccessStatus) {
  create(kConfigMaps, config_map("a"));
  auto r = http_.del(std::string(kConfigMaps) + "/a");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["status"], "Success");
  EXPECT_EQ(r.json()["details"]["kind"], "configmaps");
  EXPECT_EQ(http_.del(std::string(kConfigMaps) + "/a").status, 404);
}

TEST_F(ApiSemanticsTest, StrategicMergePatchMergesContainersByName) {
  create(kDeployments, deployment("web", 1));
  const json smp = json::parse(R"({"spec":{"template":{"spec":{
      "$setElementOrder/containers":[{"name":"web"},{"name":"side"}],
      "containers":[{"name":"web","image":"nginx:1.28"}]}}}})");
  auto r = http_.patch(std::string(kDeployments) + "/web", smp,
                       "application/strategic-merge-patch+json");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto containers = r.json()["spec"]["template"]["spec"]["containers"];
  ASSERT_EQ(containers.size(), 2u);
  EXPECT_EQ(containers[0]["image"], "nginx:1.28");
  EXPECT_EQ(containers[1]["name"], "side");
  const json del = json::parse(
      R"({"spec":{"template":{"spec":{"containers":[{"name":"side","$patch":"delete"}]}}}})");
  r = http_.patch(std::string(kDeployments) + "/web", del,
                  "application/strategic-merge-patch+json");
  EXPECT_EQ(r.json()["spec"]["template"]["spec"]["containers"].size(), 1u);
  EXPECT_EQ(r.json()["metadata"]["generation"], 3);
}

TEST_F(ApiSemanticsTest, StrategicMergePatchIsRefusedForCustomResources) {
  install_widgets();
  create(kWidgets, widget("w", "red"));
  auto r = http_.patch(std::string(kWidgets) + "/w", {{"spec", {{"color", "x"}}}},
                       "application/strategic-merge-patch+json");
  EXPECT_EQ(r.status, 415);
}

TEST_F(ApiSemanticsTest, ServerSideApplyTracksOwnershipAndConflicts) {
  install_widgets();
  const std::string path = std::string(kWidgets) + "/w";
  auto apply = [&](const json& cfg, const std::string& manager, bool force = false) {
    return http_.request("PATCH", path + "?fieldManager=" + manager + (force ? "&force=true" : ""),
                         cfg.dump(),
                         RequestOptions{"application/apply-patch+yaml", "application/json", ""});
  };
  auto cfg = widget("w", "red");
  cfg["spec"]["size"] = "L";
  auto r = apply(cfg, "alice");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json()["metadata"]["managedFields"][0]["manager"], "alice");
  // Bob wants another colour: conflict, unless forced.
  auto bob = json{{"apiVersion", "emulator.kubefn.dev/v1"},
                  {"kind", "Widget"},
                  {"metadata", {{"name", "w"}}},
                  {"spec", {{"color", "blue"}}}};
  r = apply(bob, "bob");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(r.json()["details"]["causes"][0]["reason"], "FieldManagerConflict");
  r = apply(bob, "bob", true);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["spec"]["color"], "blue");
  // Alice stops applying spec.size: it is removed. She no longer owns color, so it stays.
  cfg["spec"].erase("size");
  cfg["spec"].erase("color");
  r = apply(cfg, "alice");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.json()["spec"].contains("size"));
  EXPECT_EQ(r.json()["spec"]["color"], "blue");
  // YAML bodies are accepted too.
  r = http_.request("PATCH", path + "?fieldManager=carol",
                    "apiVersion: emulator.kubefn.dev/v1\nkind: Widget\nmetadata:\n  name: "
                    "w\nspec:\n  shape: round\n",
                    RequestOptions{"application/apply-patch+yaml", "application/json", ""});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["spec"]["shape"], "round");
}

TEST_F(ApiSemanticsTest, LabelAndFieldSelectors) {
  create(kConfigMaps, config_map("a", {{"tier", "gold"}, {"app", "x"}}));
  create(kConfigMaps, config_map("b", {{"tier", "silver"}}));
  create(kConfigMaps, config_map("c", json::object()));
  auto names = [&](const std::string& query) {
    std::vector<std::string> out;
    const auto list = http_.get(std::string(kConfigMaps) + "?" + query).json();
    for (const auto& i : list["items"]) {
      out.push_back(i["metadata"]["name"]);
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names("labelSelector=tier%3Dgold"), V({"a"}));
  EXPECT_EQ(names("labelSelector=tier!%3Dgold"), V({"b", "c"}));
  EXPECT_EQ(names("labelSelector=tier%20in%20(gold,silver)"), V({"a", "b"}));
  EXPECT_EQ(names("labelSelector=tier%20notin%20(gold)"), V({"b", "c"}));
  EXPECT_EQ(names("labelSelector=tier"), V({"a", "b"}));
  EXPECT_EQ(names("labelSelector=!tier"), V({"c"}));
  EXPECT_EQ(names("labelSelector=tier%3Dgold,app%3Dx"), V({"a"}));
  EXPECT_EQ(names("fieldSelector=metadata.name%3Db"), V({"b"}));
  EXPECT_EQ(names("fieldSelector=metadata.name!%3Db"), V({"a", "c"}));
  // Events can be selected by involved object, as kubectl describe does.
  create("/api/v1/namespaces/default/events",
         {{"metadata", {{"name", "e1"}}},
          {"involvedObject", {{"kind", "Widget"}, {"name", "w"}}},
          {"reason", "Made"}});
  auto ev = http_
                .get(
                    "/api/v1/namespaces/default/"
                    "events?fieldSelector=involvedObject.kind%3DWidget,involvedObject.name%3Dw")
                .json();
  EXPECT_EQ(ev["items"].size(), 1u);
}

TEST_F(ApiSemanticsTest, PaginationAndExpiredContinueTokens) {
  for (const char* n : {"a", "b", "c"})
    create(kConfigMaps, config_map(n));
  auto page = http_.get(std::string(kConfigMaps) + "?limit=2").json();
  ASSERT_EQ(page["items"].size(), 2u);
  const std::string token = page["metadata"]["continue"];
  auto rest = http_.get(std::string(kConfigMaps) + "?limit=2&continue=" + token).json();
  ASSERT_EQ(rest["items"].size(), 1u);
  EXPECT_EQ(rest["items"][0]["metadata"]["name"], "c");
  EXPECT_FALSE(rest["metadata"].contains("continue"));
  create(kConfigMaps, config_map("d"));
  emu_.compact();
  EXPECT_EQ(http_.get(std::string(kConfigMaps) + "?limit=2&continue=" + token).status, 410);
}

TEST_F(ApiSemanticsTest, TableOutputUsesPrinterColumns) {
  install_widgets();
  create(kWidgets, widget("w", "red"));
  auto r = http_.request(
      "GET", kWidgets, "",
      RequestOptions{"", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json", ""});
  auto t = r.json();
  EXPECT_EQ(t["kind"], "Table");
  std::vector<std::string> cols;
  for (const auto& c : t["columnDefinitions"])
    cols.push_back(c["name"]);
  EXPECT_EQ(cols, (std::vector<std::string>{"Name", "Color", "Replicas", "Age"}));
  EXPECT_EQ(t["rows"][0]["cells"][1], "red");
  EXPECT_EQ(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
}

TEST_F(ApiSemanticsTest, PrinterColumnsSupportFilterExpressions) {
  auto crd = widget_crd();
  crd["spec"]["versions"][0]["additionalPrinterColumns"] = json::parse(R"([
    {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
    {"name": "First", "type": "string", "jsonPath": ".status.conditions[0].type"}])");
  ASSERT_EQ(http_.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd).status, 201);
  create(kWidgets, widget("w", "red"));
  http_.patch(std::string(kWidgets) + "/w/status",
              json::parse(R"({"status": {"conditions": [{"type": "Synced", "status": "False"},
                                                        {"type": "Ready", "status": "True"}]}})"));
  auto t = http_
               .request("GET", kWidgets, "",
                        RequestOptions{"", "application/json;as=Table;v=v1;g=meta.k8s.io", ""})
               .json();
  EXPECT_EQ(t["rows"][0]["cells"], json::parse(R"(["w", "True", "Synced"])"));
}

TEST_F(ApiSemanticsTest, DiscoveryVersionAndOpenApi) {
  install_widgets();
  EXPECT_EQ(http_.get("/version").json()["minor"], "32");
  auto agg = http_.request(
      "GET", "/apis", "",
      RequestOptions{
          "",
          "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
          ""});
  EXPECT_NE(agg.headers["content-type"].find("as=APIGroupDiscoveryList"), std::string::npos);
  bool found = false;
  const auto groups = agg.json();
  for (const auto& g : groups["items"])
    found = found || g["metadata"]["name"] == "emulator.kubefn.dev";
  EXPECT_TRUE(found);
  auto legacy = http_.get("/apis/emulator.kubefn.dev/v1").json();
  EXPECT_EQ(legacy["kind"], "APIResourceList");
  auto root = http_.get("/openapi/v3").json();
  EXPECT_TRUE(root["paths"].contains("apis/emulator.kubefn.dev/v1"));
  EXPECT_EQ(http_.get("/openapi/v2").status, 404);
}

TEST_F(ApiSemanticsTest, StructuralSchemaPrunesAndDefaults) {
  auto crd = widget_crd();
  crd["metadata"]["name"] = "gadgets.emulator.kubefn.dev";
  crd["spec"]["names"] = {{"plural", "gadgets"}, {"singular", "gadget"}, {"kind", "Gadget"}};
  crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = json::parse(R"({
    "type": "object",
    "properties": {
      "spec": {"type": "object", "properties": {
        "color": {"type": "string"},
        "replicas": {"type": "integer", "default": 1},
        "limits": {"type": "object", "default": {}, "properties": {"cpu": {"type": "string", "default": "100m"}}},
        "ports": {"type": "array", "items": {"type": "object", "properties": {"port": {"type": "integer"}}}},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}},
      "status": {"type": "object", "properties": {"phase": {"type": "string"}}}}})");
  ASSERT_EQ(http_.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd).status, 201);
  const std::string gadgets = "/apis/emulator.kubefn.dev/v1/namespaces/default/gadgets";
  auto r = http_.post(gadgets, json::parse(R"({
    "apiVersion": "emulator.kubefn.dev/v1", "kind": "Gadget",
    "metadata": {"name": "g", "labels": {"a": "b"}},
    "bogus": true,
    "spec": {"color": "red", "unknown": 1, "ports": [{"port": 80, "name": "http"}],
             "labels": {"x": "y"}, "extra": {"anything": {"goes": 1}}}})"));
  ASSERT_EQ(r.status, 201) << r.body;
  const auto g = r.json();
  EXPECT_FALSE(g.contains("bogus"));
  EXPECT_FALSE(g["spec"].contains("unknown"));
  EXPECT_EQ(g["spec"]["replicas"], 1);
  EXPECT_EQ(g["spec"]["limits"]["cpu"], "100m");
  EXPECT_EQ(g["spec"]["ports"], json::parse(R"([{"port": 80}])"));
  EXPECT_EQ(g["spec"]["labels"]["x"], "y");
  EXPECT_EQ(g["spec"]["extra"]["anything"]["goes"], 1);
  EXPECT_EQ(g["metadata"]["labels"]["a"], "b");
  // Re-sending an unknown field is a no-op, not a new version.
  r = http_.patch(gadgets + "/g", {{"spec", {{"unknown", 2}}}});
  EXPECT_EQ(rv_of(r.json()), rv_of(g));
  r = http_.patch(gadgets + "/g/status", {{"status", {{"phase", "Ready"}, {"junk", 1}}}});
  EXPECT_EQ(r.json()["status"], json::parse(R"({"phase": "Ready"})"));
}

TEST_F(ApiSemanticsTest, DeletingACrdRemovesItsResources) {
  install_widgets();
  create(kWidgets, widget("w", "red"));
  ASSERT_EQ(
      http_
          .del(
              "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.emulator.kubefn.dev")
          .status,
      200);
  EXPECT_EQ(http_.get(kWidgets).status, 404);
  install_widgets();
  EXPECT_EQ(http_.get(kWidgets).json()["items"].size(), 0u);
}

TEST_F(ApiSemanticsTest, InProcessCallsShareTheState) {
  auto r = emu_.call("POST", kConfigMaps, config_map("inproc"));
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(http_.get(std::string(kConfigMaps) + "/inproc").status, 200);
  EXPECT_TRUE(emu_.get(std::string(kConfigMaps) + "/inproc").has_value());
  EXPECT_FALSE(emu_.get(std::string(kConfigMaps) + "/nope").has_value());
}

}  // namespace
}  // namespace kubefn::emulator::testing
