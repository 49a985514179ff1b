// CRD schema enforcement and fieldValidation over real HTTP. Every expected message below was
// copied from a real kube-apiserver v1.34.4 answering the same request against the same schema
// (where it lists several errors in an order of its own, the emulator's order is the sorted one).

#include "emulator_fixture.hpp"

namespace kubefn::emulator::testing {
namespace {

using nlohmann::json;

constexpr char kGadgets[] = "/apis/emulator.kubefn.dev/v1/namespaces/default/gadgets";
constexpr char kCrds[] = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

// One schema exercising every keyword the emulator enforces.
json gadget_crd() {
  return json::parse(R"({
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.emulator.kubefn.dev"},
    "spec": {"group": "emulator.kubefn.dev", "scope": "Namespaced",
      "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
      "versions": [{"name": "v1", "served": true, "storage": true,
        "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
          "statusReplicasPath": ".status.replicas", "labelSelectorPath": ".status.selector"}},
        "schema": {"openAPIV3Schema": {"type": "object", "properties": {
          "spec": {"type": "object", "required": ["name"], "properties": {
            "name": {"type":"string","minLength":2,"maxLength":5,"pattern":"^[a-z]+$"},
            "color": {"type":"string","enum":["red","blue"]},
            "runes": {"type":"string","maxLength":3},
            "short": {"type":"string","minLength":3},
            "num": {"type":"number","minimum":0,"exclusiveMinimum":true,"maximum":10.5,"multipleOf":0.5},
            "count": {"type":"integer","minimum":1,"maximum":10,"multipleOf":2},
            "big": {"type":"integer","format":"int32"},
            "flag": {"type":"boolean"},
            "nul": {"type":"string","nullable":true},
            "nonnul": {"type":"string"},
            "defaulted": {"type":"string","default":"dflt"},
            "replicas": {"type":"integer"},
            "when": {"type":"string","format":"date-time"},
            "day": {"type":"string","format":"date"},
            "id": {"type":"string","format":"uuid"},
            "ip": {"type":"string","format":"ipv4"},
            "b64": {"type":"string","format":"byte"},
            "i32s": {"type":"string","format":"int32"},
            "tags": {"type":"array","items":{"type":"string"},"maxItems":2,"minItems":1,"x-kubernetes-list-type":"set"},
            "ports": {"type":"array","x-kubernetes-list-type":"map","x-kubernetes-list-map-keys":["port"],
                      "items":{"type":"object","required":["port"],"properties":{"port":{"type":"integer"},"name":{"type":"string"}}}},
            "labels": {"type":"object","additionalProperties":{"type":"string"},"maxProperties":2,"minProperties":1},
            "closed": {"type":"object","additionalProperties":false},
            "ios": {"x-kubernetes-int-or-string":true},
            "iosp": {"x-kubernetes-int-or-string":true,"anyOf":[{"type":"integer"},{"type":"string"}],"pattern":"^[0-9]+%$"},
            "free": {"type":"object","x-kubernetes-preserve-unknown-fields":true},
            "numenum": {"type":"integer","enum":[1,2]},
            "objenum": {"type":"object","x-kubernetes-preserve-unknown-fields":true,"enum":[{"a":1}]},
            "oneof": {"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"oneOf":[{"required":["a"]},{"required":["b"]}]},
            "anyof": {"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"anyOf":[{"required":["a"]},{"required":["b"]}]},
            "allof": {"type":"object","properties":{"a":{"type":"string","maxLength":3}},"allOf":[{"properties":{"a":{"minLength":2}}},{"required":["a"]}]},
            "notf": {"type":"string","not":{"enum":["bad"]}},
            "template": {"type":"object","x-kubernetes-embedded-resource":true,"x-kubernetes-preserve-unknown-fields":true}}},
          "status": {"type":"object","properties":{"phase":{"type":"string","enum":["Ready","Failed"]},
            "replicas":{"type":"integer"},"selector":{"type":"string"},
            "conditions":{"type":"array","x-kubernetes-list-type":"map","x-kubernetes-list-map-keys":["type"],
              "items":{"type":"object","required":["type","status"],"properties":{"type":{"type":"string"},
                "status":{"type":"string","enum":["True","False","Unknown"]}}}}}}}}}}]}})");
}

json gadget(const std::string& name, const json& spec) {
  json g = {
      {"apiVersion", "emulator.kubefn.dev/v1"}, {"kind", "Gadget"}, {"metadata", {{"name", name}}}};
  if (!spec.is_null()) g["spec"] = spec;
  return g;
}

struct Cause {
  std::string reason;
  std::string field;
  std::string message;
};

// A 422 Invalid Status for `name`, with exactly these causes.
void expect_invalid(const HttpReply& r, const std::string& name, const std::string& message,
                    const std::vector<Cause>& causes, const std::string& context) {
  ASSERT_EQ(r.status, 422) << context << ": " << r.body;
  const auto s = r.json();
  EXPECT_EQ(s["kind"], "Status") << context;
  EXPECT_EQ(s["reason"], "Invalid") << context;
  EXPECT_EQ(s["code"], 422) << context;
  EXPECT_EQ(s["message"], message) << context;
  EXPECT_EQ(s["details"]["name"], name) << context;
  EXPECT_EQ(s["details"]["group"], "emulator.kubefn.dev") << context;
  EXPECT_EQ(s["details"]["kind"], "Gadget") << context;
  ASSERT_EQ(s["details"]["causes"].size(), causes.size()) << context << ": " << r.body;
  for (std::size_t i = 0; i < causes.size(); ++i) {
    const auto& c = s["details"]["causes"][i];
    EXPECT_EQ(c["reason"], causes[i].reason) << context << " cause " << i;
    EXPECT_EQ(c["field"], causes[i].field) << context << " cause " << i;
    EXPECT_EQ(c["message"], causes[i].message) << context << " cause " << i;
  }
}

std::string warning(const std::string& text) {
  std::string quoted;
  for (char c : text) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return "299 - \"" + quoted + "\"";
}

class SchemaValidationTest : public EmulatorTest {
 protected:
  void SetUp() override {
    auto r = http_.post(kCrds, gadget_crd());
    ASSERT_EQ(r.status, 201) << r.body;
  }

  HttpReply send(const std::string& method, const std::string& target, const std::string& body,
                 const std::string& content_type = "application/json") {
    return http_.request(method, target, body,
                         RequestOptions{content_type, "application/json", ""});
  }
};

TEST_F(SchemaValidationTest, CreateRejectsWhatTheSchemaForbids) {
  struct Case {
    std::string name;
    std::string spec;
    std::string message;
    std::vector<Cause> causes;
  };
  // clang-format off
  const std::vector<Case> cases = {
      {"type-int-string", R"~({"name":"ab","count":"x"})~",
       R"~(Gadget.emulator.kubefn.dev "type-int-string" is invalid: spec.count: Invalid value: "string": spec.count in body must be of type integer: "string")~",
       {{"FieldValueTypeInvalid", "spec.count",
         R"~(Invalid value: "string": spec.count in body must be of type integer: "string")~"}}},
      {"type-string-int", R"~({"name":5})~",
       R"~(Gadget.emulator.kubefn.dev "type-string-int" is invalid: spec.name: Invalid value: "integer": spec.name in body must be of type string: "integer")~",
       {{"FieldValueTypeInvalid", "spec.name",
         R"~(Invalid value: "integer": spec.name in body must be of type string: "integer")~"}}},
      {"type-int-float", R"~({"name":"ab","count":1.5})~",
       R"~(Gadget.emulator.kubefn.dev "type-int-float" is invalid: [spec.count: Invalid value: "number": spec.count in body must be of type integer: "number", spec.count: Invalid value: 1.5: spec.count in body should be a multiple of 2])~",
       {{"FieldValueTypeInvalid", "spec.count",
         R"~(Invalid value: "number": spec.count in body must be of type integer: "number")~"},
        {"FieldValueInvalid", "spec.count",
         R"~(Invalid value: 1.5: spec.count in body should be a multiple of 2)~"}}},
      {"type-spec-array", R"~([1,2])~",
       R"~(Gadget.emulator.kubefn.dev "type-spec-array" is invalid: [spec: Invalid value: "array": spec in body must be of type object: "array", .spec.replicas: Invalid value: 0: .spec.replicas accessor error: [1 2] is of the type []interface {}, expected map[string]interface{}])~",
       {{"FieldValueTypeInvalid", "spec",
         R"~(Invalid value: "array": spec in body must be of type object: "array")~"},
        {"FieldValueInvalid", ".spec.replicas",
         R"~(Invalid value: 0: .spec.replicas accessor error: [1 2] is of the type []interface {}, expected map[string]interface{})~"}}},
      {"enum-string", R"~({"name":"ab","color":"green"})~",
       R"~(Gadget.emulator.kubefn.dev "enum-string" is invalid: spec.color: Unsupported value: "green": supported values: "red", "blue")~",
       {{"FieldValueNotSupported", "spec.color",
         R"~(Unsupported value: "green": supported values: "red", "blue")~"}}},
      {"enum-int", R"~({"name":"ab","numenum":3})~",
       R"~(Gadget.emulator.kubefn.dev "enum-int" is invalid: spec.numenum: Unsupported value: 3: supported values: "1", "2")~",
       {{"FieldValueNotSupported", "spec.numenum",
         R"~(Unsupported value: 3: supported values: "1", "2")~"}}},
      {"enum-int-string", R"~({"name":"ab","numenum":"1"})~",
       R"~(Gadget.emulator.kubefn.dev "enum-int-string" is invalid: [spec.numenum: Invalid value: "string": spec.numenum in body must be of type integer: "string", spec.numenum: Unsupported value: "1": supported values: "1", "2"])~",
       {{"FieldValueTypeInvalid", "spec.numenum",
         R"~(Invalid value: "string": spec.numenum in body must be of type integer: "string")~"},
        {"FieldValueNotSupported", "spec.numenum",
         R"~(Unsupported value: "1": supported values: "1", "2")~"}}},
      {"enum-object", R"~({"name":"ab","objenum":{"a":2}})~",
       R"~(Gadget.emulator.kubefn.dev "enum-object" is invalid: spec.objenum: Unsupported value: {"a":2}: supported values: "{\"a\":1}")~",
       {{"FieldValueNotSupported", "spec.objenum",
         R"~(Unsupported value: {"a":2}: supported values: "{\"a\":1}")~"}}},
      {"pattern", R"~({"name":"ABC"})~",
       R"~(Gadget.emulator.kubefn.dev "pattern" is invalid: spec.name: Invalid value: "ABC": spec.name in body should match '^[a-z]+$')~",
       {{"FieldValueInvalid", "spec.name",
         R"~(Invalid value: "ABC": spec.name in body should match '^[a-z]+$')~"}}},
      {"minlength", R"~({"name":"a"})~",
       R"~(Gadget.emulator.kubefn.dev "minlength" is invalid: spec.name: Invalid value: "a": spec.name in body should be at least 2 chars long)~",
       {{"FieldValueInvalid", "spec.name",
         R"~(Invalid value: "a": spec.name in body should be at least 2 chars long)~"}}},
      {"maxlength", R"~({"name":"abcdef"})~",
       R"~(Gadget.emulator.kubefn.dev "maxlength" is invalid: spec.name: Too long: may not be more than 5 bytes)~",
       {{"FieldValueTooLong", "spec.name",
         R"~(Too long: may not be more than 5 bytes)~"}}},
      {"maxlength-runes-bad", R"~({"name":"ab","runes":"éééé"})~",
       R"~(Gadget.emulator.kubefn.dev "maxlength-runes-bad" is invalid: spec.runes: Too long: may not be more than 3 bytes)~",
       {{"FieldValueTooLong", "spec.runes",
         R"~(Too long: may not be more than 3 bytes)~"}}},
      {"minlength-runes", R"~({"name":"ab","short":"éé"})~",
       R"~(Gadget.emulator.kubefn.dev "minlength-runes" is invalid: spec.short: Invalid value: "éé": spec.short in body should be at least 3 chars long)~",
       {{"FieldValueInvalid", "spec.short",
         R"~(Invalid value: "éé": spec.short in body should be at least 3 chars long)~"}}},
      {"num-exclusive-min", R"~({"name":"ab","num":0})~",
       R"~(Gadget.emulator.kubefn.dev "num-exclusive-min" is invalid: [spec.num: Invalid value: 0: factor MultipleOf declared for spec.num must be positive: 0, spec.num: Invalid value: 0: spec.num in body should be greater than 0])~",
       {{"FieldValueInvalid", "spec.num",
         R"~(Invalid value: 0: factor MultipleOf declared for spec.num must be positive: 0)~"},
        {"FieldValueInvalid", "spec.num",
         R"~(Invalid value: 0: spec.num in body should be greater than 0)~"}}},
      {"num-max", R"~({"name":"ab","num":11})~",
       R"~(Gadget.emulator.kubefn.dev "num-max" is invalid: [spec.num: Invalid value: 0: factor MultipleOf declared for spec.num must be positive: 0, spec.num: Invalid value: 11: spec.num in body should be less than or equal to 10])~",
       {{"FieldValueInvalid", "spec.num",
         R"~(Invalid value: 0: factor MultipleOf declared for spec.num must be positive: 0)~"},
        {"FieldValueInvalid", "spec.num",
         R"~(Invalid value: 11: spec.num in body should be less than or equal to 10)~"}}},
      {"num-multiple", R"~({"name":"ab","num":0.3})~",
       R"~(Gadget.emulator.kubefn.dev "num-multiple" is invalid: spec.num: Invalid value: 0.3: spec.num in body should be a multiple of 0.5)~",
       {{"FieldValueInvalid", "spec.num",
         R"~(Invalid value: 0.3: spec.num in body should be a multiple of 0.5)~"}}},
      {"count-min-multiple", R"~({"name":"ab","count":0})~",
       R"~(Gadget.emulator.kubefn.dev "count-min-multiple" is invalid: spec.count: Invalid value: 0: spec.count in body should be greater than or equal to 1)~",
       {{"FieldValueInvalid", "spec.count",
         R"~(Invalid value: 0: spec.count in body should be greater than or equal to 1)~"}}},
      {"count-max-multiple", R"~({"name":"ab","count":11})~",
       R"~(Gadget.emulator.kubefn.dev "count-max-multiple" is invalid: [spec.count: Invalid value: 11: spec.count in body should be a multiple of 2, spec.count: Invalid value: 11: spec.count in body should be less than or equal to 10])~",
       {{"FieldValueInvalid", "spec.count",
         R"~(Invalid value: 11: spec.count in body should be a multiple of 2)~"},
        {"FieldValueInvalid", "spec.count",
         R"~(Invalid value: 11: spec.count in body should be less than or equal to 10)~"}}},
      {"count-float-max", R"~({"name":"ab","count":12.0})~",
       R"~(Gadget.emulator.kubefn.dev "count-float-max" is invalid: spec.count: Invalid value: 12: spec.count in body should be less than or equal to 10)~",
       {{"FieldValueInvalid", "spec.count",
         R"~(Invalid value: 12: spec.count in body should be less than or equal to 10)~"}}},
      {"required-name", R"~({"color":"red"})~",
       R"~(Gadget.emulator.kubefn.dev "required-name" is invalid: spec.name: Required value)~",
       {{"FieldValueRequired", "spec.name",
         R"~(Required value)~"}}},
      {"required-item", R"~({"name":"ab","ports":[{"name":"a"}]})~",
       R"~(Gadget.emulator.kubefn.dev "required-item" is invalid: spec.ports[0].port: Required value)~",
       {{"FieldValueRequired", "spec.ports[0].port",
         R"~(Required value)~"}}},
      {"maxitems", R"~({"name":"ab","tags":["a","b","c"]})~",
       R"~(Gadget.emulator.kubefn.dev "maxitems" is invalid: spec.tags: Too many: 3: must have at most 2 items)~",
       {{"FieldValueTooMany", "spec.tags",
         R"~(Too many: 3: must have at most 2 items)~"}}},
      {"minitems", R"~({"name":"ab","tags":[]})~",
       R"~(Gadget.emulator.kubefn.dev "minitems" is invalid: spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items)~",
       {{"FieldValueInvalid", "spec.tags",
         R"~(Invalid value: 0: spec.tags in body should have at least 1 items)~"}}},
      {"set-duplicate", R"~({"name":"ab","tags":["a","a"]})~",
       R"~(Gadget.emulator.kubefn.dev "set-duplicate" is invalid: spec.tags[1]: Duplicate value: "a")~",
       {{"FieldValueDuplicate", "spec.tags[1]",
         R"~(Duplicate value: "a")~"}}},
      {"map-duplicate", R"~({"name":"ab","ports":[{"port":80},{"port":80,"name":"x"},{"port":80}]})~",
       R"~(Gadget.emulator.kubefn.dev "map-duplicate" is invalid: spec.ports[1]: Duplicate value: {"port":80})~",
       {{"FieldValueDuplicate", "spec.ports[1]",
         R"~(Duplicate value: {"port":80})~"}}},
      {"map-notobject", R"~({"name":"ab","ports":[{"port":80},5]})~",
       R"~(Gadget.emulator.kubefn.dev "map-notobject" is invalid: [spec.ports[1]: Invalid value: "integer": spec.ports[1] in body must be of type object: "integer", spec.ports[1]: Invalid value: 5: must be an object for an array of list-type map])~",
       {{"FieldValueTypeInvalid", "spec.ports[1]",
         R"~(Invalid value: "integer": spec.ports[1] in body must be of type object: "integer")~"},
        {"FieldValueInvalid", "spec.ports[1]",
         R"~(Invalid value: 5: must be an object for an array of list-type map)~"}}},
      {"maxproperties", R"~({"name":"ab","labels":{"a":"1","b":"2","c":"3"}})~",
       R"~(Gadget.emulator.kubefn.dev "maxproperties" is invalid: spec.labels: Too many: 3: must have at most 2 items)~",
       {{"FieldValueTooMany", "spec.labels",
         R"~(Too many: 3: must have at most 2 items)~"}}},
      {"minproperties", R"~({"name":"ab","labels":{}})~",
       R"~(Gadget.emulator.kubefn.dev "minproperties" is invalid: spec.labels: Invalid value: 0: spec.labels in body should have at least 1 properties)~",
       {{"FieldValueInvalid", "spec.labels",
         R"~(Invalid value: 0: spec.labels in body should have at least 1 properties)~"}}},
      {"additional-type", R"~({"name":"ab","labels":{"a":1}})~",
       R"~(Gadget.emulator.kubefn.dev "additional-type" is invalid: spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer")~",
       {{"FieldValueTypeInvalid", "spec.labels.a",
         R"~(Invalid value: "integer": spec.labels.a in body must be of type string: "integer")~"}}},
      {"additional-false", R"~({"name":"ab","closed":{"x":1,"y":2}})~",
       R"~(Gadget.emulator.kubefn.dev "additional-false" is invalid: [spec.closed: Invalid value: "x": spec.closed.x in body is a forbidden property, spec.closed: Invalid value: "y": spec.closed.y in body is a forbidden property])~",
       {{"FieldValueInvalid", "spec.closed",
         R"~(Invalid value: "x": spec.closed.x in body is a forbidden property)~"},
        {"FieldValueInvalid", "spec.closed",
         R"~(Invalid value: "y": spec.closed.y in body is a forbidden property)~"}}},
      {"ios-float", R"~({"name":"ab","ios":1.5})~",
       R"~(Gadget.emulator.kubefn.dev "ios-float" is invalid: spec.ios: Invalid value: "number": spec.ios in body must be of type integer,string: "number")~",
       {{"FieldValueTypeInvalid", "spec.ios",
         R"~(Invalid value: "number": spec.ios in body must be of type integer,string: "number")~"}}},
      {"iosp-pattern", R"~({"name":"ab","iosp":"50"})~",
       R"~(Gadget.emulator.kubefn.dev "iosp-pattern" is invalid: spec.iosp: Invalid value: "50": spec.iosp in body should match '^[0-9]+%$')~",
       {{"FieldValueInvalid", "spec.iosp",
         R"~(Invalid value: "50": spec.iosp in body should match '^[0-9]+%$')~"}}},
      {"oneof-none", R"~({"name":"ab","oneof":{}})~",
       R"~(Gadget.emulator.kubefn.dev "oneof-none" is invalid: [<nil>: Invalid value: "": "spec.oneof" must validate one and only one schema (oneOf). Found none valid, spec.oneof.a: Required value])~",
       {{"FieldValueInvalid", "<nil>",
         R"~(Invalid value: "": "spec.oneof" must validate one and only one schema (oneOf). Found none valid)~"},
        {"FieldValueRequired", "spec.oneof.a",
         R"~(Required value)~"}}},
      {"oneof-both", R"~({"name":"ab","oneof":{"a":"x","b":"y"}})~",
       R"~(Gadget.emulator.kubefn.dev "oneof-both" is invalid: <nil>: Invalid value: "": "spec.oneof" must validate one and only one schema (oneOf). Found 2 valid alternatives)~",
       {{"FieldValueInvalid", "<nil>",
         R"~(Invalid value: "": "spec.oneof" must validate one and only one schema (oneOf). Found 2 valid alternatives)~"}}},
      {"anyof-none", R"~({"name":"ab","anyof":{}})~",
       R"~(Gadget.emulator.kubefn.dev "anyof-none" is invalid: [<nil>: Invalid value: "": "spec.anyof" must validate at least one schema (anyOf), spec.anyof.a: Required value])~",
       {{"FieldValueInvalid", "<nil>",
         R"~(Invalid value: "": "spec.anyof" must validate at least one schema (anyOf))~"},
        {"FieldValueRequired", "spec.anyof.a",
         R"~(Required value)~"}}},
      {"allof-min", R"~({"name":"ab","allof":{"a":"x"}})~",
       R"~(Gadget.emulator.kubefn.dev "allof-min" is invalid: [spec.allof.a: Invalid value: "x": spec.allof.a in body should be at least 2 chars long, <nil>: Invalid value: "": "spec.allof" must validate all the schemas (allOf)])~",
       {{"FieldValueInvalid", "spec.allof.a",
         R"~(Invalid value: "x": spec.allof.a in body should be at least 2 chars long)~"},
        {"FieldValueInvalid", "<nil>",
         R"~(Invalid value: "": "spec.allof" must validate all the schemas (allOf))~"}}},
      {"allof-max", R"~({"name":"ab","allof":{"a":"abcd"}})~",
       R"~(Gadget.emulator.kubefn.dev "allof-max" is invalid: spec.allof.a: Too long: may not be more than 3 bytes)~",
       {{"FieldValueTooLong", "spec.allof.a",
         R"~(Too long: may not be more than 3 bytes)~"}}},
      {"not", R"~({"name":"ab","notf":"bad"})~",
       R"~(Gadget.emulator.kubefn.dev "not" is invalid: <nil>: Invalid value: "": "spec.notf" must not validate the schema (not))~",
       {{"FieldValueInvalid", "<nil>",
         R"~(Invalid value: "": "spec.notf" must not validate the schema (not))~"}}},
      {"null-in-array", R"~({"name":"ab","tags":[null]})~",
       R"~(Gadget.emulator.kubefn.dev "null-in-array" is invalid: spec.tags[0]: Invalid value: "null": spec.tags[0] in body must be of type string: "null")~",
       {{"FieldValueTypeInvalid", "spec.tags[0]",
         R"~(Invalid value: "null": spec.tags[0] in body must be of type string: "null")~"}}},
      {"datetime-bad", R"~({"name":"ab","when":"not a date"})~",
       R"~(Gadget.emulator.kubefn.dev "datetime-bad" is invalid: spec.when: Invalid value: "not a date": spec.when in body must be of type date-time: "not a date")~",
       {{"FieldValueTypeInvalid", "spec.when",
         R"~(Invalid value: "not a date": spec.when in body must be of type date-time: "not a date")~"}}},
      {"datetime-month", R"~({"name":"ab","when":"2024-13-01T00:00:00Z"})~",
       R"~(Gadget.emulator.kubefn.dev "datetime-month" is invalid: spec.when: Invalid value: "2024-13-01T00:00:00Z": spec.when in body must be of type date-time: "2024-13-01T00:00:00Z")~",
       {{"FieldValueTypeInvalid", "spec.when",
         R"~(Invalid value: "2024-13-01T00:00:00Z": spec.when in body must be of type date-time: "2024-13-01T00:00:00Z")~"}}},
      {"date-feb30", R"~({"name":"ab","day":"2024-02-30"})~",
       R"~(Gadget.emulator.kubefn.dev "date-feb30" is invalid: spec.day: Invalid value: "2024-02-30": spec.day in body must be of type date: "2024-02-30")~",
       {{"FieldValueTypeInvalid", "spec.day",
         R"~(Invalid value: "2024-02-30": spec.day in body must be of type date: "2024-02-30")~"}}},
      {"uuid-bad", R"~({"name":"ab","id":"xyz"})~",
       R"~(Gadget.emulator.kubefn.dev "uuid-bad" is invalid: spec.id: Invalid value: "xyz": spec.id in body must be of type uuid: "xyz")~",
       {{"FieldValueTypeInvalid", "spec.id",
         R"~(Invalid value: "xyz": spec.id in body must be of type uuid: "xyz")~"}}},
      {"ipv4-bad", R"~({"name":"ab","ip":"1.2.3"})~",
       R"~(Gadget.emulator.kubefn.dev "ipv4-bad" is invalid: spec.ip: Invalid value: "1.2.3": spec.ip in body must be of type ipv4: "1.2.3")~",
       {{"FieldValueTypeInvalid", "spec.ip",
         R"~(Invalid value: "1.2.3": spec.ip in body must be of type ipv4: "1.2.3")~"}}},
      {"byte-bad", R"~({"name":"ab","b64":"abc"})~",
       R"~(Gadget.emulator.kubefn.dev "byte-bad" is invalid: spec.b64: Invalid value: "abc": spec.b64 in body must be of type byte: "abc")~",
       {{"FieldValueTypeInvalid", "spec.b64",
         R"~(Invalid value: "abc": spec.b64 in body must be of type byte: "abc")~"}}},
      {"embedded-missing", R"~({"name":"ab","template":{}})~",
       R"~(Gadget.emulator.kubefn.dev "embedded-missing" is invalid: [spec.template.apiVersion: Required value, spec.template.kind: Required value])~",
       {{"FieldValueRequired", "spec.template.apiVersion",
         R"~(Required value)~"},
        {"FieldValueRequired", "spec.template.kind",
         R"~(Required value)~"}}},
      {"embedded-badkind", R"~({"name":"ab","template":{"apiVersion":"v1","kind":"Bad_Kind"}})~",
       R"~(Gadget.emulator.kubefn.dev "embedded-badkind" is invalid: spec.template.kind: Invalid value: "Bad_Kind": may have mixed case, but should otherwise match: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?'))~",
       {{"FieldValueInvalid", "spec.template.kind",
         R"~(Invalid value: "Bad_Kind": may have mixed case, but should otherwise match: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?'))~"}}},
      {"embedded-gv", R"~({"name":"ab","template":{"apiVersion":"a/b/c","kind":"X"}})~",
       R"~(Gadget.emulator.kubefn.dev "embedded-gv" is invalid: spec.template.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c)~",
       {{"FieldValueInvalid", "spec.template.apiVersion",
         R"~(Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c)~"}}},
      {"scale-negative", R"~({"name":"ab","replicas":-1})~",
       R"~(Gadget.emulator.kubefn.dev "scale-negative" is invalid: .spec.replicas: Invalid value: -1: should be a non-negative integer)~",
       {{"FieldValueInvalid", ".spec.replicas",
         R"~(Invalid value: -1: should be a non-negative integer)~"}}},
      {"scale-string", R"~({"name":"ab","replicas":"3"})~",
       R"~(Gadget.emulator.kubefn.dev "scale-string" is invalid: [spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string", .spec.replicas: Invalid value: 0: .spec.replicas accessor error: 3 is of the type string, expected int64])~",
       {{"FieldValueTypeInvalid", "spec.replicas",
         R"~(Invalid value: "string": spec.replicas in body must be of type integer: "string")~"},
        {"FieldValueInvalid", ".spec.replicas",
         R"~(Invalid value: 0: .spec.replicas accessor error: 3 is of the type string, expected int64)~"}}},
      {"scale-huge", R"~({"name":"ab","replicas":3000000000})~",
       R"~(Gadget.emulator.kubefn.dev "scale-huge" is invalid: .spec.replicas: Invalid value: 3000000000: should be less than or equal to 2147483647)~",
       {{"FieldValueInvalid", ".spec.replicas",
         R"~(Invalid value: 3000000000: should be less than or equal to 2147483647)~"}}},
      // Several errors: one cause each, the message lists them all.
      {"several", R"~({"name":5,"color":"green","count":11,"tags":["a","a"]})~",
       R"~(Gadget.emulator.kubefn.dev "several" is invalid: [spec.color: Unsupported value: "green": supported values: "red", "blue", spec.count: Invalid value: 11: spec.count in body should be a multiple of 2, spec.count: Invalid value: 11: spec.count in body should be less than or equal to 10, spec.name: Invalid value: "integer": spec.name in body must be of type string: "integer", spec.tags[1]: Duplicate value: "a"])~",
       {{"FieldValueNotSupported", "spec.color", R"~(Unsupported value: "green": supported values: "red", "blue")~"},
        {"FieldValueInvalid", "spec.count", R"~(Invalid value: 11: spec.count in body should be a multiple of 2)~"},
        {"FieldValueInvalid", "spec.count", R"~(Invalid value: 11: spec.count in body should be less than or equal to 10)~"},
        {"FieldValueTypeInvalid", "spec.name", R"~(Invalid value: "integer": spec.name in body must be of type string: "integer")~"},
        {"FieldValueDuplicate", "spec.tags[1]", R"~(Duplicate value: "a")~"}}},
  };
  // clang-format on
  for (const auto& c : cases) {
    auto r = send("POST", kGadgets, gadget(c.name, json::parse(c.spec)).dump());
    expect_invalid(r, c.name, c.message, c.causes, c.name);
    EXPECT_EQ(http_.get(std::string(kGadgets) + "/" + c.name).status, 404) << c.name;
  }
}

TEST_F(SchemaValidationTest, NameAndSchemaErrorsComeTogether) {
  auto r = send("POST", kGadgets, gadget("Bad_Name", {{"name", 5}}).dump());
  expect_invalid(
      r, "Bad_Name",
      R"~(Gadget.emulator.kubefn.dev "Bad_Name" is invalid: [metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'), spec.name: Invalid value: "integer": spec.name in body must be of type string: "integer"])~",
      {{"FieldValueInvalid", "metadata.name",
        R"~(Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'))~"},
       {"FieldValueTypeInvalid", "spec.name",
        R"~(Invalid value: "integer": spec.name in body must be of type string: "integer")~"}},
      "Bad_Name");
}

TEST_F(SchemaValidationTest, ValidObjectsStoreDefaultedAndPruned) {
  struct Case {
    std::string name;
    std::string spec;
    std::string stored;  // the spec the server keeps
  };
  // clang-format off
  const std::vector<Case> cases = {
      {"whole-float", R"({"name":"ab","count":2.0})", R"({"count":2,"defaulted":"dflt","name":"ab"})"},
      {"enum-float", R"({"name":"ab","numenum":1.0})", R"({"defaulted":"dflt","name":"ab","numenum":1})"},
      {"runes", R"({"name":"ab","runes":"ééé"})", R"({"defaulted":"dflt","name":"ab","runes":"ééé"})"},
      {"bounds", R"({"name":"ab","num":10.5,"count":10})", R"({"count":10,"defaulted":"dflt","name":"ab","num":10.5})"},
      {"int32-unchecked", R"({"name":"ab","big":99999999999,"i32s":"x"})", R"({"big":99999999999,"defaulted":"dflt","i32s":"x","name":"ab"})"},
      {"int-or-string", R"({"name":"ab","ios":"abc","iosp":5})", R"({"defaulted":"dflt","ios":"abc","iosp":5,"name":"ab"})"},
      {"nulls", R"({"name":"ab","nul":null,"nonnul":null,"defaulted":null})", R"({"defaulted":"dflt","name":"ab","nul":null})"},
      {"formats", R"({"name":"ab","when":"2024-02-29T23:59:59.123+02:00","day":"2024-02-29","id":"0f8fad5b-d9cb-469f-a165-70867728950e","ip":"10.0.0.1","b64":"YWJj"})",
       R"({"b64":"YWJj","day":"2024-02-29","defaulted":"dflt","id":"0f8fad5b-d9cb-469f-a165-70867728950e","ip":"10.0.0.1","name":"ab","when":"2024-02-29T23:59:59.123+02:00"})"},
      {"composition", R"({"name":"ab","oneof":{"a":"x"},"anyof":{"b":"y"},"allof":{"a":"xy"},"notf":"good"})",
       R"({"allof":{"a":"xy"},"anyof":{"b":"y"},"defaulted":"dflt","name":"ab","notf":"good","oneof":{"a":"x"}})"},
      {"pruned", R"({"name":"ab","bogus":1,"ports":[{"port":80,"x":1}],"free":{"a":{"b":[1]}},"labels":{"k":"v"}})",
       R"({"defaulted":"dflt","free":{"a":{"b":[1]}},"labels":{"k":"v"},"name":"ab","ports":[{"port":80}]})"},
      {"embedded", R"({"name":"ab","template":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","foo":1},"data":{"a":"b"}}})",
       R"({"defaulted":"dflt","name":"ab","template":{"apiVersion":"v1","data":{"a":"b"},"kind":"ConfigMap","metadata":{"name":"x"}}})"},
  };
  // clang-format on
  for (const auto& c : cases) {
    auto r = send("POST", kGadgets, gadget(c.name, json::parse(c.spec)).dump());
    ASSERT_EQ(r.status, 201) << c.name << ": " << r.body;
    EXPECT_EQ(r.json()["spec"], json::parse(c.stored)) << c.name;
    EXPECT_EQ(r.json()["spec"].dump(), json::parse(c.stored).dump()) << c.name << " (number types)";
    EXPECT_EQ(http_.get(std::string(kGadgets) + "/" + c.name).json()["spec"],
              json::parse(c.stored));
  }
}

TEST_F(SchemaValidationTest, FieldValidationDecidesWhatUnknownFieldsDo) {
  json body = gadget("unk", {{"name", "ab"}, {"foo", 1}, {"ports", {{{"port", 1}, {"x", 2}}}}});
  body["bogus"] = true;
  body["metadata"]["foo"] = "bar";
  body["status"] = {{"junk", 1}, {"phase", "Ready"}};
  const std::vector<std::string> unknown = {"metadata.foo", "bogus", "spec.foo", "spec.ports[0].x",
                                            "status.junk"};
  std::vector<std::string> warnings;
  for (const auto& u : unknown)
    warnings.push_back(warning("unknown field \"" + u + "\""));
  struct Case {
    std::string query;
    int status;
    std::string reason;
    std::string message;
    std::vector<std::string> warnings;
  };
  const std::vector<Case> cases = {
      {"?fieldValidation=Strict",
       400,
       "BadRequest",
       R"(Gadget in version "v1" cannot be handled as a Gadget: strict decoding error: unknown field "metadata.foo", unknown field "bogus", unknown field "spec.foo", unknown field "spec.ports[0].x", unknown field "status.junk")",
       {}},
      {"?fieldValidation=strict",
       422,
       "Invalid",
       R"(CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "strict": supported values: "", "Ignore", "Strict", "Warn")",
       {}},
      {"?fieldValidation=Warn", 201, "", "", warnings},
      {"", 201, "", "", warnings},
      {"?fieldValidation=Ignore", 201, "", "", {}},
  };
  for (const auto& c : cases) {
    http_.del(std::string(kGadgets) + "/unk");
    auto r = send("POST", kGadgets + c.query, body.dump());
    ASSERT_EQ(r.status, c.status) << c.query << ": " << r.body;
    EXPECT_EQ(r.header_values("warning"), c.warnings) << c.query;
    if (c.status >= 400) {
      EXPECT_EQ(r.json()["reason"], c.reason) << c.query;
      EXPECT_EQ(r.json()["message"], c.message) << c.query;
      continue;
    }
    // Stored pruned (status goes, as on every create with a status subresource).
    const auto stored = r.json();
    EXPECT_FALSE(stored.contains("bogus")) << c.query;
    EXPECT_FALSE(stored["metadata"].contains("foo")) << c.query;
    EXPECT_EQ(stored["spec"],
              json::parse(R"({"defaulted":"dflt","name":"ab","ports":[{"port":1}]})"));
    EXPECT_FALSE(stored.contains("status")) << c.query;
  }
  auto bad = send("POST", std::string(kGadgets) + "?fieldValidation=bogus",
                  gadget("x", {{"name", "ab"}}).dump());
  EXPECT_EQ(bad.status, 422);
  EXPECT_EQ(bad.json()["details"],
            json::parse(R"({"group":"meta.k8s.io","kind":"CreateOptions","causes":[
      {"reason":"FieldValueNotSupported","message":"Unsupported value: \"bogus\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"","field":"fieldValidation"}]})"));
}

TEST_F(SchemaValidationTest, DuplicateJsonFieldsAreStrictDecodingErrors) {
  const std::string dup =
      R"({"apiVersion":"emulator.kubefn.dev/v1","kind":"Gadget","metadata":{"name":"dup"},"spec":{"name":"ab","name":"cd","ports":[{"port":1,"port":2}]},"spec":{"name":"ef"}})";
  auto r = send("POST", std::string(kGadgets) + "?fieldValidation=Strict", dup);
  ASSERT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(
      r.json()["message"],
      R"(Gadget in version "v1" cannot be handled as a Gadget: strict decoding error: duplicate field "spec.name", duplicate field "spec.ports[0].port", duplicate field "spec")");
  r = send("POST", kGadgets, dup);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.header_values("warning"),
            (std::vector<std::string>{warning(R"(duplicate field "spec.name")"),
                                      warning(R"(duplicate field "spec.ports[0].port")"),
                                      warning(R"(duplicate field "spec")")}));
  EXPECT_EQ(r.json()["spec"]["name"], "ef") << "the last value wins";
}

TEST_F(SchemaValidationTest, UpdatesAndPatchesAreValidatedToo) {
  const std::string path = std::string(kGadgets) + "/upd";
  auto created = send("POST", kGadgets, gadget("upd", {{"name", "ab"}, {"count", 2}}).dump());
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string rv = rv_of(created.json());
  auto put_body = [&](json spec) {
    json b = gadget("upd", std::move(spec));
    b["metadata"]["resourceVersion"] = rv;
    return b.dump();
  };
  // PUT: strict decoding, parameter checks and the schema.
  auto r = send("PUT", path + "?fieldValidation=Strict", put_body({{"name", "ab"}, {"foo", 1}}));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(
      r.json()["message"],
      R"(Gadget in version "v1" cannot be handled as a Gadget: strict decoding error: unknown field "spec.foo")");
  r = send("PUT", path + "?fieldValidation=bogus", put_body({{"name", "ab"}}));
  EXPECT_EQ(
      r.json()["message"],
      R"(UpdateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "bogus": supported values: "", "Ignore", "Strict", "Warn")");
  r = send("PUT", path, put_body({{"name", "ab"}, {"count", 3}}));
  expect_invalid(
      r, "upd",
      R"(Gadget.emulator.kubefn.dev "upd" is invalid: spec.count: Invalid value: 3: spec.count in body should be a multiple of 2)",
      {{"FieldValueInvalid", "spec.count",
        "Invalid value: 3: spec.count in body should be a multiple of 2"}},
      "put");
  // Merge patch: a Strict failure quotes the patched object under the field "patch".
  r = send("PATCH", path + "?fieldValidation=Strict", R"({"spec":{"foo":1,"bar":2}})",
           "application/merge-patch+json");
  ASSERT_EQ(r.status, 422) << r.body;
  const std::string message = r.json()["message"];
  EXPECT_EQ(
      message.rfind(
          R"( "" is invalid: patch: Invalid value: "{\"apiVersion\":\"emulator.kubefn.dev/v1\",\"kind\":\"Gadget\",\"metadata\":{)",
          0),
      0u)
      << message;
  const std::string tail =
      R"(\"spec\":{\"bar\":2,\"count\":2,\"defaulted\":\"dflt\",\"foo\":1,\"name\":\"ab\"}}": strict decoding error: unknown field "spec.bar", unknown field "spec.foo")";
  EXPECT_EQ(message.substr(message.size() - tail.size()), tail) << message;
  EXPECT_EQ(r.json()["details"]["causes"][0]["field"], "patch");
  EXPECT_FALSE(r.json()["details"].contains("kind"));
  r = send("PATCH", path + "?fieldValidation=Strict", R"({"spec":{"count":4,"count":6}})",
           "application/merge-patch+json");
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find(R"(strict decoding error: duplicate field \"spec.count\")"),
            std::string::npos)
      << r.body;
  r = send("PATCH", path, R"({"spec":{"foo":1,"count":4}})", "application/merge-patch+json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header_values("warning"),
            std::vector<std::string>{warning(R"(unknown field "spec.foo")")});
  EXPECT_EQ(r.json()["spec"]["count"], 4);
  r = send("PATCH", path, R"({"spec":{"count":"x","color":"green"}})",
           "application/merge-patch+json");
  expect_invalid(
      r, "upd",
      R"~(Gadget.emulator.kubefn.dev "upd" is invalid: [spec.color: Unsupported value: "green": supported values: "red", "blue", spec.count: Invalid value: "string": spec.count in body must be of type integer: "string"])~",
      {{"FieldValueNotSupported", "spec.color",
        R"(Unsupported value: "green": supported values: "red", "blue")"},
       {"FieldValueTypeInvalid", "spec.count",
        R"(Invalid value: "string": spec.count in body must be of type integer: "string")"}},
      "merge");
  r = send("PATCH", path + "?fieldValidation=bogus", R"({"spec":{"count":4}})",
           "application/merge-patch+json");
  EXPECT_EQ(
      r.json()["message"],
      R"(PatchOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "bogus": supported values: "", "Ignore", "Strict", "Warn")");
  // JSON patch: the operations' own fields are checked first.
  const std::string ops = R"([{"op":"add","path":"/spec/foo","value":1,"extra":2}])";
  r = send("PATCH", path + "?fieldValidation=Strict", ops, "application/json-patch+json");
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(
      r.body.find(
          R"(strict decoding error: json patch unknown field \"[0].extra\", unknown field \"spec.foo\")"),
      std::string::npos)
      << r.body;
  r = send("PATCH", path + "?fieldValidation=Warn", ops, "application/json-patch+json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header_values("warning"),
            (std::vector<std::string>{warning(R"(json patch unknown field "[0].extra")"),
                                      warning(R"(unknown field "spec.foo")")}));
  r = send("PATCH", path, R"([{"op":"replace","path":"/spec/count","value":13}])",
           "application/json-patch+json");
  expect_invalid(
      r, "upd",
      R"~(Gadget.emulator.kubefn.dev "upd" is invalid: [spec.count: Invalid value: 13: spec.count in body should be a multiple of 2, spec.count: Invalid value: 13: spec.count in body should be less than or equal to 10])~",
      {{"FieldValueInvalid", "spec.count",
        "Invalid value: 13: spec.count in body should be a multiple of 2"},
       {"FieldValueInvalid", "spec.count",
        "Invalid value: 13: spec.count in body should be less than or equal to 10"}},
      "json patch");
}

TEST_F(SchemaValidationTest, ServerSideApplyTypesTheConfigurationFirst) {
  const std::string path = std::string(kGadgets) + "/ssa?fieldManager=t";
  const auto apply = [&](const std::string& query, const std::string& body) {
    return send("PATCH", path + query, body, "application/apply-patch+yaml");
  };
  struct Case {
    json spec;
    std::string detail;
  };
  const std::vector<Case> cases = {
      {{{"name", "ab"}, {"foo", 1}}, ".spec.foo: field not declared in schema"},
      {{{"name", "ab"}, {"count", "x"}},
       ".spec.count: expected numeric (int or float), got string"},
      {{{"name", 5}}, ".spec.name: expected string, got &value.valueUnstructured{Value:5}"},
      {{{"name", "ab"}, {"flag", "yes"}}, ".spec.flag: expected boolean, got &{yes}"},
      {{{"name", "ab"}, {"labels", "x"}}, ".spec.labels: expected map, got &{x}"},
      {{{"name", "ab"}, {"tags", {"a", "a"}}}, R"(.spec.tags: duplicate entries for key [="a"])"},
      {{{"name", "ab"}, {"ports", {{{"port", 1}}, {{"port", 1}}}}},
       ".spec.ports: duplicate entries for key [port=1]"},
  };
  for (const auto& c : cases) {
    for (const char* query : {"", "&fieldValidation=Ignore"}) {
      auto r = apply(query, gadget("ssa", c.spec).dump());
      ASSERT_EQ(r.status, 500) << r.body;
      EXPECT_EQ(
          r.json()["message"],
          "failed to create typed patch object (/ssa; emulator.kubefn.dev/v1, Kind=Gadget): " +
              c.detail);
      EXPECT_FALSE(r.json().contains("reason"));
    }
  }
  const std::string dup =
      R"({"apiVersion":"emulator.kubefn.dev/v1","kind":"Gadget","metadata":{"name":"ssa"},"spec":{"name":"ab","name":"cd"}})";
  auto r = apply("&fieldValidation=Strict", dup);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["message"],
            "error strict decoding YAML: error converting YAML to JSON: yaml: unmarshal errors:\n  "
            "line 1: key \"name\" already set in map");
  r = apply("&fieldValidation=Warn", dup);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.header_values("warning"),
            std::vector<std::string>{warning(R"(line 1: key "name" already set in map)")});
  r = apply("", gadget("ssa", {{"name", "ab"}, {"count", 13}}).dump());
  EXPECT_EQ(r.status, 422) << r.body;
  r = apply("", gadget("ssa", {{"name", "ab"}, {"count", 4}}).dump());
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["spec"], json::parse(R"({"count":4,"defaulted":"dflt","name":"ab"})"));
  r = send("PATCH", std::string(kGadgets) + "/ssa", gadget("ssa", {{"name", "ab"}}).dump(),
           "application/apply-patch+yaml");
  EXPECT_EQ(
      r.json()["message"],
      R"(PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch)");
}

TEST_F(SchemaValidationTest, StatusAndScaleSubresourcesValidateWhatTheyWrite) {
  const std::string path = std::string(kGadgets) + "/sub";
  ASSERT_EQ(send("POST", kGadgets, gadget("sub", {{"name", "ab"}}).dump()).status, 201);
  struct Case {
    std::string target;
    std::string patch;
    std::string message;
    std::vector<Cause> causes;
  };
  // clang-format off
  const std::vector<Case> cases = {
      {"/status", R"({"status":{"phase":"Bogus"}})",
       R"(Gadget.emulator.kubefn.dev "sub" is invalid: status.phase: Unsupported value: "Bogus": supported values: "Ready", "Failed")",
       {{"FieldValueNotSupported", "status.phase", R"(Unsupported value: "Bogus": supported values: "Ready", "Failed")"}}},
      {"/status", R"({"status":{"conditions":[{"type":"A","status":"True"},{"type":"A","status":"False"}]}})",
       R"(Gadget.emulator.kubefn.dev "sub" is invalid: status.conditions[1]: Duplicate value: {"type":"A"})",
       {{"FieldValueDuplicate", "status.conditions[1]", R"(Duplicate value: {"type":"A"})"}}},
      {"/status", R"({"status":{"conditions":[{"type":"A"}]}})",
       R"(Gadget.emulator.kubefn.dev "sub" is invalid: status.conditions[0].status: Required value)",
       {{"FieldValueRequired", "status.conditions[0].status", "Required value"}}},
      {"/status", R"({"status":{"replicas":"x"}})",
       R"(Gadget.emulator.kubefn.dev "sub" is invalid: [status.replicas: Invalid value: "string": replicas in body must be of type integer: "string", .status.replicas: Invalid value: 0: .status.replicas accessor error: x is of the type string, expected int64])",
       {{"FieldValueTypeInvalid", "status.replicas", R"(Invalid value: "string": replicas in body must be of type integer: "string")"},
        {"FieldValueInvalid", ".status.replicas", "Invalid value: 0: .status.replicas accessor error: x is of the type string, expected int64"}}},
      {"/scale", R"({"spec":{"replicas":-1}})",
       R"(Gadget.emulator.kubefn.dev "sub" is invalid: .spec.replicas: Invalid value: -1: should be a non-negative integer)",
       {{"FieldValueInvalid", ".spec.replicas", "Invalid value: -1: should be a non-negative integer"}}},
  };
  // clang-format on
  for (const auto& c : cases) {
    auto r = send("PATCH", path + c.target, c.patch, "application/merge-patch+json");
    expect_invalid(r, "sub", c.message, c.causes, c.patch);
  }
  auto r = send("PATCH", path + "/status?fieldValidation=Strict", R"({"status":{"junk":1}})",
                "application/merge-patch+json");
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find(R"(strict decoding error: unknown field \"status.junk\")"),
            std::string::npos);
  r = send("PATCH", path + "/status", R"({"status":{"phase":"Ready","replicas":1}})",
           "application/merge-patch+json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["status"], json::parse(R"({"phase":"Ready","replicas":1})"));
}

TEST_F(SchemaValidationTest, UpdatesRatchetUnchangedValues) {
  const std::string path = std::string(kGadgets) + "/rat";
  ASSERT_EQ(send("POST", kGadgets, gadget("rat", {{"name", "abcde"}}).dump()).status, 201);
  // Tighten the schema: the stored name is now too long.
  auto crd = http_.get(std::string(kCrds) + "/gadgets.emulator.kubefn.dev").json();
  crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
     ["name"]["maxLength"] = 3;
  ASSERT_EQ(http_.put(std::string(kCrds) + "/gadgets.emulator.kubefn.dev", crd).status, 200);
  auto r = send("PATCH", path, R"({"spec":{"count":4}})", "application/merge-patch+json");
  EXPECT_EQ(r.status, 200) << "an unchanged invalid value does not block other changes: " << r.body;
  r = send("PATCH", path, R"({"spec":{"name":"abcdf"}})", "application/merge-patch+json");
  expect_invalid(
      r, "rat",
      R"(Gadget.emulator.kubefn.dev "rat" is invalid: spec.name: Too long: may not be more than 3 bytes)",
      {{"FieldValueTooLong", "spec.name", "Too long: may not be more than 3 bytes"}}, "ratchet");
}

TEST(SchemaValidationSwitches, ValidationAndPruningCanBeTurnedOff) {
  for (const bool prune : {true, false}) {
    EmulatorOptions options;
    options.crd_schema_validation = false;
    options.crd_schema_pruning = prune;
    KubeEmulator emu(options);
    HttpClient http(emu.port());
    ASSERT_EQ(http.post(kCrds, gadget_crd()).status, 201);
    auto r = http.request("POST", std::string(kGadgets) + "?fieldValidation=Strict",
                          gadget("free", {{"name", 5}, {"count", 3}, {"foo", 1}}).dump());
    if (prune) {
      EXPECT_EQ(r.status, 400) << "unknown fields still follow fieldValidation: " << r.body;
      r = http.post(kGadgets, gadget("free", {{"name", 5}, {"count", 3}, {"foo", 1}}));
      ASSERT_EQ(r.status, 201) << r.body;
      EXPECT_EQ(r.json()["spec"], json::parse(R"({"count":3,"defaulted":"dflt","name":5})"));
      EXPECT_EQ(r.header_values("warning").size(), 1u);
    } else {
      ASSERT_EQ(r.status, 201) << r.body;
      EXPECT_EQ(r.json()["spec"], json::parse(R"({"count":3,"foo":1,"name":5})"));
      EXPECT_TRUE(r.header_values("warning").empty());
    }
  }
}

// The example a real server answers for a Function whose timeout is a string, byte for byte.
TEST(SchemaValidationFunction, TypeErrorMatchesTheRealServerByteForByte) {
  KubeEmulator emu;
  HttpClient http(emu.port());
  auto crd = json::parse(R"({
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "functions.kubefn.dev"},
    "spec": {"group": "kubefn.dev", "scope": "Namespaced",
      "names": {"plural": "functions", "singular": "function", "kind": "Function"},
      "versions": [{"name": "v1alpha1", "served": true, "storage": true, "subresources": {"status": {}},
        "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object",
          "required": ["handler"], "properties": {
            "handler": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_-]*\\.[A-Za-z_][A-Za-z0-9_]*$"},
            "timeout": {"type": "integer", "minimum": 1, "maximum": 3600, "default": 180}}}}}}}]}})");
  ASSERT_EQ(http.post(kCrds, crd).status, 201);
  auto r = http.post("/apis/kubefn.dev/v1alpha1/namespaces/default/functions",
                     json::parse(R"({"apiVersion":"kubefn.dev/v1alpha1","kind":"Function",
                       "metadata":{"name":"hello"},"spec":{"handler":"hello.greet","timeout":"x"}})"));
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(
      r.body,
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Function.kubefn.dev \"hello\" is invalid: spec.timeout: Invalid value: \"string\": spec.timeout in body must be of type integer: \"string\"","reason":"Invalid","details":{"name":"hello","group":"kubefn.dev","kind":"Function","causes":[{"reason":"FieldValueTypeInvalid","message":"Invalid value: \"string\": spec.timeout in body must be of type integer: \"string\"","field":"spec.timeout"}]},"code":422})"
      "\n");
}

}  // namespace
}  // namespace kubefn::emulator::testing
