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
      {"GET", "/api/v1/namespaces/default/things", nullptr, 404, "NotFound"},
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
  // (A spec of 3 leaves no .spec.replicas for the scale subresource: that widget is refused.)
  create(kWidgets, widget("ok", "red"));
  EXPECT_EQ(
      http_.patch(std::string(kWidgets) + "/ok/scale", {{"spec", {{"replicas", "three"}}}}).status,
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
  EXPECT_EQ(http_.get("/version").json()["minor"], "34");
  EXPECT_EQ(http_.get("/version").json()["gitVersion"], "v1.34.4");
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

// --- The real server's wording, byte for byte (tests/e2e/fidelity compares it live) ---------

// A Status's message, or "<status>: <body>" when the answer is not a Status.
std::string message_of(const HttpReply& r) {
  const auto j = r.json();
  if (!j.is_object() || j.value("kind", "") != "Status")
    return std::to_string(r.status) + ": " + r.body;
  return j.value("message", "");
}

TEST_F(ApiSemanticsTest, UnknownPathsAnswerAsTheRealServer) {
  install_widgets();
  // Below a built-in group: go-restful's Status, with empty details.
  for (const char* path : {"/api/v1/namespaces/default/things", "/api/v1/things/x",
                           "/apis/apps/v1/namespaces/default/things"}) {
    auto r = http_.get(path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.body, R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
                      R"("message":"the server could not find the requested resource",)"
                      R"("reason":"NotFound","details":{},"code":404})"
                      "\n")
        << path;
  }
  // A custom resource group, or no group at all: Go's plain http.NotFound.
  for (const char* path :
       {"/apis/emulator.kubefn.dev/v1/namespaces/default/things",
        "/apis/emulator.kubefn.dev/v9/namespaces/default/widgets", "/apis/nope.dev/v1/things",
        "/apis/nope.dev/v1", "/apis/emulator.kubefn.dev/v1/widgets/w"}) {
    auto r = http_.get(path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.body, "404 page not found\n") << path;
    EXPECT_EQ(r.headers["content-type"], "text/plain; charset=utf-8") << path;
  }
  // An unknown subresource of a custom resource names the object.
  create(kWidgets, widget("w", "red"));
  EXPECT_EQ(message_of(http_.get(std::string(kWidgets) + "/w/bogus")),
            R"(widgets.emulator.kubefn.dev "w" not found)");
}

TEST_F(ApiSemanticsTest, LabelSelectorsParseAsApimachineryDoes) {
  const std::string qualified =
      "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
      "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
      "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"app%3D%3D%3Dx", "unable to parse requirement: found '=', expected: identifier"},
      {"a+in+x", "unable to parse requirement: found 'x' expected: '('"},
      {"Bad%20Key%3Dx",
       "unable to parse requirement: found 'Key', expected: in, notin, =, ==, !=, gt, lt"},
      {"a%20in%20(x", "unable to parse requirement: found '', expected: ',' or ')'"},
      {"a%20in%20(", "unable to parse requirement: found '', expected: ',', ')' or identifier"},
      {"a,,b", "found ',', expected: identifier after ','"},
      {"%3Dx", "found '=', expected: !, identifier, or 'end of string'"},
      {"a%3Db%20c", "found 'c', expected: ',' or 'end of string'"},
      {"!a%3Db", "found '=', expected: ',' or 'end of string'"},
      {"a%3Ex",
       "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, "
       "the value must be an integer"},
      {"-a", "unable to parse requirement: <nil>: Invalid value: \"-a\": name part " + qualified},
      {"a%3Db_",
       "unable to parse requirement: values[0][a]: Invalid value: \"b_\": a valid label must be "
       "an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
       "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
       "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"},
  };
  for (const auto& [selector, message] : cases) {
    auto r = http_.get(std::string(kConfigMaps) + "?labelSelector=" + selector);
    EXPECT_EQ(r.status, 400) << selector << ": " << r.body;
    EXPECT_EQ(message_of(r), message) << selector;
  }
  // What parses also matches as the real server matches.
  create(kConfigMaps, config_map("two", {{"n", "2"}, {"e", ""}}));
  create(kConfigMaps, config_map("nine", {{"n", "9"}}));
  auto names = [&](const std::string& selector) {
    std::vector<std::string> out;
    const auto list = http_.get(std::string(kConfigMaps) + "?labelSelector=" + selector).json();
    for (const auto& i : list["items"])
      out.push_back(i["metadata"]["name"]);
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names("n%3E3"), V({"nine"}));
  EXPECT_EQ(names("n%3C3"), V({"two"}));
  EXPECT_EQ(names("n%3D%3D2"), V({"two"}));
  EXPECT_EQ(names("e%20in%20()"), V({"two"}));
  EXPECT_EQ(names("e%3D"), V({"two"}));
  EXPECT_EQ(names("n%20notin%20(2,),!e"), V({"nine"}));
  EXPECT_EQ(names("in%20in%20(notin)"), V());
}

TEST_F(ApiSemanticsTest, UnknownFieldLabelsAreWordedPerKind) {
  install_widgets();
  EXPECT_EQ(
      message_of(http_.get(std::string(kConfigMaps) + "?fieldSelector=data.a%3D1")),
      R"("data.a" is not a known field selector: only "metadata.name", "metadata.namespace")");
  EXPECT_EQ(message_of(http_.get("/api/v1/namespaces/default/secrets?fieldSelector=data.a%3D1")),
            "field label not supported: data.a");
  EXPECT_EQ(message_of(http_.get("/apis/batch/v1/namespaces/default/jobs?fieldSelector=x%3D1")),
            R"(field label "x" not supported for Job)");
  EXPECT_EQ(message_of(http_.get(std::string(kWidgets) + "?fieldSelector=spec.color%3Dx")),
            "field label not supported: spec.color");
}

TEST_F(ApiSemanticsTest, UndecodableBodiesAreWordedAsGoDecodesThem) {
  install_widgets();
  const auto post = [&](const std::string& path, const std::string& body,
                        const std::string& type = "application/json") {
    return http_.request("POST", path, body, RequestOptions{type, "application/json", ""});
  };
  const std::string cm = "the object provided is unrecognized (must be of type ConfigMap): ";
  EXPECT_EQ(message_of(post(kConfigMaps, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{)")),
            cm + "couldn't get version/kind; json parse error: unexpected end of JSON input "
                 R"(({"apiVersion":"v1","kind":"Con ...))");
  EXPECT_EQ(message_of(post(kConfigMaps, "not json")),
            cm + "couldn't get version/kind; json parse error: invalid character 'o' in literal "
                 "null (expecting 'u') (6e6f74206a736f6e)");
  EXPECT_EQ(message_of(post(kConfigMaps, R"({"a":1,})")),
            cm + "couldn't get version/kind; json parse error: invalid character '}' looking for "
                 R"(beginning of object key string ({"a":1,}))");
  EXPECT_EQ(message_of(post(kConfigMaps, R"({"a" 1})")),
            cm + "couldn't get version/kind; json parse error: invalid character '1' after object "
                 R"(key ({"a" 1}))");
  EXPECT_EQ(
      message_of(post(kConfigMaps, "[1,2]")),
      cm + "couldn't get version/kind; json parse error: json: cannot unmarshal array into "
           "Go value of type struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; "
           "Kind string \"json:\\\"kind,omitempty\\\"\" } (5b312c325d)");
  EXPECT_EQ(message_of(post(kConfigMaps, R"({"kind":5})")),
            cm + "couldn't get version/kind; json parse error: json: cannot unmarshal number into "
                 R"(Go struct field .kind of type string ({"kind":5}))");
  EXPECT_EQ(message_of(post(kWidgets, "")),
            "the object provided is unrecognized (must be of type Widget): couldn't get "
            "version/kind; json parse error: unexpected end of JSON input (<empty>)");
  // Media types the server has no decoder for.
  auto r = post(kConfigMaps, "{}", "text/plain");
  EXPECT_EQ(r.status, 415);
  EXPECT_EQ(message_of(r),
            "the body of the request was in an unknown format - accepted media types include: "
            "application/json, application/yaml, application/vnd.kubernetes.protobuf");
  // A custom resource's apiVersion and kind.
  auto w = widget("w", "red");
  w.erase("apiVersion");
  r = post(kWidgets, w.dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(message_of(r),
            "the API version in the data () does not match the expected API "
            "version (emulator.kubefn.dev/v1)");
  w["apiVersion"] = "emulator.kubefn.dev/v2";
  r = post(kWidgets, w.dump());
  EXPECT_EQ(message_of(r),
            "the API version in the data (emulator.kubefn.dev/v2) does not match "
            "the expected API version (emulator.kubefn.dev/v1)");
  EXPECT_EQ(r.header_values("warning"),
            std::vector<std::string>{R"(299 - "unknown field \"spec\"")"});
  w["apiVersion"] = "emulator.kubefn.dev/v1";
  w["kind"] = "Other";
  r = post(kWidgets, w.dump());
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(
      message_of(r),
      R"(Other.emulator.kubefn.dev "w" is invalid: kind: Invalid value: "Other": must be Widget)");
  EXPECT_EQ(r.json()["details"]["causes"][0]["field"], "kind");
  // YAML bodies decode too.
  r = post(kWidgets,
           "apiVersion: emulator.kubefn.dev/v1\nkind: Widget\nmetadata:\n  name: y1\nspec:\n"
           "  color: red\n  color: blue\n",
           "application/yaml");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json()["spec"]["color"], "blue");
}

TEST_F(ApiSemanticsTest, PatchErrorsAreWordedAsTheRealServerWordsThem) {
  install_widgets();
  create(kWidgets, widget("w", "red"));
  const std::string path = std::string(kWidgets) + "/w";
  const auto patch = [&](const std::string& body, const std::string& type,
                         const std::string& query = "") {
    return http_.request("PATCH", path + query, body, RequestOptions{type, "application/json", ""});
  };
  const std::string merge = "application/merge-patch+json", jp = "application/json-patch+json";
  EXPECT_EQ(message_of(patch("{\"spec\":", merge)),
            "error decoding patch: unexpected end of JSON input");
  EXPECT_EQ(message_of(patch("{\"spec\":", merge, "?fieldValidation=Ignore")),
            "Invalid JSON Patch");
  EXPECT_EQ(message_of(patch("[1]", merge)),
            "error decoding patch: json: cannot unmarshal array into Go value of type "
            "map[string]interface {}");
  EXPECT_EQ(message_of(patch("not json", jp)),
            "error decoding patch: invalid character 'o' in literal null (expecting 'u')");
  EXPECT_EQ(message_of(patch("{}", jp)),
            "error decoding patch: json: cannot unmarshal object into Go value of type "
            "[]handlers.jsonPatchOp");
  auto r = patch(R"([{"op":"remove","path":"/spec/nothere"}])", jp);
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.body, R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
                    R"("message":"the server rejected our request due to an error in our request",)"
                    R"("reason":"Invalid","details":{},"code":422})"
                    "\n");
  r = patch("{}", "text/plain");
  EXPECT_EQ(r.status, 415);
  EXPECT_EQ(message_of(r),
            "the body of the request was in an unknown format - accepted media types include: "
            "application/json-patch+json, application/merge-patch+json, "
            "application/apply-patch+yaml");
  // Built-in kinds' routes refuse it first, in go-restful's words.
  create(kConfigMaps, config_map("c"));
  r = http_.request("PATCH", std::string(kConfigMaps) + "/c", "{}",
                    RequestOptions{"text/plain", "application/json", ""});
  EXPECT_EQ(r.status, 415);
  EXPECT_EQ(message_of(r), "415: Unsupported Media Type");
  // A missing object is reported before a bad patch.
  EXPECT_EQ(http_
                .request("PATCH", std::string(kWidgets) + "/nothing", "{",
                         RequestOptions{merge, "application/json", ""})
                .status,
            404);
}

TEST_F(ApiSemanticsTest, ConflictAndPreconditionMessages) {
  install_widgets();
  const std::string path = std::string(kWidgets) + "/w";
  auto made = create(kWidgets, widget("w", "red"));
  // An unconditional update of a custom resource.
  auto body = widget("w", "blue");
  auto r = http_.put(path, body);
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(message_of(r),
            R"(widgets.emulator.kubefn.dev "w" is invalid: )"
            R"(metadata.resourceVersion: Invalid value: 0: must be specified for an )"
            R"(update)");
  EXPECT_EQ(r.json()["details"]["kind"], "widgets");
  // A delete whose preconditions do not hold.
  r = http_.del(path, {{"preconditions", {{"uid", "00000000-0000-0000-0000-000000000000"}}}});
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(message_of(r),
            R"(Operation cannot be fulfilled on Widget.emulator.kubefn.dev "w": the UID in the )"
            R"(precondition (00000000-0000-0000-0000-000000000000) does not match the UID in )"
            "record (" +
                made["metadata"]["uid"].get<std::string>() +
                "). The object might have been deleted and then recreated");
  EXPECT_EQ(r.json()["details"]["kind"], "Widget");
  // Apply conflicts, grouped by manager.
  const auto apply = [&](const json& spec, const std::string& manager) {
    json cfg = {{"apiVersion", "emulator.kubefn.dev/v1"},
                {"kind", "Widget"},
                {"metadata", {{"name", "s"}}},
                {"spec", spec}};
    return http_.request("PATCH", std::string(kWidgets) + "/s?fieldManager=" + manager, cfg.dump(),
                         RequestOptions{"application/apply-patch+yaml", "application/json", ""});
  };
  ASSERT_EQ(apply({{"color", "red"}, {"size", "L"}}, "alice").status, 201);
  ASSERT_EQ(apply({{"color", "red"}}, "carol").status, 200);
  r = apply({{"color", "blue"}, {"size", "S"}}, "bob");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(message_of(r),
            "Apply failed with 3 conflicts: conflicts with \"alice\":\n"
            "- .spec.color\n- .spec.size\nconflicts with \"carol\":\n- .spec.color");
  EXPECT_FALSE(r.json()["details"].contains("name"));
  EXPECT_EQ(r.json()["details"]["causes"][0]["message"], "conflict with \"alice\"");
  r = apply({{"size", "S"}}, "dave");
  EXPECT_EQ(message_of(r), "Apply failed with 1 conflict: conflict with \"alice\": .spec.size");
}

TEST_F(ApiSemanticsTest, DeletionMarksGenerationAndListsCountWhatRemains) {
  install_widgets();
  auto w = widget("w", "red");
  w["metadata"]["finalizers"] = {"emulator.kubefn.dev/hold"};
  create(kWidgets, w);
  const std::string path = std::string(kWidgets) + "/w";
  EXPECT_EQ(http_.del(path).json()["metadata"]["generation"], 2);
  EXPECT_EQ(http_.del(path).json()["metadata"]["generation"], 2);
  // A new finalizer on a deleted object: the cause twice, as the real server lists it.
  auto r = http_.patch(
      path, {{"metadata", {{"finalizers", {"emulator.kubefn.dev/hold", "b/x", "a/y"}}}}});
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.json()["details"]["causes"].size(), 2u);
  EXPECT_EQ(r.json()["details"]["causes"][1]["message"],
            R"(Forbidden: no new finalizers can be added if the object is being deleted, found )"
            R"(new finalizers []string{"a/y", "b/x"})");
  for (const char* n : {"a", "b", "c"})
    create(kConfigMaps, config_map(n));
  auto page = http_.get(std::string(kConfigMaps) + "?limit=2").json();
  EXPECT_EQ(page["metadata"]["remainingItemCount"], 1);
  page = http_.get(std::string(kConfigMaps) + "?limit=2&labelSelector=x!%3Dy").json();
  EXPECT_FALSE(page["metadata"].contains("remainingItemCount"));
  page = http_.get(std::string(kConfigMaps) + "?limit=5").json();
  EXPECT_FALSE(page["metadata"].contains("remainingItemCount"));
}

TEST_F(ApiSemanticsTest, ScaleOfZeroAndOfNothing) {
  install_widgets();
  create(kWidgets, widget("w", "red"));
  auto r = http_.patch(std::string(kWidgets) + "/w/scale", {{"spec", {{"replicas", 0}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["spec"], json::object());
  auto bare = widget("bare", "red");
  bare["spec"].erase("replicas");
  create(kWidgets, bare);
  r = http_.get(std::string(kWidgets) + "/bare/scale");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(message_of(r),
            R"(Internal error occurred: the spec replicas field ".spec.replicas" does not exist)");
  // Writing through /scale still works.
  EXPECT_EQ(
      http_.patch(std::string(kWidgets) + "/bare/scale", {{"spec", {{"replicas", 2}}}}).status,
      200);
}

}  // namespace
}  // namespace kubefn::emulator::testing
