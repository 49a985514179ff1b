#include "kubefn/builder/elf.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "kubefn/builder/compile.hpp"
#include "kubefn/testing/temp_dir.hpp"

namespace kubefn::builder {
namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(ReadElf, FunctionNeedsZlibAndExportsItsHandler) {
  CompileRequest req;
  req.sources.files = {{"crc.cpp",
                        "#include <kubefn/function.hpp>\n#include <zlib.h>\n"
                        "std::string crc(const kubefn::Event& e, kubefn::Context&) {\n"
                        "  return std::to_string(crc32(0, reinterpret_cast<const Bytef*>("
                        "e.data.data()), static_cast<uInt>(e.data.size())));\n}\n"
                        "KUBEFN_HANDLER(crc);\n"}};
  req.handler = "crc.crc";
  req.dependencies = {"zlib1g-dev"};
  auto compiled = compile_function(req);
  ASSERT_TRUE(compiled.ok()) << compiled.status().message();
  auto elf = read_elf(compiled->shared_object);
  ASSERT_TRUE(elf.ok()) << elf.status().message();
  EXPECT_TRUE(contains(elf->needed, "libz.so.1"));
  EXPECT_TRUE(contains(elf->needed, "libstdc++.so.6"));
  EXPECT_TRUE(contains(elf->defined_symbols, "kubefn_handler_crc"));
  EXPECT_EQ(elf->runpath, std::vector<std::string>{"$ORIGIN/lib"});
  EXPECT_TRUE(elf->interpreter.empty());
}

TEST(ReadElf, ExecutablesHaveAnInterpreter) {
  auto bytes = testing::read_file("/bin/sh");
  auto elf = read_elf(bytes);
  ASSERT_TRUE(elf.ok()) << elf.status().message();
  EXPECT_TRUE(elf->interpreter.starts_with("/lib")) << elf->interpreter;
  EXPECT_TRUE(contains(elf->needed, "libc.so.6"));
}

TEST(ReadElf, RejectsOtherFiles) {
  EXPECT_FALSE(read_elf("").ok());
  EXPECT_FALSE(read_elf("#!/bin/sh\necho hi\n").ok());
  std::string truncated = testing::read_file("/bin/sh").substr(0, 80);
  EXPECT_FALSE(read_elf(truncated).ok());
}

TEST(ParseLdd, ReadsEveryLineShape) {
  auto entries = parse_ldd(
      "\tlinux-vdso.so.1 (0x00007ffd)\n"
      "\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f00)\n"
      "\tlibmissing.so.2 => not found\n"
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f11)\n");
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].name, "linux-vdso.so.1");
  EXPECT_EQ(entries[0].path, "");
  EXPECT_EQ(entries[1].name, "libz.so.1");
  EXPECT_EQ(entries[1].path, "/lib/x86_64-linux-gnu/libz.so.1");
  EXPECT_TRUE(entries[1].found);
  EXPECT_EQ(entries[2].name, "libmissing.so.2");
  EXPECT_FALSE(entries[2].found);
  EXPECT_EQ(entries[3].name, "/lib64/ld-linux-x86-64.so.2");
  EXPECT_EQ(entries[3].path, "/lib64/ld-linux-x86-64.so.2");
  EXPECT_TRUE(parse_ldd("\tstatically linked\n").empty());
}

}  // namespace
}  // namespace kubefn::builder
