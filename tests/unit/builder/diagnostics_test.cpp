#include "kubefn/builder/diagnostics.hpp"

#include <gtest/gtest.h>

namespace kubefn::builder {
namespace {

const char* kTemp = "/tmp/kubefn-build-Ab12Cd/src";

TEST(SummarizeCompilerErrors, KeepsErrorLinesRelativeToTheSource) {
  std::string out =
      "hello.cpp: In function 'std::string greet(const kubefn::Event&, kubefn::Context&)':\n"
      "hello.cpp:6:10: error: 'nme' was not declared in this scope; did you mean 'name'?\n"
      "    6 |   return nme;\n"
      "      |          ^~~\n"
      "      |          name\n"
      "/tmp/kubefn-build-Ab12Cd/src/util/strings.hpp:3:1: error: expected ';' before '}' token\n";
  std::string msg = summarize_compiler_errors(out, {kTemp});
  EXPECT_EQ(msg,
            "hello.cpp:6:10: error: 'nme' was not declared in this scope; did you mean 'name'?\n"
            "util/strings.hpp:3:1: error: expected ';' before '}' token");
}

TEST(SummarizeCompilerErrors, CountsTheErrorsItLeavesOut) {
  std::string out;
  for (int i = 1; i <= 40; ++i) {
    out += "f.cpp:" + std::to_string(i) + ":1: error: 'x" + std::to_string(i) +
           "' was not declared in this scope\n  code\n";
  }
  std::string msg = summarize_compiler_errors(out, {}, 3);
  EXPECT_NE(msg.find("f.cpp:1:1: error:"), std::string::npos);
  EXPECT_NE(msg.find("f.cpp:3:1: error:"), std::string::npos);
  EXPECT_EQ(msg.find("f.cpp:4:1: error:"), std::string::npos);
  EXPECT_NE(msg.find("(37 more errors)"), std::string::npos);
}

TEST(SummarizeCompilerErrors, StaysWithinTheByteLimit) {
  std::string huge(5000, 'x');
  std::string out;
  for (int i = 0; i < 5; ++i)
    out += "a.cpp:1:1: error: " + huge + "\n";
  std::string msg = summarize_compiler_errors(out, {}, 5, 1024);
  EXPECT_LE(msg.size(), 1024u);
  EXPECT_TRUE(msg.starts_with("a.cpp:1:1: error: xxx"));
}

TEST(SummarizeCompilerErrors, ReportsLinkerErrors) {
  std::string out =
      "/usr/bin/ld: /tmp/ccAbCd.o: in function `greet(kubefn::Event const&, kubefn::Context&)':\n"
      "hello.cpp:(.text+0x1d): undefined reference to `compress'\n"
      "collect2: error: ld returned 1 exit status\n";
  std::string msg = summarize_compiler_errors(out, {});
  EXPECT_NE(msg.find("hello.cpp:(.text+0x1d): undefined reference to `compress'"),
            std::string::npos);
}

TEST(SummarizeCompilerErrors, FatalErrorsCount) {
  std::string out =
      "/tmp/kubefn-build-Ab12Cd/src/hello.cpp:1:10: fatal error: nope.hpp: No such file or "
      "directory\ncompilation terminated.\n";
  EXPECT_EQ(summarize_compiler_errors(out, {kTemp}),
            "hello.cpp:1:10: fatal error: nope.hpp: No such file or directory");
}

TEST(SummarizeCompilerErrors, FallsBackToTheFirstLines) {
  EXPECT_EQ(summarize_compiler_errors("g++: internal compiler failure\n", {}),
            "g++: internal compiler failure");
  EXPECT_EQ(summarize_compiler_errors("", {}), "the compiler failed without a message");
}

TEST(TruncateUtf8, NeverSplitsACharacter) {
  std::string s = "ab\xc3\xa9\xc3\xa9\xc3\xa9";  // "abééé"
  std::string t = truncate_utf8(s, 7);
  EXPECT_EQ(t, "ab\xc3\xa9...");
  EXPECT_EQ(truncate_utf8("short", 10), "short");
}

}  // namespace
}  // namespace kubefn::builder
