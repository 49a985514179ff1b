#include "kubefn/oci/credentials.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "kubefn/testing/temp_dir.hpp"

namespace kubefn::oci {
namespace {

TEST(Base64, RoundTrip) {
  EXPECT_EQ(base64_encode("user:pass"), "dXNlcjpwYXNz");
  EXPECT_EQ(base64_encode("a"), "YQ==");
  EXPECT_EQ(base64_encode("ab"), "YWI=");
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_decode("dXNlcjpwYXNz").value(), "user:pass");
  EXPECT_EQ(base64_decode("YQ==").value(), "a");
  EXPECT_FALSE(base64_decode("!!!").has_value());
}

TEST(CredentialStore, ParsesAuthUsernamePasswordAndIdentityToken) {
  const auto config = nlohmann::json::parse(R"({
    "auths": {
      "127.0.0.1:5000": {"auth": "dXNlcjpwYTpzcw=="},
      "https://ghcr.io": {"username": "octo", "password": "secret"},
      "https://index.docker.io/v1/": {"auth": "aHViOmh1YnBhc3M="},
      "registry.example.com": {"identitytoken": "refresh-me"},
      "empty.example.com": {}
    },
    "credHelpers": {"gcr.io": "gcloud"}
  })");
  const CredentialStore store = CredentialStore::from_json(config);
  auto local = store.lookup("127.0.0.1:5000");
  ASSERT_TRUE(local);
  EXPECT_EQ(local->username, "user");
  EXPECT_EQ(local->password, "pa:ss");  // only the first ':' separates
  auto ghcr = store.lookup("ghcr.io");
  ASSERT_TRUE(ghcr);
  EXPECT_EQ(ghcr->username, "octo");
  EXPECT_EQ(ghcr->password, "secret");
  auto hub = store.lookup("docker.io");
  ASSERT_TRUE(hub);
  EXPECT_EQ(hub->username, "hub");
  EXPECT_EQ(hub->password, "hubpass");
  auto token = store.lookup("registry.example.com");
  ASSERT_TRUE(token);
  EXPECT_EQ(token->identity_token, "refresh-me");
  EXPECT_FALSE(store.lookup("empty.example.com"));
  EXPECT_FALSE(store.lookup("gcr.io"));  // credential helpers are not supported
  EXPECT_FALSE(store.lookup("127.0.0.1:5001"));
  EXPECT_EQ(store.unsupported_helper("gcr.io"), "docker-credential-gcloud");
  EXPECT_EQ(store.unsupported_helper("ghcr.io"), "");  // has credentials
  EXPECT_EQ(store.unsupported_helper("quay.io"), "");  // no credsStore either
  const CredentialStore with_store =
      CredentialStore::from_json(nlohmann::json::parse(R"({"credsStore":"desktop"})"));
  EXPECT_EQ(with_store.unsupported_helper("quay.io"), "docker-credential-desktop");
}

TEST(CredentialStore, AddOverrides) {
  CredentialStore store;
  EXPECT_TRUE(store.empty());
  store.add("https://Registry.Example.com/v2/", {"u", "p", ""});
  auto found = store.lookup("registry.example.com");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->username, "u");
  store.add("registry.example.com", {"u2", "p2", ""});
  EXPECT_EQ(store.lookup("registry.example.com")->username, "u2");
}

class EnvGuard {
 public:
  explicit EnvGuard(const char* name) : name_(name) {
    if (const char* value = getenv(name)) old_ = value;
  }
  ~EnvGuard() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(CredentialStore, LoadSearchOrder) {
  EnvGuard a("REGISTRY_AUTH_FILE"), b("DOCKER_CONFIG"), c("HOME");
  testing::TempDir dir;
  const auto explicit_path = dir.write("explicit.json", R"({"auths":{"h":{"auth":"ZTpl"}}})");
  const auto auth_file = dir.write("auth.json", R"({"auths":{"h":{"auth":"cjpy"}}})");
  dir.write("docker/config.json", R"({"auths":{"h":{"auth":"ZDpk"}}})");
  dir.write("home/.docker/config.json", R"({"auths":{"h":{"auth":"aDpo"}}})");
  setenv("REGISTRY_AUTH_FILE", auth_file.c_str(), 1);
  setenv("DOCKER_CONFIG", dir.file("docker").c_str(), 1);
  setenv("HOME", dir.file("home").c_str(), 1);

  auto from_explicit = CredentialStore::load(explicit_path.string());
  ASSERT_TRUE(from_explicit.ok());
  EXPECT_EQ(from_explicit->lookup("h")->username, "e");
  auto from_auth_file = CredentialStore::load();
  ASSERT_TRUE(from_auth_file.ok());
  EXPECT_EQ(from_auth_file->lookup("h")->username, "r");
  unsetenv("REGISTRY_AUTH_FILE");
  EXPECT_EQ(CredentialStore::load()->lookup("h")->username, "d");
  unsetenv("DOCKER_CONFIG");
  EXPECT_EQ(CredentialStore::load()->lookup("h")->username, "h");
  setenv("HOME", dir.file("nowhere").c_str(), 1);
  auto none = CredentialStore::load();
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  auto missing = CredentialStore::load(dir.file("missing.json"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), kube::StatusCode::kInvalidConfig);
  const auto broken = dir.write("broken.json", "{not json");
  auto bad = CredentialStore::load(broken.string());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("broken.json"), std::string::npos);
}

}  // namespace
}  // namespace kubefn::oci
