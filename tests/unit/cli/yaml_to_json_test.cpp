// The one YAML-to-JSON conversion (kubefn_yaml), case by case. Each expectation is what kubectl
// v1.34 makes of the YAML (`kubectl create --dry-run=client -o json`; CliE2E checks the same
// table against the real binary). The comments say what the four conversions this one replaced
// made of it: the emulator's, the CLI's, the controller tests' and the chart test's.
#include "kubefn/emulator/yaml_to_json.hpp"

#include <gtest/gtest.h>

#include <string>

namespace kubefn::emulator {
namespace {

using nlohmann::json;

json value_of(const std::string& yaml_value) {
  YamlError error;
  auto j = yaml_to_json("x: " + yaml_value + "\n", &error);
  EXPECT_TRUE(j.has_value()) << yaml_value << ": " << error.message;
  return j ? (*j)["x"] : json("<error>");
}

std::string error_of(const std::string& yaml) {
  YamlError error;
  auto j = yaml_to_json(yaml, &error);
  EXPECT_FALSE(j.has_value()) << yaml << " gave " << (j ? j->dump() : "");
  return error.message;
}

TEST(YamlToJson, Yaml11BooleansAndNulls) {
  // The emulator and the controller tests took only true/false, the CLI also True/TRUE; yes,
  // on, y were strings in all four.
  for (const char* t : {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y"})
    EXPECT_EQ(value_of(t), json(true)) << t;
  for (const char* f : {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N"})
    EXPECT_EQ(value_of(f), json(false)) << f;
  for (const char* n : {"~", "null", "Null", "NULL", ""})
    EXPECT_TRUE(value_of(n).is_null()) << n;
  // Words that are none of these stay strings.
  for (const char* s : {"tRUE", "yES", "nil", "None", "oN"})
    EXPECT_EQ(value_of(s), json(s)) << s;
}

TEST(YamlToJson, IntegersInEveryBaseWithUnderscores) {
  // The emulator read only JSON numbers (0x1F, 0o17, +5, 1_000 were strings), the CLI decimal
  // ones (017 was 17), the controller tests' std::stoll +5 but not 0x1F.
  EXPECT_EQ(value_of("0x1F"), json(31));
  EXPECT_EQ(value_of("0o17"), json(15));
  EXPECT_EQ(value_of("017"), json(15));
  EXPECT_EQ(value_of("0b101"), json(5));
  EXPECT_EQ(value_of("-0b11"), json(-3));
  EXPECT_EQ(value_of("-0x10"), json(-16));
  EXPECT_EQ(value_of("+0x10"), json(16));
  EXPECT_EQ(value_of("1_000"), json(1000));
  EXPECT_EQ(value_of("1__0"), json(10));
  EXPECT_EQ(value_of("+5"), json(5));
  EXPECT_EQ(value_of("-0"), json(0));
  EXPECT_EQ(value_of("00"), json(0));
  EXPECT_EQ(value_of("08"), json(8));   // not octal: read as the float 8
  EXPECT_EQ(value_of("0_8"), json(8));  // the same once the underscore goes
  EXPECT_EQ(value_of("9223372036854775807"), json(9223372036854775807LL));
  EXPECT_TRUE(value_of("30").is_number_integer());
  // Not numbers.
  for (const char* s : {"0x", "0b", "_1", "1.2.3", "12e", "1:20", "2024-01-02", "0x1p-2", "+", "."})
    EXPECT_EQ(value_of(s), json(s)) << s;
}

TEST(YamlToJson, FloatsAreWhatTheServerHoldsOnceDecoded) {
  // A whole float is an integer once the server decodes the JSON (the emulator and the CLI
  // kept 1.0 and 1e3 as floats; the controller tests made 2.5 a string).
  EXPECT_TRUE(value_of("1.0").is_number_integer());
  EXPECT_EQ(value_of("1.0"), json(1));
  EXPECT_EQ(value_of("5."), json(5));
  EXPECT_EQ(value_of("0."), json(0));
  EXPECT_EQ(value_of("1e3"), json(1000));
  EXPECT_EQ(value_of("1E+3"), json(1000));
  EXPECT_DOUBLE_EQ(value_of("2.5").get<double>(), 2.5);
  EXPECT_DOUBLE_EQ(value_of(".5").get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(value_of("-.5").get<double>(), -0.5);
  EXPECT_DOUBLE_EQ(value_of("+.5").get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(value_of(".1_0").get<double>(), 0.1);
  EXPECT_DOUBLE_EQ(value_of("1_0.5").get<double>(), 10.5);
  EXPECT_DOUBLE_EQ(value_of("1.5e-7").get<double>(), 1.5e-7);
  // Beyond int64: a float (the CLI kept the digits as a string).
  EXPECT_TRUE(value_of("99999999999999999999").is_number_float());
  EXPECT_DOUBLE_EQ(value_of("99999999999999999999").get<double>(), 1e20);
  EXPECT_DOUBLE_EQ(value_of("18446744073709551615").get<double>(), 18446744073709551615.0);
  EXPECT_TRUE(value_of("1e21").is_number_float());
  // Too large for a double: the text.
  EXPECT_EQ(value_of("1e400"), json("1e400"));
  EXPECT_EQ(value_of("._1"), json("._1"));
}

TEST(YamlToJson, InfinityAndNanHaveNoJson) {
  // All four copies made these strings; the server refuses them.
  EXPECT_EQ(error_of("x: .inf\n"), "json: unsupported value: +Inf");
  EXPECT_EQ(error_of("x: -.Inf\n"), "json: unsupported value: -Inf");
  EXPECT_EQ(error_of("x: .nan\n"), "json: unsupported value: NaN");
}

TEST(YamlToJson, QuotedBlockAndTaggedScalars) {
  EXPECT_EQ(value_of("\"true\""), json("true"));
  EXPECT_EQ(value_of("'1'"), json("1"));
  EXPECT_EQ(value_of("\"08\""), json("08"));
  EXPECT_EQ(value_of("|\n  5\n"), json("5\n"));
  // The emulator made !!str 5 a number; every copy made !!int "5" a string.
  EXPECT_EQ(value_of("!!str 5"), json("5"));
  EXPECT_EQ(value_of("!!str ~"), json("~"));
  EXPECT_EQ(value_of("!!str"), json(""));
  EXPECT_EQ(value_of("!!int \"5\""), json(5));
  EXPECT_EQ(value_of("!!int 0x10"), json(16));
  EXPECT_EQ(value_of("!!float 1"), json(1));
  EXPECT_EQ(value_of("!!bool yes"), json(true));
  EXPECT_TRUE(value_of("!!null \"\"").is_null());
  EXPECT_EQ(value_of("!!binary aGVsbG8="), json("hello"));
  EXPECT_EQ(value_of("!foo 5"), json("5"));  // a local tag: the text
  EXPECT_EQ(value_of("! 5"), json("5"));
  EXPECT_EQ(error_of("x: !!int 1.5\n"), "yaml: cannot decode !!float `1.5` as a !!int");
  EXPECT_EQ(error_of("x: !!float abc\n"), "yaml: cannot decode !!str `abc` as a !!float");
  EXPECT_NE(error_of("x: !!binary '%%%'\n").find("base64"), std::string::npos);
}

TEST(YamlToJson, MapKeysBecomeStrings) {
  // Every copy kept the key's text (yes, 0x10, 1.0 as written).
  auto j = yaml_to_json(
      "{1: a, true: b, 1.5: c, yes: e, 0x10: f, 0.1: h, 1e21: i, 100000: j, 1e6: k, \"<<\": l}");
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(*j, json({{"1", "a"},
                      {"true", "e"},  // true and yes are one key: the later wins
                      {"1.5", "c"},
                      {"16", "f"},
                      {"0.1", "h"},
                      {"1e+21", "i"},
                      {"100000", "j"},
                      {"1e+06", "k"},
                      {"<<", "l"}}))
      << j->dump();
  EXPECT_EQ(*yaml_to_json("{1.0: g}"), json({{"1", "g"}}));
  EXPECT_NE(error_of("{~: d}").find("map key"), std::string::npos);
  EXPECT_NE(error_of("{[a, b]: 1}").find("invalid map key"), std::string::npos);
  // A repeated key keeps its last value, as the (non-strict) decoder has it.
  EXPECT_EQ(*yaml_to_json("{a: 1, a: 2}"), json({{"a", 2}}));
}

TEST(YamlToJson, MergeKeys) {
  // Every copy kept "<<" as a key.
  EXPECT_EQ(*yaml_to_json("b: &b {p: 1, q: 2}\nx: {<<: *b, q: 3}\n"),
            json::parse(R"({"b": {"p": 1, "q": 2}, "x": {"p": 1, "q": 3}})"));
  // Set in order: a merge after a key overrides it.
  EXPECT_EQ((*yaml_to_json("b: &b {p: 1, q: 2}\nx: {q: 3, <<: *b}\n"))["x"],
            json::parse(R"({"p": 1, "q": 2})"));
  // From a list, the earlier map wins.
  EXPECT_EQ((*yaml_to_json("b1: &b1 {p: 1}\nb2: &b2 {p: 2, r: 2}\nx: {<<: [*b1, *b2]}\n"))["x"],
            json::parse(R"({"p": 1, "r": 2})"));
  EXPECT_NE(error_of("x: {<<: 5}\n").find("map merge"), std::string::npos);
}

TEST(YamlToJson, AliasesThatNeverEndAreRefused) {
  // The emulator's copy recursed until the stack overflowed (the CLI's was fixed by fuzzing).
  YamlError error;
  EXPECT_FALSE(yaml_to_json("a: &a\n  b: *a\n", &error).has_value());
  EXPECT_EQ(error.kind, YamlError::Kind::kUnsupported);
  EXPECT_NE(error.message.find("levels deep"), std::string::npos) << error.message;
  std::string error_text;
  EXPECT_FALSE(parse_yaml("a: &a\n  b: *a\n", &error_text).has_value());
  EXPECT_TRUE(yaml_duplicate_keys("a: &a\n  b: *a\n").empty());
}

TEST(YamlToJson, SyntaxErrorsSayWhere) {
  YamlError error;
  EXPECT_FALSE(yaml_to_json("a: 1\nb: [c\n", &error).has_value());
  EXPECT_EQ(error.kind, YamlError::Kind::kSyntax);
  EXPECT_GE(error.line, 1);
  std::string text;
  EXPECT_FALSE(parse_yaml("a: 1\nb: [c\n", &text).has_value());
  EXPECT_EQ(text.rfind("yaml: line ", 0), 0u) << text;
  // Text that is not UTF-8 is not YAML (the copies passed the bytes on to JSON, which cannot
  // hold them).
  EXPECT_FALSE(yaml_to_json("a: 1\nb: \xff\n", &error).has_value());
  EXPECT_EQ(error.line, 1);
  EXPECT_NE(error.message.find("UTF-8"), std::string::npos);
  EXPECT_EQ(*yaml_to_json("a: \xc3\xa9\n"), json({{"a", "\xc3\xa9"}}));
}

TEST(YamlToJson, DocumentsOfAStream) {
  YamlError error;
  auto docs =
      yaml_documents_to_json("# c\n---\na: 1\n---\n# only a comment\n--- \nb: yes\n...\n", &error);
  ASSERT_TRUE(docs.has_value()) << error.message;
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ((*docs)[0].number, 1);
  EXPECT_EQ((*docs)[0].first_line, 1);
  EXPECT_EQ((*docs)[1].value, json({{"b", true}}));
  EXPECT_EQ((*docs)[1].number, 2);
  EXPECT_EQ((*docs)[1].first_line, 5);

  EXPECT_FALSE(yaml_documents_to_json("a: 1\n---\nb: 2\nc: [d\n", &error).has_value());
  EXPECT_EQ(error.document, 2);
  EXPECT_GE(error.line, 2);  // a line of the stream, not of the document
}

TEST(YamlToJson, PlainScalarsThatAreNotStrings) {
  for (const char* s : {"yes", "y", "0x10", "1_000", "~", "", " a", "a ", "1e3", ".5", "<<", "Off"})
    EXPECT_FALSE(yaml_plain_is_string(s)) << s;
  for (const char* s : {"hello", "1.2.3", "0x", "tRUE", "2024-01-02"})
    EXPECT_TRUE(yaml_plain_is_string(s)) << s;
}

TEST(YamlToJson, JsonOrYaml) {
  EXPECT_EQ(*parse_json_or_yaml(R"({"a": 1})"), json({{"a", 1}}));
  EXPECT_EQ(*parse_json_or_yaml("a: on\n"), json({{"a", true}}));
  EXPECT_FALSE(parse_json_or_yaml("a: [\n").has_value());
  const auto repeated = yaml_duplicate_keys("a: 1\nb:\n  c: 1\n  c: 2\n");
  ASSERT_EQ(repeated.size(), 1u);
  EXPECT_EQ(repeated[0].line, 4);
  EXPECT_EQ(repeated[0].key, "c");
}

}  // namespace
}  // namespace kubefn::emulator
