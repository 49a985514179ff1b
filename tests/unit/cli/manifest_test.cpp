#include "kubefn/cli/manifest.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "kubefn/testing/temp_dir.hpp"

namespace kubefn::cli {
namespace {

using nlohmann::json;

const char* kTwoFunctions = R"(# leading comment
apiVersion: kubefn.dev/v1alpha1
kind: Function
metadata:
  name: hello
spec:
  handler: hello.greet
  timeout: 30
  image: "registry.local/hello:1"
---
---
# only a comment
---
apiVersion: kubefn.dev/v1alpha1
kind: Function
metadata: {name: echo, namespace: team, annotations: {flag: "true"}}
spec:
  handler: echo.echo
  source:
    inline: |
      line one
      line two
  scaling: {minReplicas: 0, target: 2.5}
  access: public
  dependencies: [zlib1g-dev]
  extra: ~
)";

TEST(Manifest, MultiDocumentYamlBecomesObjects) {
  auto parsed = parse_manifests(kTwoFunctions, "fns.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  ASSERT_EQ(parsed->size(), 2u);
  const json& hello = (*parsed)[0].object;
  EXPECT_EQ((*parsed)[0].document, 1);
  EXPECT_EQ((*parsed)[1].document, 2);  // empty and comment-only documents do not count
  EXPECT_EQ(hello["metadata"]["name"], "hello");
  EXPECT_EQ(hello["spec"]["timeout"], 30);
  EXPECT_TRUE(hello["spec"]["timeout"].is_number_integer());
  EXPECT_EQ(hello["spec"]["image"], "registry.local/hello:1");
  const json& echo = (*parsed)[1].object;
  EXPECT_EQ(echo["metadata"]["namespace"], "team");
  EXPECT_EQ(echo["spec"]["source"]["inline"], "line one\nline two\n");
  EXPECT_EQ(echo["spec"]["scaling"]["minReplicas"], 0);
  EXPECT_DOUBLE_EQ(echo["spec"]["scaling"]["target"].get<double>(), 2.5);
  EXPECT_EQ(echo["metadata"]["annotations"]["flag"], "true");  // quoted: a string, not a bool
  EXPECT_EQ(echo["spec"]["dependencies"], json::array({"zlib1g-dev"}));
  EXPECT_TRUE(echo["spec"]["extra"].is_null());
}

TEST(Manifest, BadYamlNamesTheDocumentAndLine) {
  const std::string yaml =
      "kind: Function\nmetadata: {name: a}\n---\nkind: Function\nmetadata:\n  name: [b\n";
  auto parsed = parse_manifests(yaml, "bad.yaml");
  ASSERT_FALSE(parsed.ok());
  const std::string& message = parsed.status().message();
  EXPECT_NE(message.find("bad.yaml document 2"), std::string::npos) << message;
  EXPECT_NE(message.find("invalid YAML"), std::string::npos) << message;
  EXPECT_NE(message.find("line "), std::string::npos) << message;
}

TEST(Manifest, NonMappingDocumentIsRefused) {
  auto parsed = parse_manifests("- a\n- b\n", "list.yaml");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("list.yaml document 1"), std::string::npos);
  EXPECT_NE(parsed.status().message().find("expected a mapping"), std::string::npos);
}

TEST(Manifest, JsonIsAccepted) {
  auto parsed = parse_manifests(R"({"kind": "Function", "metadata": {"name": "j"}, "n": 1})", "x");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ((*parsed)[0].object["n"], 1);
}

TEST(Manifest, CheckFunctionFillsNamespaceAndAcceptsValidSpecs) {
  auto parsed = parse_manifests(kTwoFunctions, "fns.yaml");
  ASSERT_TRUE(parsed.ok());
  auto& hello = (*parsed)[0];
  EXPECT_TRUE(check_function(hello, "dev").ok());
  EXPECT_EQ(hello.object["metadata"]["namespace"], "dev");
  auto& echo = (*parsed)[1];
  EXPECT_TRUE(check_function(echo, "dev").ok()) << check_function(echo, "dev").message();
  EXPECT_EQ(echo.object["metadata"]["namespace"], "team");  // the manifest's own wins
}

TEST(Manifest, CheckFunctionExplainsWhatIsWrong) {
  auto wrong_kind = parse_manifests("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", "f");
  ASSERT_TRUE(wrong_kind.ok());
  auto status = check_function((*wrong_kind)[0], "default");
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("v1 ConfigMap"), std::string::npos) << status.message();

  auto bad_handler = parse_manifests(
      "apiVersion: kubefn.dev/v1alpha1\nkind: Function\nmetadata: {name: x}\n"
      "spec: {handler: nodot, image: r/x:1}\n",
      "x.yaml");
  ASSERT_TRUE(bad_handler.ok());
  status = check_function((*bad_handler)[0], "default");
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.reason(), "InvalidHandler");
  EXPECT_NE(status.message().find("x.yaml document 1 (function x)"), std::string::npos)
      << status.message();
  EXPECT_NE(status.message().find("hello.greet"), std::string::npos) << status.message();

  auto no_name =
      parse_manifests("apiVersion: kubefn.dev/v1alpha1\nkind: Function\nspec: {}\n", "n");
  ASSERT_TRUE(no_name.ok());
  EXPECT_NE(check_function((*no_name)[0], "d").message().find("metadata"), std::string::npos);
}

// Found by fuzz/manifest: an apiVersion or kind that is not a string threw out of
// check_function (and out of `kubefn apply`) instead of being refused with a message.
TEST(Manifest, NonStringApiVersionOrKindIsRefusedWithAMessage) {
  for (const char* yaml :
       {"apiVersion:\nkind: Function\nmetadata: {name: x}\n",
        "apiVersion: 1\nkind: Function\nmetadata: {name: x}\n",
        "apiVersion: kubefn.dev/v1alpha1\nkind: [Function]\nmetadata: {name: x}\n",
        "apiVersion: {a: b}\nkind: {c: d}\n"}) {
    auto parsed = parse_manifests(yaml, "t.yaml");
    ASSERT_TRUE(parsed.ok()) << yaml;
    auto status = check_function((*parsed)[0], "default");
    EXPECT_FALSE(status.ok()) << yaml;
    EXPECT_NE(status.message().find("t.yaml document 1"), std::string::npos) << status.message();
    EXPECT_NE(status.message().find("kubefn.dev/v1alpha1 Function"), std::string::npos)
        << status.message();
  }
}

// Found by fuzz/manifest: an anchor used inside itself made the YAML-to-JSON conversion
// recurse until the stack overflowed, killing `kubefn apply`; nested aliases grow
// exponentially. Both are refused with a message naming the document.
TEST(Manifest, CyclicAndExplodingAliasesAreRefused) {
  const char* cyclic =
      "apiVersion: kubefn.dev/v1alpha1\nkind: Function\nmetadata: &meta\n  name: x\n"
      "  extra: *meta\n";
  auto parsed = parse_manifests(cyclic, "c.yaml");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("c.yaml document 1: unsupported YAML"),
            std::string::npos)
      << parsed.status().message();

  std::string laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'i'; ++c) {
    const char prev = static_cast<char>(c - 1);
    laughs += std::string(1, c) + ": &" + c + " [*" + prev + ", *" + prev + ", *" + prev + ", *" +
              prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev +
              ", *" + prev + "]\n";
  }
  auto exploded = parse_manifests(laughs, "l.yaml");
  ASSERT_FALSE(exploded.ok());
  EXPECT_NE(exploded.status().message().find("values"), std::string::npos)
      << exploded.status().message();

  // Aliases that expand to a tree of reasonable size still work.
  auto shared = parse_manifests("a: &a {k: v}\nb: *a\nc: [*a, *a]\n", "s.yaml");
  ASSERT_TRUE(shared.ok()) << shared.status().message();
  EXPECT_EQ((*shared)[0].object["c"][1]["k"], "v");
}

TEST(Manifest, ReadsDirectoriesInNameOrderAndStdin) {
  testing::TempDir dir;
  dir.write("b.yaml", "kind: Function\nmetadata: {name: b}\n");
  dir.write("a.yml",
            "kind: Function\nmetadata: {name: a}\n---\nkind: Function\nmetadata: {name: a2}\n");
  dir.write("notes.txt", "not a manifest: [");
  std::istringstream none;
  auto read = read_manifests(dir.path().string(), none);
  ASSERT_TRUE(read.ok()) << read.status().message();
  ASSERT_EQ(read->size(), 3u);
  EXPECT_EQ((*read)[0].object["metadata"]["name"], "a");
  EXPECT_EQ((*read)[1].object["metadata"]["name"], "a2");
  EXPECT_EQ((*read)[2].object["metadata"]["name"], "b");

  std::istringstream in("kind: Function\nmetadata: {name: s}\n");
  auto from_stdin = read_manifests("-", in);
  ASSERT_TRUE(from_stdin.ok());
  EXPECT_EQ((*from_stdin)[0].source, "<stdin>");

  std::istringstream unused;
  auto missing = read_manifests(dir.file("nope.yaml"), unused);
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope.yaml"), std::string::npos);
}

TEST(Manifest, YamlOutputRoundTrips) {
  json value = {{"name", "x"},
                {"looks_bool", "true"},
                {"looks_int", "0123"},
                {"empty", ""},
                {"multi", "a\nb\n"},
                {"n", 3},
                {"f", 1.5},
                {"b", false},
                {"nothing", nullptr},
                {"list", {1, "two", {{"k", "v"}}}}};
  const std::string yaml = to_yaml(value);
  auto parsed = parse_manifests(yaml, "out");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message() << "\n" << yaml;
  EXPECT_EQ((*parsed)[0].object, value) << yaml;
}

// Strings and keys that YAML 1.1 reads as other types ("yes" is true, "0x10" is 16, a key
// "y" is the key "true") are quoted, so what kubefn prints reads back as it was.
TEST(Manifest, YamlOutputQuotesWhatYaml11ReadsAsOtherTypes) {
  json value = {{"words", {"yes", "no", "on", "Off", "y", "N", "~", "Null"}},
                {"numbers", {"0x10", "0o17", "1_000", "+5", ".5", "1e3", "08"}},
                {"y", "key"},
                {"1", "key"},
                {"on", "key"},
                {"<<", "key"},
                {"plain", {"hello", "1.2.3", "2024-01-02"}}};
  const std::string yaml = to_yaml(value);
  auto parsed = parse_manifests(yaml, "out");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message() << "\n" << yaml;
  EXPECT_EQ((*parsed)[0].object, value) << yaml;
}

// Manifests are read as kubectl reads them (the conversion's own cases are in
// yaml_to_json_test.cpp): the CLI took yes and on as strings, 017 as 17, 1.0 as a float.
TEST(Manifest, ScalarsReadAsKubectlReadsThem) {
  auto parsed = parse_manifests("a: yes\nb: on\nc: 017\nd: 1.0\ne: 0x1F\nf: .inf\n", "k.yaml");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("k.yaml document 1: unsupported YAML: json: "
                                           "unsupported value: +Inf"),
            std::string::npos)
      << parsed.status().message();
  parsed = parse_manifests("a: yes\nb: on\nc: 017\nd: 1.0\ne: 0x1F\n", "k.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ((*parsed)[0].object,
            json::parse(R"({"a": true, "b": true, "c": 15, "d": 1, "e": 31})"));
  EXPECT_TRUE((*parsed)[0].object["d"].is_number_integer());
}

}  // namespace
}  // namespace kubefn::cli
