// API fidelity: the in-repo emulator (operator/emulator) must answer as the real kube-apiserver
// does. Each case is a short sequence of raw HTTP requests sent, step by step, to both: the real
// control plane scripts/cluster runs (HTTPS, admin client certificate, a namespace of the case's
// own) and a fresh `kube-emulator --port 0` (plain HTTP, a namespace of the same name). After
// normalising what legitimately differs (uids, resourceVersions, timestamps, ages, the
// namespace's name, the order of errors the real server emits in Go map order) the answers
// must be equal: status code, Warning headers, and either the whole Status (reason, message,
// details with causes) or the fields of an object a user relies on.
//
// Differences the emulator's README lists as deliberate ("What it does not emulate") are not
// asserted: no case sends protobuf, uses dryRun, relies on Update managers in managedFields,
// on built-in defaulting beyond the Deployment basics, on schema checks or fieldValidation for
// built-in kinds, on the order of sibling errors, on exact-resourceVersion lists, on the wording
// of YAML syntax errors or on the apiVersion and kind of built-in kinds' bodies.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "kubefn/testing/command.hpp"
#include "kubefn/testing/temp_dir.hpp"
#include "kubefn/testing/test_api.hpp"
#include "kubefn/testing/wait.hpp"
#include "raw_request.hpp"

namespace kubefn::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

// ---------------------------------------------------------------------------------------------
// The table's vocabulary.

// One request of a case. `target` and `body` may use {ns} (the case's namespace), {rv} and
// {uid} (of the last object the same server answered with), {<save>.rv} and {<save>.uid} (of
// the object a step with `save` answered with) and {continue} (the last list's token).
struct Step {
  std::string method;
  std::string target;
  std::string body;
  std::string content_type;
  std::vector<std::string> headers;
  // What to compare besides the status code and the Warning headers (see view()); empty:
  // the whole Status for a Status, item names for a list, columns and cells for a Table,
  // the user-facing fields of anything else, the text of a non-JSON body.
  std::vector<std::string> compare;
  std::string save;

  Step comparing(std::vector<std::string> what) && {
    compare = std::move(what);
    return std::move(*this);
  }
  Step saving(std::string name) && {
    save = std::move(name);
    return std::move(*this);
  }
  Step with_header(std::string h) && {
    headers.push_back(std::move(h));
    return std::move(*this);
  }
  Step typed(std::string type) && {
    content_type = std::move(type);
    return std::move(*this);
  }
};

struct Case {
  std::string name;  // the gtest parameter name: Cluster/ApiFidelity.Answers/<name>
  std::vector<Step> steps;
};

// gtest prints a parameter on failure: the case's name, not its bytes.
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

const std::string kJson = "application/json";
const std::string kFunctions = "/apis/kubefn.dev/v1alpha1/namespaces/{ns}/functions";
const std::string kConfigMaps = "/api/v1/namespaces/{ns}/configmaps";
const std::string kDeployments = "/apis/apps/v1/namespaces/{ns}/deployments";
// What kubectl get sends.
const std::string kAcceptTable =
    "Accept: application/json;as=Table;v=v1;g=meta.k8s.io,"
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

Step request(std::string method, std::string target, std::string body = {},
             std::string content_type = {}) {
  Step s;
  s.method = std::move(method);
  s.target = std::move(target);
  s.body = std::move(body);
  s.content_type = std::move(content_type);
  return s;
}
Step get(std::string target) {
  return request("GET", std::move(target));
}
Step post(std::string target, std::string body) {
  return request("POST", std::move(target), std::move(body), kJson);
}
Step put(std::string target, std::string body) {
  return request("PUT", std::move(target), std::move(body), kJson);
}
Step merge_patch(std::string target, std::string body) {
  return request("PATCH", std::move(target), std::move(body), "application/merge-patch+json");
}
Step json_patch(std::string target, std::string body) {
  return request("PATCH", std::move(target), std::move(body), "application/json-patch+json");
}
Step strategic_patch(std::string target, std::string body) {
  return request("PATCH", std::move(target), std::move(body),
                 "application/strategic-merge-patch+json");
}
Step apply(std::string target, std::string yaml) {
  return request("PATCH", std::move(target), std::move(yaml), "application/apply-patch+yaml");
}
Step del(std::string target, std::string body = {}) {
  const std::string type = body.empty() ? "" : kJson;
  return request("DELETE", std::move(target), std::move(body), type);
}

std::string fn_path(const std::string& name, const std::string& sub = {}) {
  return kFunctions + "/" + name + (sub.empty() ? "" : "/" + sub);
}

// A Function as raw JSON text (so a case can send exactly what it means, duplicates included).
std::string fn(const std::string& name, const std::string& spec, const std::string& meta = {},
               const std::string& top = {}) {
  return R"({"apiVersion":"kubefn.dev/v1alpha1","kind":"Function","metadata":{"name":")" + name +
         "\"" + meta + R"(},"spec":)" + spec + top + "}";
}

std::string fn_yaml(const std::string& name, const std::string& spec_lines) {
  return "apiVersion: kubefn.dev/v1alpha1\nkind: Function\nmetadata:\n  name: " + name +
         "\nspec:\n" + spec_lines;
}

std::string configmap(const std::string& name) {
  return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
         R"("},"data":{"a":"1","b":"2"}})";
}

const std::string kHello = R"({"handler":"hello.greet"})";

std::string long_handler() {
  return std::string(260, 'a') + ".b";  // matches the pattern, longer than maxLength 253
}

// ---------------------------------------------------------------------------------------------
// The cases: bad inputs first, then the behaviour of accepted requests.

std::vector<Case> cases() {
  std::vector<Case> t;

  // --- 404s -----------------------------------------------------------------------------------
  t.push_back({"missing_objects_are_404",
               {get(fn_path("nothing")), get(kConfigMaps + "/nothing"), del(fn_path("nothing")),
                merge_patch(fn_path("nothing"), R"({"spec":{}})"),
                // Custom resources are never created by PUT.
                put(fn_path("nothing"), fn("nothing", kHello))}});
  t.push_back({"create_in_a_missing_namespace_is_404",
               {post("/api/v1/namespaces/{ns}-gone/configmaps", configmap("a")),
                post("/apis/kubefn.dev/v1alpha1/namespaces/{ns}-gone/functions", fn("a", kHello)),
                // A get in a missing namespace names the object, not the namespace.
                get("/api/v1/namespaces/{ns}-gone/configmaps/a")}});
  t.push_back({"unknown_resources_are_404",
               {get("/api/v1/namespaces/{ns}/widgets"), get("/api/v1/namespaces/{ns}/widgets/x"),
                get("/apis/kubefn.dev/v1alpha1/namespaces/{ns}/widgets"),
                get("/apis/kubefn.dev/v9/namespaces/{ns}/functions"),
                get("/apis/nogroup.example.com/v1/namespaces/{ns}/widgets"),
                // A built-in group answers with a Status, a custom resource group does not.
                get("/apis/apps/v1/namespaces/{ns}/widgets"), get("/apis/apps/v9/deployments"),
                get("/apis/nogroup.example.com"), get("/apis/kubefn.dev/v1alpha1/functions/x"),
                // An unknown subresource of a custom resource names the object.
                get(fn_path("x", "bogus"))}});

  // --- names ------------------------------------------------------------------------------------
  t.push_back({"create_of_an_existing_name_is_409",
               {post(kFunctions, fn("a", kHello)), post(kFunctions, fn("a", kHello)),
                post(kConfigMaps, configmap("c")), post(kConfigMaps, configmap("c"))}});
  t.push_back({"invalid_and_missing_names_are_422",
               {post(kFunctions, fn("Bad_Name", kHello)),
                post(kFunctions, R"({"apiVersion":"kubefn.dev/v1alpha1","kind":"Function",)"
                                 R"("metadata":{},"spec":{"handler":"a.b"}})"),
                post(kConfigMaps, configmap("Bad_Name")),
                post(kFunctions, fn(std::string(254, 'a'), kHello))}});
  t.push_back({"name_in_body_must_match_the_url",
               {post(kFunctions, fn("a", kHello)).saving("a"),
                put(fn_path("a"), fn("b", kHello, R"(,"resourceVersion":"{a.rv}")"))}});

  // --- bodies that are not a Function
  // -------------------------------------------------------------
  t.push_back(
      {"malformed_bodies_are_400",
       {post(kFunctions, R"({"apiVersion":"kubefn.dev/v1alpha1","kind":"Function","metadata":{"n)"),
        post(kFunctions, ""),
        post(kConfigMaps, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c")"),
        post(kFunctions,
             R"({"kind":"Function","metadata":{"name":"a4"},"spec":{"handler":"a.b"}})"),
        post(kFunctions, R"({"apiVersion":"kubefn.dev/v2","kind":"Function","metadata":)"
                         R"({"name":"a5"},"spec":{"handler":"a.b"}})"),
        post(kFunctions, R"({"apiVersion":"kubefn.dev/v1alpha1","kind":"Other","metadata":)"
                         R"({"name":"a6"},"spec":{"handler":"a.b"}})"),
        post(kFunctions, fn("a7", kHello, R"(,"namespace":"elsewhere")")),
        post(kConfigMaps, "not json"), post(kConfigMaps, "[1,2]"),
        post(kConfigMaps, R"({"apiVersion":"v1","kind":5})"),
        post(kFunctions, R"({"apiVersion":"kubefn.dev/v1alpha1","metadata":{"name":"a8"}})"),
        post(kFunctions, R"({"apiVersion":"kubefn.dev/v1alpha1/x","kind":"Function"})"),
        request("POST", kFunctions, fn("a9", kHello), "text/plain"),
        request("POST", kConfigMaps, configmap("c9"), "text/plain")}});

  // --- CRD schema (crds/function.yaml): one violation per request, then several -----------------
  t.push_back({"schema_wrong_type",
               {post(kFunctions, fn("t1", R"({"handler":5})")),
                post(kFunctions, fn("t2", R"({"handler":"a.b","timeout":1.5})")),
                post(kFunctions, fn("t3", R"({"handler":"a.b","scaling":{"target":"high"}})")),
                post(kFunctions, fn("t4", R"({"handler":"a.b","secrets":"one"})")),
                post(kFunctions, fn("t5", R"({"handler":"a.b","scaling":[1]})"))}});
  t.push_back({"schema_enum",
               {post(kFunctions, fn("e1", R"({"handler":"a.b","runtime":"go"})")),
                post(kFunctions, fn("e2", R"({"handler":"a.b","access":"world"})")),
                post(kFunctions, fn("e3", R"({"handler":"a.b","scaling":{"metric":"cpu"}})"))}});
  t.push_back(
      {"schema_pattern",
       {post(kFunctions, fn("p1", R"({"handler":"nodot"})")),
        post(kFunctions, fn("p2", R"({"handler":"a.b","source":{"url":"ftp://x"}})")),
        post(kFunctions, fn("p3", R"({"handler":"a.b","dependencies":["Bad Pkg"]})")),
        post(kFunctions, fn("p4", R"({"handler":"a.b","triggers":{"http":{"path":"rel"}}})"))}});
  t.push_back({"schema_minimum_and_maximum",
               {post(kFunctions, fn("m1", R"({"handler":"a.b","timeout":0})")),
                post(kFunctions, fn("m2", R"({"handler":"a.b","timeout":3601})")),
                post(kFunctions, fn("m3", R"({"handler":"a.b","concurrency":20000})")),
                post(kFunctions, fn("m4", R"({"handler":"a.b","scaling":{"stableWindow":5}})")),
                // exclusiveMinimum: 0 itself is out.
                post(kFunctions, fn("m5", R"({"handler":"a.b","scaling":{"target":0}})")),
                // spec.replicas is also the scale subresource's specReplicasPath: two causes.
                post(kFunctions, fn("m6", R"({"handler":"a.b","replicas":-1})"))}});
  t.push_back({"schema_max_length_and_max_items",
               {post(kFunctions, fn("l1", R"({"handler":")" + long_handler() + "\"}")),
                post(kFunctions, fn("l2", R"({"handler":"a.b","secrets":[")" +
                                              std::string(254, 's') + "\"]}"))}});
  t.push_back({"schema_required",
               {post(kFunctions, fn("r1", "{}")),
                post(kFunctions, fn("r2", R"({"handler":"a.b","source":{"configMapRef":{}}})")),
                post(kFunctions, fn("r3", R"({"handler":"a.b","env":[{"value":"x"}]})"))}});
  t.push_back(
      {"schema_several_violations_at_once",
       {post(kFunctions, fn("s1", R"({"handler":"a.b","runtime":"go","access":"x"})")),
        post(kFunctions, fn("s2", R"({"handler":"a.b","timeout":0,"concurrency":20000})"))}});
  t.push_back({"schema_applies_to_status_updates",
               {post(kFunctions, fn("st", kHello)),
                merge_patch(fn_path("st", "status"),
                            R"({"status":{"conditions":[{"type":"Ready","status":"Maybe"}]}})"),
                merge_patch(fn_path("st", "status"), R"({"status":{"replicas":"three"}})"),
                // An update is validated too, not only a create.
                merge_patch(fn_path("st"), R"({"spec":{"timeout":-5}})")}});

  // --- fieldValidation --------------------------------------------------------------------------
  const std::string unknown = fn("u", R"({"handler":"a.b","bogus":1,"scaling":{"nope":true}})",
                                 R"(,"bogusMeta":1)", R"(,"top":1)");
  // Custom resources only: built-in kinds have no schema in the emulator, so it neither rejects
  // nor reports their unknown fields (README, "What it does not emulate").
  t.push_back({"field_validation_strict_rejects_unknown_fields",
               {post(kFunctions + "?fieldValidation=Strict", unknown)}});
  t.push_back({"field_validation_warn_prunes_and_warns",
               {post(kFunctions + "?fieldValidation=Warn", unknown), get(fn_path("u"))}});
  t.push_back({"field_validation_ignore_prunes_silently",
               {post(kFunctions + "?fieldValidation=Ignore", unknown), get(fn_path("u"))}});
  t.push_back({"field_validation_default_is_warn", {post(kFunctions, unknown), get(fn_path("u"))}});
  t.push_back({"field_validation_unknown_value_is_422",
               {post(kFunctions + "?fieldValidation=Bogus", fn("a", kHello))}});
  t.push_back({"field_validation_strict_on_updates",
               {post(kFunctions, fn("a", kHello)),
                put(fn_path("a") + "?fieldValidation=Strict",
                    fn("a", R"({"handler":"a.b","bogus":2})", R"(,"resourceVersion":"{rv}")")),
                // The real message embeds the whole patched object; only its tail is compared.
                merge_patch(fn_path("a") + "?fieldValidation=Strict", R"({"spec":{"bogus":1}})")
                    .comparing({"strict-tail"}),
                merge_patch(fn_path("a") + "?fieldValidation=Warn", R"({"spec":{"bogus":1}})")}});
  const std::string duplicate =
      R"({"apiVersion":"kubefn.dev/v1alpha1","kind":"Function","metadata":{"name":"d"},)"
      R"("spec":{"handler":"a.b","handler":"c.d"}})";
  t.push_back({"duplicate_json_keys",
               {post(kFunctions + "?fieldValidation=Strict", duplicate),
                // Warn stores the last value and says so.
                post(kFunctions + "?fieldValidation=Warn", duplicate), get(fn_path("d"))}});
  // Bodies in YAML (what `kubectl create --raw` or curl users send): duplicate keys under
  // Strict, unknown fields under Warn. (A name like "y" would be a YAML 1.1 boolean.)
  t.push_back({"yaml_bodies",
               {post(kFunctions + "?fieldValidation=Strict",
                     fn_yaml("yml", "  handler: a.b\n  handler: c.d\n  extra: 1\n"))
                    .typed("application/yaml"),
                post(kFunctions + "?fieldValidation=Warn",
                     fn_yaml("yml", "  handler: a.b\n  timeout: 9\n  extra: 1\n"))
                    .typed("application/yaml")}});

  // --- updates ----------------------------------------------------------------------------------
  t.push_back(
      {"stale_resource_version_is_409",
       {post(kFunctions, fn("a", kHello)).saving("old"),
        merge_patch(fn_path("a"), R"({"spec":{"timeout":10}})"),
        put(fn_path("a"), fn("a", kHello, R"(,"resourceVersion":"{old.rv}")")),
        put(kConfigMaps + "/c", configmap("c")).comparing({"/kind"}),
        post(kConfigMaps, configmap("c")).saving("cm"),
        merge_patch(kConfigMaps + "/c", R"({"data":{"a":"2"}})"),
        put(kConfigMaps + "/c", R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c",)"
                                R"("resourceVersion":"{cm.rv}"}})")}});
  t.push_back(
      {"unconditional_put",
       {post(kFunctions, fn("a", kHello)),
        // A custom resource needs a resourceVersion on update...
        put(fn_path("a"), fn("a", R"({"handler":"x.y"})")),
        // ...a ConfigMap does not.
        post(kConfigMaps, configmap("c")),
        put(kConfigMaps + "/c", R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},)"
                                R"("data":{"z":"9"}})")}});

  // --- status and scale subresources ------------------------------------------------------------
  t.push_back(
      {"status_on_create_is_dropped",
       {post(kFunctions, fn("a", kHello, "", R"(,"status":{"replicas":3})")), get(fn_path("a"))}});
  t.push_back({"status_endpoint_ignores_spec_and_metadata",
               {post(kFunctions, fn("a", kHello)),
                merge_patch(fn_path("a", "status"),
                            R"({"spec":{"handler":"changed.x"},"metadata":{"labels":{"l":"v"},)"
                            R"("annotations":{"n":"1"},"finalizers":["kubefn.dev/x"]},)"
                            R"("status":{"replicas":3,"readyReplicas":2,"image":"img:1"}})"),
                get(fn_path("a", "status")),
                put(fn_path("a", "status"),
                    fn("a", R"({"handler":"other.y"})", R"(,"resourceVersion":"{rv}")",
                       R"(,"status":{"replicas":4})"))}});
  t.push_back({"main_endpoint_ignores_status",
               {post(kFunctions, fn("a", kHello)),
                merge_patch(fn_path("a", "status"), R"({"status":{"replicas":3}})"),
                merge_patch(fn_path("a"), R"({"spec":{"timeout":9},"status":{"replicas":7}})"),
                put(fn_path("a"), fn("a", kHello, R"(,"resourceVersion":"{rv}")",
                                     R"(,"status":{"replicas":8})"))}});
  t.push_back({"generation_counts_spec_changes_only",
               {post(kFunctions, fn("a", kHello)),
                merge_patch(fn_path("a"), R"({"metadata":{"labels":{"l":"v"}}})"),
                merge_patch(fn_path("a"), R"({"metadata":{"annotations":{"n":"1"}}})"),
                merge_patch(fn_path("a", "status"), R"({"status":{"replicas":1}})"),
                merge_patch(fn_path("a"), R"({"spec":{"timeout":9}})"),
                // Same value again: no change, no new generation.
                merge_patch(fn_path("a"), R"({"spec":{"timeout":9}})"),
                merge_patch(fn_path("a"), R"({"spec":{"replicas":2}})")}});
  t.push_back(
      {"scale_reads_and_writes_spec_replicas",
       {post(kFunctions, fn("a", R"({"handler":"a.b","replicas":2})")),
        merge_patch(fn_path("a", "status"), R"({"status":{"replicas":1,"selector":"x=y"}})"),
        get(fn_path("a", "scale")),
        put(fn_path("a", "scale"),
            R"({"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"a"},)"
            R"("spec":{"replicas":5}})"),
        get(fn_path("a")), merge_patch(fn_path("a", "scale"), R"({"spec":{"replicas":0}})"),
        get(fn_path("a")), merge_patch(fn_path("a", "scale"), R"({"spec":{"replicas":-2}})"),
        put(fn_path("a", "scale"),
            R"({"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"a",)"
            R"("resourceVersion":"1"},"spec":{"replicas":3}})"),
        get(fn_path("missing", "scale"))}});
  t.push_back({"scale_without_spec_replicas",
               {post(kFunctions, fn("a", kHello)), get(fn_path("a", "scale"))}});

  // --- patches ----------------------------------------------------------------------------------
  t.push_back({"json_merge_patch",
               {post(kFunctions, fn("a", R"({"handler":"a.b","secrets":["s1","s2"],)"
                                         R"("scaling":{"maxReplicas":3}})")),
                merge_patch(fn_path("a"), R"({"metadata":{"labels":{"l":"v"}},"spec":{"secrets":)"
                                          R"(["s3"],"scaling":{"maxReplicas":null},"timeout":7}})"),
                merge_patch(fn_path("a"), R"({"spec":{"image":"i:1","timeout":null}})"),
                merge_patch(fn_path("a"), "{\"spec\":"), merge_patch(fn_path("a"), "[1]"),
                merge_patch(fn_path("a") + "?fieldValidation=Ignore", "{\"spec\":"),
                // The object is read before the patch is decoded.
                merge_patch(fn_path("nothing"), "{\"spec\":")}});
  t.push_back(
      {"json_patch",
       {post(kFunctions, fn("a", kHello)),
        json_patch(fn_path("a"), R"([{"op":"test","path":"/spec/handler","value":"hello.greet"},)"
                                 R"({"op":"replace","path":"/spec/handler","value":"n.x"},)"
                                 R"({"op":"add","path":"/spec/secrets","value":["s1"]},)"
                                 R"({"op":"add","path":"/spec/secrets/-","value":"s2"},)"
                                 R"({"op":"remove","path":"/spec/timeout"}])"),
        // A failing test op changes nothing.
        json_patch(fn_path("a"), R"([{"op":"test","path":"/spec/handler","value":"no.x"},)"
                                 R"({"op":"replace","path":"/spec/handler","value":"q.q"}])"),
        json_patch(fn_path("a"), R"([{"op":"remove","path":"/spec/nothere"}])"),
        json_patch(fn_path("a"), "not json"), json_patch(fn_path("a"), R"({"op":"add"})"),
        json_patch(fn_path("a"), "[1]"),
        json_patch(fn_path("a") + "?fieldValidation=Ignore", "not json"),
        json_patch(fn_path("a") + "?fieldValidation=Ignore", "{}"), get(fn_path("a"))}});
  t.push_back({"strategic_merge_patch",
               {post(kFunctions, fn("a", kHello)),
                // Custom resources have no strategic merge patch.
                strategic_patch(fn_path("a"), R"({"spec":{"handler":"q.q"}})"),
                post(kConfigMaps, configmap("c")),
                strategic_patch(kConfigMaps + "/c", R"({"data":{"a":null,"n":"3"}})")}});
  t.push_back({"unsupported_patch_type_is_415",
               {post(kFunctions, fn("a", kHello)),
                request("PATCH", fn_path("a"), R"({"spec":{}})", "text/plain"),
                // Built-in kinds also take strategic merge patches.
                post(kConfigMaps, configmap("c")),
                request("PATCH", kConfigMaps + "/c", R"({"data":{}})", "text/plain"),
                strategic_patch(kConfigMaps + "/c", "not json"),
                strategic_patch(kConfigMaps + "/c", "[1]")}});

  // --- server-side apply ------------------------------------------------------------------------
  t.push_back(
      {"apply_creates_and_updates",
       {apply(fn_path("s") + "?fieldManager=alice",
              fn_yaml("s", "  handler: a.b\n  timeout: 30\n  concurrency: 5\n"))
            .comparing({"object", "apply-managers"}),
        apply(fn_path("s") + "?fieldManager=alice",
              fn_yaml("s", "  handler: a.b\n  timeout: 60\n  concurrency: 5\n"))
            .comparing({"object", "apply-managers"}),
        // alice stops applying concurrency: removed, so defaulted again.
        apply(fn_path("s") + "?fieldManager=alice", fn_yaml("s", "  handler: a.b\n"))
            .comparing({"object", "apply-managers"}),
        // The body may be JSON too.
        apply(fn_path("s") + "?fieldManager=alice", fn("s", R"({"handler":"a.b","timeout":5})"))
            .comparing({"object", "apply-managers"})}});
  t.push_back(
      {"apply_conflict_between_managers_and_force",
       {apply(fn_path("s") + "?fieldManager=alice",
              fn_yaml("s", "  handler: a.b\n  timeout: 30\n")),
        // Same value: shared ownership, no conflict.
        apply(fn_path("s") + "?fieldManager=carol", fn_yaml("s", "  handler: a.b\n"))
            .comparing({"object", "apply-managers"}),
        apply(fn_path("s") + "?fieldManager=bob", fn_yaml("s", "  handler: x.y\n  timeout: 60\n")),
        // One conflict reads inline.
        apply(fn_path("s") + "?fieldManager=dave", fn_yaml("s", "  timeout: 90\n")),
        apply(fn_path("s") + "?fieldManager=bob&force=true",
              fn_yaml("s", "  handler: x.y\n  timeout: 60\n"))
            .comparing({"object", "apply-managers"})}});
  // Apply types the configuration against the schema before anything else (500), then
  // validates the result like any write (422).
  t.push_back(
      {"apply_types_the_configuration",
       {apply(fn_path("s") + "?fieldManager=alice", fn_yaml("s", "  handler: a.b\n  bogus: 1\n")),
        apply(fn_path("s") + "?fieldManager=alice",
              fn_yaml("s", "  handler: a.b\n  timeout: soon\n")),
        apply(fn_path("s") + "?fieldManager=alice", fn_yaml("s", "  handler: nodot\n"))}});
  t.push_back(
      {"apply_needs_a_field_manager",
       {apply(fn_path("s"), fn_yaml("s", "  handler: a.b\n")),
        apply(fn_path("s") + "?fieldManager=alice", fn_yaml("other", "  handler: a.b\n"))}});

  // --- deletion ---------------------------------------------------------------------------------
  t.push_back(
      {"delete_preconditions",
       {post(kFunctions, fn("a", kHello)),
        del(fn_path("a"), R"({"kind":"DeleteOptions","apiVersion":"v1",)"
                          R"("preconditions":{"uid":"00000000-0000-0000-0000-000000000000"}})"),
        del(fn_path("a"), R"({"kind":"DeleteOptions","apiVersion":"v1",)"
                          R"("preconditions":{"resourceVersion":"1"}})")
            .comparing({"status-digits"}),
        del(fn_path("a"), R"({"kind":"DeleteOptions","apiVersion":"v1",)"
                          R"("preconditions":{"uid":"{uid}"}})"),
        get(fn_path("a"))}});
  t.push_back(
      {"finalizers_hold_a_deleted_object",
       {post(kFunctions, fn("a", kHello, R"(,"finalizers":["kubefn.dev/hold"])")),
        del(fn_path("a")), get(fn_path("a")),
        // Deleting again changes nothing.
        del(fn_path("a")),
        merge_patch(fn_path("a"),
                    R"({"metadata":{"finalizers":["kubefn.dev/hold","kubefn.dev/new"]}})"),
        merge_patch(fn_path("a"), R"({"metadata":{"finalizers":["kubefn.dev/z","kubefn.dev/hold",)"
                                  R"("kubefn.dev/new"]}})"),
        // The spec can still change (and bumps the generation).
        merge_patch(fn_path("a"), R"({"spec":{"timeout":5}})"),
        merge_patch(fn_path("a"), R"({"metadata":{"finalizers":null}})"), get(fn_path("a"))}});
  t.push_back({"delete_answers",
               {post(kFunctions, fn("a", kHello)), del(fn_path("a")),
                post(kConfigMaps, configmap("c")), del(kConfigMaps + "/c"),
                // A DeleteOptions body that does not decode.
                post(kConfigMaps, configmap("d")), del(kConfigMaps + "/d", "{")}});

  // --- lists and selectors ----------------------------------------------------------------------
  t.push_back({"label_and_field_selectors",
               {post(kFunctions, fn("a", kHello, R"(,"labels":{"app":"x","tier":"web"})")),
                post(kFunctions, fn("b", kHello, R"(,"labels":{"app":"y"})")),
                post(kFunctions, fn("c", kHello, R"(,"labels":{"app":"x","canary":"true"})")),
                get(kFunctions), get(kFunctions + "?labelSelector=app%3Dx"),
                get(kFunctions + "?labelSelector=app%21%3Dx"),
                get(kFunctions + "?labelSelector=app+in+(x,y),!canary"),
                get(kFunctions + "?labelSelector=tier+notin+(web)"),
                get(kFunctions + "?labelSelector=tier"),
                get(kFunctions + "?fieldSelector=metadata.name%3Db"),
                get(kFunctions + "?fieldSelector=metadata.namespace%3D{ns}"),
                // Numeric comparisons.
                post(kFunctions, fn("d", kHello, R"(,"labels":{"n":"5"})")),
                get(kFunctions + "?labelSelector=n%3E3"), get(kFunctions + "?labelSelector=n%3C3"),
                get(kFunctions + "?labelSelector=app%3D%3Dx,n+notin+(5,)")}});
  t.push_back({"list_pages_with_limit_and_continue",
               {post(kFunctions, fn("a", kHello)), post(kFunctions, fn("b", kHello)),
                post(kFunctions, fn("c", kHello)), get(kFunctions + "?limit=2").comparing({"page"}),
                get(kFunctions + "?limit=2&continue={continue}").comparing({"page"}),
                get(kFunctions + "?limit=0").comparing({"page"}),
                // A selective list does not count what remains.
                get(kFunctions + "?limit=1&labelSelector=%21x").comparing({"page"})}});
  t.push_back(
      {"invalid_selectors_are_400",
       {get(kFunctions + "?labelSelector=app%3D%3D%3Dx"), get(kFunctions + "?labelSelector=a+in+x"),
        get(kFunctions + "?labelSelector=Bad%20Key%3Dx"),
        get(kFunctions + "?fieldSelector=spec.handler%3Dx"),
        get(kConfigMaps + "?fieldSelector=data.a%3D1"), get(kFunctions + "?labelSelector=a%3Ex"),
        get(kFunctions + "?labelSelector=-a"), get(kFunctions + "?labelSelector=a%3Db_"),
        get(kFunctions + "?labelSelector=a,,b"), get(kFunctions + "?labelSelector=%3Dx"),
        get(kFunctions + "?labelSelector=a+in+(x"),
        get("/api/v1/namespaces/{ns}/secrets?fieldSelector=data.a%3D1"),
        get("/apis/batch/v1/namespaces/{ns}/jobs?fieldSelector=spec.x%3D1")}});

  // --- Table output -----------------------------------------------------------------------------
  t.push_back(
      {"table_output",
       {post(kFunctions, fn("a", kHello)),
        merge_patch(fn_path("a", "status"),
                    R"({"status":{"readyReplicas":2,"image":"img:1","url":"http://a",)"
                    R"("conditions":[{"type":"Ready","status":"True","reason":"Up"}]}})"),
        post(kFunctions, fn("b", kHello)), get(kFunctions).with_header(kAcceptTable),
        get(fn_path("a")).with_header(kAcceptTable),
        get(kFunctions + "?includeObject=None").with_header(kAcceptTable),
        post(kConfigMaps, configmap("c")),
        // Selected: the cluster's root CA publisher adds kube-root-ca.crt to every namespace.
        get(kConfigMaps + "?fieldSelector=metadata.name%3Dc").with_header(kAcceptTable),
        get(kConfigMaps + "/c").with_header(kAcceptTable),
        post("/api/v1/namespaces/{ns}/secrets",
             R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"data":{"k":"dg=="}})")
            .comparing({"/kind", "/type"}),
        get("/api/v1/namespaces/{ns}/secrets?fieldSelector=metadata.name%3Ds")
            .with_header(kAcceptTable)}});

  // --- built-in kinds
  // -----------------------------------------------------------------------------
  t.push_back(
      {"deployment_defaults",
       {post(kDeployments,
             R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},)"
             R"("spec":{"selector":{"matchLabels":{"app":"d"}},"template":{"metadata":)"
             R"({"labels":{"app":"d"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}})")
            // Only the defaults the emulator's README claims ("Deployment basics").
            .comparing({"/metadata/generation", "/spec/replicas", "/spec/revisionHistoryLimit",
                        "/spec/progressDeadlineSeconds", "/spec/strategy"}),
        get(kDeployments + "/d/scale").comparing({"/kind", "/apiVersion", "/spec"}),
        merge_patch(kDeployments + "/d/scale", R"({"spec":{"replicas":0}})")
            .comparing({"/kind", "/spec"})}});
  t.push_back({"version", {get("/version").comparing({"version"})}});

  return t;
}

// ---------------------------------------------------------------------------------------------
// Normalising and comparing answers.

// Replaces {name} for every variable.
std::string expand(std::string text, const std::map<std::string, std::string>& vars) {
  for (const auto& [name, value] : vars) {
    const std::string key = "{" + name + "}";
    for (auto at = text.find(key); at != std::string::npos; at = text.find(key, at + value.size()))
      text.replace(at, key.size(), value);
  }
  return text;
}

std::string url_encode(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// What legitimately differs inside strings: uids, timestamps and the namespace's name.
std::string normal_string(std::string s, const std::string& ns) {
  static const std::regex uid("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  static const std::regex time(
      "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z");
  s = std::regex_replace(s, uid, "<uid>");
  s = std::regex_replace(s, time, "<time>");
  if (!ns.empty()) {
    for (auto at = s.find(ns); at != std::string::npos; at = s.find(ns, at + 4))
      s.replace(at, ns.size(), "<ns>");
  }
  return s;
}

void normalise(json& j, const std::string& ns) {
  if (j.is_object()) {
    for (auto& [key, value] : j.items()) {
      if ((key == "resourceVersion" || key == "uid") && value.is_string()) {
        value = "<" + key + ">";
      } else {
        normalise(value, ns);
      }
    }
  } else if (j.is_array()) {
    for (auto& v : j)
      normalise(v, ns);
  } else if (j.is_string()) {
    j = normal_string(j.get<std::string>(), ns);
  }
}

// The real server gathers a 422's errors from Go maps, so their order changes from one
// request to the next: put the causes, and the "[a, b]" list in the message, in sorted order.
void canonical_error_order(json& status) {
  if (!status.is_object() || status.value("kind", "") != "Status") return;
  auto causes = status.value("/details/causes"_json_pointer, json());
  if (!causes.is_array() || causes.size() < 2) return;
  std::vector<std::string> parts;
  for (const auto& c : causes) {
    const std::string field = c.value("field", "");
    parts.push_back(field.empty() ? c.value("message", "") : field + ": " + c.value("message", ""));
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& p : v)
      out += (out.empty() ? "" : ", ") + p;
    return "[" + out + "]";
  };
  const std::string message = status.value("message", "");
  const std::string listed = join(parts);
  if (message.size() > listed.size() &&
      message.compare(message.size() - listed.size(), listed.size(), listed) == 0) {
    auto sorted = parts;
    std::sort(sorted.begin(), sorted.end());
    status["message"] = message.substr(0, message.size() - listed.size()) + join(sorted);
  }
  std::vector<json> v(causes.begin(), causes.end());
  std::sort(v.begin(), v.end(), [](const json& a, const json& b) { return a.dump() < b.dump(); });
  status["details"]["causes"] = v;
}

json at(const json& doc, const std::string& pointer) {
  const json::json_pointer p(pointer);
  return doc.contains(p) ? doc.at(p) : json("<absent>");
}

// What a user relies on in an object: identity, generation, labels and the like, finalizers,
// deletion, and its content.
json object_view(const json& doc) {
  json v = json::object();
  for (const char* p :
       {"/apiVersion", "/kind", "/metadata/name", "/metadata/namespace", "/metadata/generation",
        "/metadata/labels", "/metadata/annotations", "/metadata/finalizers",
        "/metadata/deletionTimestamp", "/metadata/deletionGracePeriodSeconds",
        "/metadata/ownerReferences", "/spec", "/status", "/data", "/type"}) {
    const json::json_pointer ptr(p);
    if (doc.contains(ptr)) v[std::string(p).substr(1)] = doc.at(ptr);
  }
  return v;
}

json table_view(const json& doc) {
  json columns = json::array();
  int age = -1;
  for (const auto& c : doc.value("columnDefinitions", json::array())) {
    if (c.value("name", "") == "Age") age = static_cast<int>(columns.size());
    columns.push_back({{"name", c.value("name", "")},
                       {"type", c.value("type", "")},
                       {"format", c.value("format", "")},
                       {"priority", c.value("priority", 0)}});
  }
  json rows = json::array();
  for (const auto& r : doc.value("rows", json::array())) {
    json cells = r.value("cells", json::array());
    // Ages tick: "3s" on one server may be "4s" on the other.
    if (age >= 0 && age < static_cast<int>(cells.size()) && cells[age].is_string())
      cells[age] = "<age>";
    json object = r.value("object", json());
    if (object.is_object()) {
      object = {{"kind", object.value("kind", "")},
                {"apiVersion", object.value("apiVersion", "")},
                {"name", at(object, "/metadata/name")}};
    }
    rows.push_back({{"cells", cells}, {"object", object}});
  }
  return {{"kind", doc.value("kind", "")},
          {"apiVersion", doc.value("apiVersion", "")},
          {"columns", columns},
          {"rows", rows}};
}

json project(const std::string& what, const std::optional<json>& doc, const std::string& text) {
  if (what == "text" || !doc) return text;
  if (what == "status") return *doc;
  if (what == "object") return object_view(*doc);
  if (what == "table") return table_view(*doc);
  if (what == "items") {
    std::vector<std::string> names;
    for (const auto& item : doc->value("items", json::array()))
      names.push_back(item.value("/metadata/name"_json_pointer, "<no name>"));
    std::sort(names.begin(), names.end());
    return {{"kind", doc->value("kind", "")},
            {"apiVersion", doc->value("apiVersion", "")},
            {"names", names}};
  }
  if (what == "page") {
    json names = json::array();
    for (const auto& item : doc->value("items", json::array()))
      names.push_back(item.value("/metadata/name"_json_pointer, "<no name>"));
    return {{"names", names},
            {"continues", !doc->value("/metadata/continue"_json_pointer, "").empty()},
            {"remainingItemCount", at(*doc, "/metadata/remainingItemCount")}};
  }
  if (what == "apply-managers") {
    // Only Apply managers: the emulator does not track Update managers (README).
    json managers = json::array();
    for (const auto& m : doc->value("/metadata/managedFields"_json_pointer, json::array())) {
      if (m.value("operation", "") != "Apply") continue;
      managers.push_back({{"manager", m.value("manager", "")},
                          {"apiVersion", m.value("apiVersion", "")},
                          {"fieldsType", m.value("fieldsType", "")},
                          {"fieldsV1", m.value("fieldsV1", json())}});
    }
    // By name: the real server's order depends on timing (it sorts by second, then name).
    std::sort(managers.begin(), managers.end(), [](const json& a, const json& b) {
      return a.value("manager", "") < b.value("manager", "");
    });
    return managers;
  }
  if (what == "version") return {{"major", at(*doc, "/major")}, {"minor", at(*doc, "/minor")}};
  if (what == "strict-tail") {
    const std::string message = doc->value("message", "");
    const auto tail = message.find("strict decoding error:");
    return {{"reason", doc->value("reason", "")},
            {"code", doc->value("code", 0)},
            {"message", tail == std::string::npos ? message : "..." + message.substr(tail)}};
  }
  if (!what.empty() && what.front() == '/') return at(*doc, what);
  return "<unknown comparison " + what + ">";
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// The comparable view of one answer.
json view(const Step& step, const RawResponse& r, const std::string& ns) {
  std::optional<json> doc;
  try {
    if (!r.body.empty()) doc = json::parse(r.body);
    if (doc && !doc->is_object()) doc.reset();
  } catch (const json::exception&) {
    doc.reset();
  }
  if (doc) {
    normalise(*doc, ns);
    canonical_error_order(*doc);
  }
  json v = {{"code", r.status}};
  json warnings = json::array();
  for (const auto& w : r.all("warning"))
    warnings.push_back(normal_string(w, ns));
  v["warnings"] = warnings;
  std::vector<std::string> what = step.compare;
  if (what.empty()) {
    const std::string kind = doc ? doc->value("kind", "") : "";
    if (!doc) {
      what = {"text"};
    } else if (kind == "Status") {
      what = {"status"};
    } else if (kind == "Table") {
      what = {"table"};
    } else if (kind.size() > 4 && kind.ends_with("List")) {
      what = {"items"};
    } else {
      what = {"object"};
    }
  }
  for (const auto& w : what)
    v[w] = project(w, doc, normal_string(trim(r.body), ns));
  return v;
}

// Leaves of a view as pointer -> JSON text, for a field-by-field account of a difference.
void flatten(const json& j, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (j.is_object() && !j.empty()) {
    for (const auto& [k, v] : j.items())
      flatten(v, prefix + "/" + k, out);
  } else if (j.is_array() && !j.empty()) {
    for (std::size_t i = 0; i < j.size(); ++i)
      flatten(j[i], prefix + "/" + std::to_string(i), out);
  } else {
    out[prefix.empty() ? "/" : prefix] = j.dump();
  }
}

std::string describe_difference(const json& real, const json& emu) {
  std::ostringstream out;
  // Different kinds of answer (an object against a Status): the field list would be noise.
  bool same_shape = true;
  for (const auto& [k, _] : real.items())
    same_shape = same_shape && emu.contains(k);
  for (const auto& [k, _] : emu.items())
    same_shape = same_shape && real.contains(k);
  if (same_shape) {
    std::map<std::string, std::string> a, b;
    flatten(real, "", a);
    flatten(emu, "", b);
    std::map<std::string, bool> keys;
    for (const auto& [k, _] : a)
      keys[k] = true;
    for (const auto& [k, _] : b)
      keys[k] = true;
    for (const auto& [k, _] : keys) {
      const auto ia = a.find(k), ib = b.find(k);
      const std::string va = ia == a.end() ? "(none)" : ia->second;
      const std::string vb = ib == b.end() ? "(none)" : ib->second;
      if (va == vb) continue;
      out << "  " << k << "\n    kube-apiserver: " << va << "\n    emulator:       " << vb << "\n";
    }
  }
  out << "kube-apiserver's answer:\n" << real.dump(2) << "\nemulator's answer:\n" << emu.dump(2);
  return out.str();
}

// ---------------------------------------------------------------------------------------------
// The fixture: a namespace on the cluster, an emulator with a namespace of the same name, and
// the Function CRD applied on both.

std::string kubectl_path() {
  return test_kubectl(KUBEFN_DEFAULT_KUBECTL);
}

class ApiFidelity : public ::testing::TestWithParam<Case> {
 protected:
  struct Side {
    std::string label;
    std::unique_ptr<TestApi> api;
    RawServer server;
    std::map<std::string, std::string> vars;
  };

  void SetUp() override {
    const std::string cluster_dir = dir_.file("cluster"), emu_dir = dir_.file("emulator");
    std::filesystem::create_directories(cluster_dir);
    std::filesystem::create_directories(emu_dir);
    scratch_ = dir_.file("requests");
    std::filesystem::create_directories(scratch_);

    real_.label = "kube-apiserver";
    real_.api = std::make_unique<TestApi>(ApiKind::kCluster, KUBEFN_EMULATOR_BIN, cluster_dir,
                                          "fid-" + GetParam().name, kubectl_path());
    ASSERT_TRUE(real_.api->error().empty()) << real_.api->error();
    const std::string pki = real_.api->cluster_dir() + "/pki/";
    real_.server = {real_.api->server(), pki + "ca.crt", pki + "admin.crt", pki + "admin.key"};
    ns_ = real_.api->ns();

    emu_.label = "emulator";
    emu_.api = std::make_unique<TestApi>(ApiKind::kEmulator, KUBEFN_EMULATOR_BIN, emu_dir,
                                         GetParam().name, kubectl_path());
    ASSERT_TRUE(emu_.api->error().empty()) << emu_.api->error();
    emu_.server = {emu_.api->server(), "", "", ""};
    const json ns_object = {
        {"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns_}}}};
    auto made = send_raw(emu_.server, {"POST", "/api/v1/namespaces", kJson, ns_object.dump(), {}},
                         scratch_);
    ASSERT_EQ(made.status, 201) << made.error << made.body;

    for (Side* side : {&real_, &emu_}) {
      side->vars["ns"] = ns_;
      install_crd(*side);
      if (HasFatalFailure()) return;
    }
  }

  // kubectl apply (the cluster's CRD is shared by concurrent tests: apply, never delete; a
  // concurrent apply can conflict, so retry), then wait until Functions are served.
  void install_crd(Side& side) {
    CommandResult applied;
    const bool ok = wait_until(
        [&] {
          applied = run_command({kubectl_path(), "--kubeconfig", side.api->admin_kubeconfig(),
                                 "--cache-dir", dir_.file("kube-cache-" + side.label), "apply",
                                 "-f", std::string(KUBEFN_SOURCE_DIR) + "/crds/function.yaml"},
                                {}, seconds(30));
          return applied.exit_code == 0;
        },
        seconds(30), milliseconds(500));
    ASSERT_TRUE(ok) << side.label << ": kubectl apply of the CRD: " << applied.err;
    RawResponse listed;
    const bool served = wait_until(
        [&] {
          listed =
              send_raw(side.server, {"GET", expand(kFunctions, side.vars), "", "", {}}, scratch_);
          return listed.status == 200;
        },
        seconds(30), milliseconds(100));
    ASSERT_TRUE(served) << side.label << " does not serve Functions: " << listed.status << " "
                        << listed.error << listed.body;
  }

  RawResponse send(Side& side, const Step& step) {
    RawRequest req{step.method, expand(step.target, side.vars), step.content_type,
                   expand(step.body, side.vars), step.headers};
    RawResponse r = send_raw(side.server, req, scratch_);
    // Remember the object's identity for later steps' {rv}, {uid}, {<save>.rv}, and a list's
    // {continue} token.
    try {
      const json doc = json::parse(r.body);
      const std::string token = doc.value("/metadata/continue"_json_pointer, "");
      if (!token.empty()) side.vars["continue"] = url_encode(token);
      const std::string rv = doc.value("/metadata/resourceVersion"_json_pointer, "");
      const std::string uid = doc.value("/metadata/uid"_json_pointer, "");
      const std::string kind = doc.value("kind", "");
      if (!rv.empty() && !uid.empty() && kind != "Status" && !kind.ends_with("List")) {
        side.vars["rv"] = rv;
        side.vars["uid"] = uid;
        if (!step.save.empty()) {
          side.vars[step.save + ".rv"] = rv;
          side.vars[step.save + ".uid"] = uid;
        }
      }
    } catch (const json::exception&) {
    }
    return r;
  }

  TempDir dir_;
  std::string scratch_;
  std::string ns_;
  Side real_;
  Side emu_;
};

TEST_P(ApiFidelity, Answers) {
  const Case& c = GetParam();
  for (std::size_t i = 0; i < c.steps.size(); ++i) {
    const Step& step = c.steps[i];
    const std::string label = "step " + std::to_string(i + 1) + ": " + step.method + " " +
                              step.target + (step.body.empty() ? "" : " " + step.body);
    const RawResponse a = send(real_, step);
    const RawResponse b = send(emu_, step);
    ASSERT_TRUE(a.error.empty()) << label << ": kube-apiserver: " << a.error;
    ASSERT_TRUE(b.error.empty()) << label << ": emulator: " << b.error;
    const json va = view(step, a, ns_), vb = view(step, b, ns_);
    EXPECT_TRUE(va == vb) << label << "\nthe emulator answers differently:\n"
                          << describe_difference(va, vb);
  }
}

INSTANTIATE_TEST_SUITE_P(Cluster, ApiFidelity, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace kubefn::testing
