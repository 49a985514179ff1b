#include "kubefn/builder/compile.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "kubefn/testing/temp_dir.hpp"

namespace kubefn::builder {
namespace {

namespace fs = std::filesystem;

const char* kHello =
    "#include <kubefn/function.hpp>\n"
    "#include \"greeting.hpp\"\n"
    "std::string greet(const kubefn::Event&, kubefn::Context&) { return kGreeting; }\n"
    "KUBEFN_HANDLER(greet);\n";

SourceSet hello_sources(std::string greeting = "hello") {
  return SourceSet{
      {{"greeting.hpp", "#pragma once\ninline const char* kGreeting = \"" + greeting + "\";\n"},
       {"hello.cpp", kHello}}};
}

CompileRequest request(SourceSet sources, std::string handler = "hello.greet") {
  CompileRequest r;
  r.sources = std::move(sources);
  r.handler = std::move(handler);
  return r;
}

TEST(ParseHandler, SplitsModuleAndFunction) {
  auto h = parse_handler("hello.greet");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->module, "hello");
  EXPECT_EQ(h->function, "greet");
  EXPECT_TRUE(parse_handler("my-fn.handle_2").ok());
  for (const char* bad : {"hello", "a.b.c", ".greet", "hello.", "hello.2x", "../x.greet",
                          "hel lo.greet", "hello.gr-eet"}) {
    EXPECT_FALSE(parse_handler(bad).ok()) << bad;
  }
}

TEST(CompileFunction, SameSourceGivesIdenticalBytes) {
  // Each compile runs in its own fresh temporary directory.
  auto first = compile_function(request(hello_sources()));
  ASSERT_TRUE(first.ok()) << first.status().message();
  auto second = compile_function(request(hello_sources()));
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_GT(first->shared_object.size(), 1000u);
  EXPECT_EQ(first->shared_object, second->shared_object);
  EXPECT_EQ(first->source_digest, second->source_digest);
  EXPECT_EQ(first->shared_object.find("kubefn-build-"), std::string::npos)
      << "the temporary directory leaked into the output";
  auto other = compile_function(request(hello_sources("bonjour")));
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->shared_object, first->shared_object);
  EXPECT_NE(other->source_digest, first->source_digest);
}

TEST(CompileFunction, ACancelledBuildSaysSo) {
  Cancellation cancel;
  cancel.cancel();
  auto req = request(hello_sources());
  req.cancel = &cancel;
  auto r = compile_function(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), kube::StatusCode::kCancelled);
  EXPECT_EQ(r.status().message(), "the build was cancelled");
}

TEST(CompileFunction, CompileErrorsAreShortAndRelative) {
  SourceSet broken{{{"hello.cpp",
                     "#include <kubefn/function.hpp>\n"
                     "std::string greet(const kubefn::Event&, kubefn::Context&) {\n"
                     "  return nme;\n"
                     "}\n"
                     "KUBEFN_HANDLER(greet);\n"}}};
  auto r = compile_function(request(broken));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), kube::StatusCode::kInvalid);
  const std::string& msg = r.status().message();
  EXPECT_TRUE(msg.starts_with("compile failed:\nhello.cpp:3:10: error: 'nme' was not declared"))
      << msg;
  EXPECT_LE(msg.size(), 1024u);
  EXPECT_EQ(msg.find("/tmp"), std::string::npos) << msg;
}

TEST(CompileFunction, MissingHandlerIsExplained) {
  auto r = compile_function(request(hello_sources(), "hello.welcome"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("KUBEFN_HANDLER(welcome)"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("it has: greet"), std::string::npos) << r.status().message();
}

TEST(CompileFunction, NothingToCompile) {
  auto r = compile_function(request(SourceSet{{{"README.md", "hi"}}}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no .cpp"), std::string::npos);
}

TEST(CompileFunction, MissingDependencyIsNamed) {
  auto req = request(hello_sources());
  req.dependencies = {"kubefn-no-such-package-dev"};
  auto r = compile_function(req);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("kubefn-no-such-package-dev"), std::string::npos);
}

SourceSet zlib_sources() {
  return SourceSet{{{"crc.cpp",
                     "#include <kubefn/function.hpp>\n#include <zlib.h>\n"
                     "std::string crc(const kubefn::Event& e, kubefn::Context&) {\n"
                     "  return std::to_string(crc32(0, reinterpret_cast<const Bytef*>("
                     "e.data.data()), static_cast<uInt>(e.data.size())));\n}\n"
                     "KUBEFN_HANDLER(crc);\n"}}};
}

TEST(CompileFunction, UndeclaredLibraryFailsAtLinkTime) {
  auto r = compile_function(request(zlib_sources(), "crc.crc"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("undefined reference to `crc32'"), std::string::npos)
      << r.status().message();
}

TEST(CompileFunction, BundlesWhatTheImageLacks) {
  auto req = request(zlib_sources(), "crc.crc");
  req.dependencies = {"zlib1g-dev"};
  req.provided_libraries =
      std::set<std::string>{"libc.so.6", "libm.so.6", "libgcc_s.so.1", "libstdc++.so.6"};
  auto r = compile_function(req);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->libraries.size(), 1u);
  EXPECT_EQ(r->libraries[0].name, "libz.so.1");
  EXPECT_TRUE(
      r->libraries[0].data.starts_with("\x7f"
                                       "ELF"));

  req.provided_libraries->insert("libz.so.1");
  auto provided = compile_function(req);
  ASSERT_TRUE(provided.ok());
  EXPECT_TRUE(provided->libraries.empty());

  req.provided_libraries.reset();  // runs here: bundle nothing
  auto local = compile_function(req);
  ASSERT_TRUE(local.ok());
  EXPECT_TRUE(local->libraries.empty());
}

TEST(WriteFunctionDir, WritesTheModuleAndItsLibraries) {
  testing::TempDir dir;
  CompileResult r;
  r.handler = {"crc", "crc"};
  r.shared_object = "so-bytes";
  r.libraries = {{"libz.so.1", "z-bytes"}};
  ASSERT_TRUE(write_function_dir(r, dir.file("out")).ok());
  EXPECT_EQ(testing::read_file(dir.file("out/crc.so")), "so-bytes");
  EXPECT_EQ(testing::read_file(dir.file("out/lib/libz.so.1")), "z-bytes");
}

TEST(DefaultSdkInclude, PointsAtTheSdkHeader) {
  EXPECT_TRUE(fs::exists(fs::path(default_sdk_include()) / "kubefn/function.hpp"));
}

}  // namespace
}  // namespace kubefn::builder
