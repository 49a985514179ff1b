#include "kubefn/builder/dependencies.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace kubefn::builder {
namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(PackageNames, AcceptsDebianNamesOnly) {
  EXPECT_TRUE(valid_package_name("zlib1g-dev"));
  EXPECT_TRUE(valid_package_name("libstdc++-12-dev"));
  EXPECT_TRUE(valid_package_name("libssl-dev:amd64"));
  EXPECT_FALSE(valid_package_name("-o=Dpkg::Options"));
  EXPECT_FALSE(valid_package_name("Zlib"));
  EXPECT_FALSE(valid_package_name("zlib dev"));
  EXPECT_FALSE(valid_package_name("a"));
  EXPECT_FALSE(valid_package_name("x:"));
}

TEST(ClassifyPackageFiles, FindsPkgConfigModulesAndLibraryLinks) {
  auto pf = classify_package_files({"/usr/include/zlib.h", "/usr/lib/x86_64-linux-gnu/libz.a",
                                    "/usr/lib/x86_64-linux-gnu/libz.so",
                                    "/usr/lib/x86_64-linux-gnu/pkgconfig/zlib.pc",
                                    "/usr/share/doc/zlib1g-dev/copyright"});
  EXPECT_EQ(pf.pc_modules, std::vector<std::string>{"zlib"});
  EXPECT_EQ(pf.pc_dirs, std::vector<std::string>{"/usr/lib/x86_64-linux-gnu/pkgconfig"});
  EXPECT_EQ(pf.library_flags, std::vector<std::string>{"-lz"});
}

TEST(ClassifyPackageFiles, LibraryLinksWithoutPkgConfig) {
  auto pf = classify_package_files(
      {"/usr/lib/x86_64-linux-gnu/libfoo.so", "/usr/lib/x86_64-linux-gnu/libfoo.so.1",
       "/usr/lib/x86_64-linux-gnu/libbar-2.so", "/usr/share/foo/libnot.so"});
  EXPECT_TRUE(pf.pc_modules.empty());
  EXPECT_EQ(pf.library_flags, (std::vector<std::string>{"-lfoo", "-lbar-2"}));
}

TEST(DependencyFlags, Zlib1gDevLinksLz) {
  auto flags = dependency_flags("zlib1g-dev");
  ASSERT_TRUE(flags.ok()) << flags.status().message();
  EXPECT_TRUE(contains(flags->libs, "-lz"));
}

TEST(DependencyFlags, UnknownPackageIsNotFound) {
  auto flags = dependency_flags("kubefn-no-such-package-dev");
  ASSERT_FALSE(flags.ok());
  EXPECT_NE(flags.status().message().find("kubefn-no-such-package-dev"), std::string::npos);
}

TEST(EnsurePackages, NamesWhatIsMissing) {
  auto missing = missing_packages({"zlib1g-dev", "kubefn-no-such-package-dev"});
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(*missing, std::vector<std::string>{"kubefn-no-such-package-dev"});
  EXPECT_TRUE(ensure_packages({"zlib1g-dev"}, false).ok());
  auto s = ensure_packages({"kubefn-no-such-package-dev"}, false);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(
                "package kubefn-no-such-package-dev is not installed in the builder image; "),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("spec.dependencies"), std::string::npos) << s.message();
  auto two = ensure_packages({"kubefn-no-such-a-dev", "kubefn-no-such-b-dev"}, false);
  EXPECT_NE(two.message().find("packages kubefn-no-such-a-dev, kubefn-no-such-b-dev are not "
                               "installed in the builder image; "),
            std::string::npos)
      << two.message();
  EXPECT_FALSE(ensure_packages({"--bad"}, false).ok());
}

}  // namespace
}  // namespace kubefn::builder
