// End-to-end tests of kubefn_oci against a real registry (docker distribution), including
// htpasswd and token authentication, and checks by an independent client (skopeo).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <thread>

#include "kubefn/kube/fake_clock.hpp"
#include "kubefn/oci/digest.hpp"
#include "kubefn/oci/image.hpp"
#include "kubefn/oci/reference.hpp"
#include "kubefn/oci/registry.hpp"
#include "kubefn/testing/command.hpp"
#include "kubefn/testing/registry_server.hpp"
#include "kubefn/testing/temp_dir.hpp"

namespace kubefn::oci {
namespace {

using kubefn::testing::RegistryServer;
using kubefn::testing::TokenServer;

#define REQUIRE_REGISTRY() \
  if (!RegistryServer::available()) GTEST_SKIP() << "docker-registry not installed"

#define ASSERT_OK(result) ASSERT_TRUE((result).ok()) << (result).status().to_string()

std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 generator(seed);
  std::string out(size, '\0');
  for (char& c : out)
    c = static_cast<char>(generator() & 0xff);
  return out;
}

// A one-layer image on scratch, as kubefn-build makes one.
struct TestImage {
  std::vector<TarEntry> entries;
  Layer layer;
  AppendResult appended;
  std::vector<std::pair<Descriptor, std::string>> blobs;
  std::string manifest_bytes;
  std::string digest;
};

TestImage make_image(const std::string& payload) {
  TestImage image;
  image.entries = {TarEntry::directory("kubefn", 0755),
                   TarEntry::file("kubefn/hello.so", payload, 0755),
                   TarEntry::symlink("kubefn/current", "hello.so")};
  image.layer = make_layer(image.entries);
  ImageConfig config = ImageConfig::for_platform();
  config.set_entrypoint({"/kubefn/current"});
  config.set_label("dev.kubefn.function", "hello");
  image.appended = append_layer(scratch_manifest(), config, image.layer, "kubefn-build hello");
  image.blobs = {{image.layer.descriptor, image.layer.blob},
                 {image.appended.manifest.config, image.appended.config_blob}};
  image.manifest_bytes = serialize_manifest(image.appended.manifest);
  image.digest = sha256_digest(image.manifest_bytes);
  return image;
}

ImageReference target(const RegistryServer& registry, const std::string& repo,
                      const std::string& tag) {
  auto parsed = parse_reference(registry.host() + "/" + repo + ":" + tag);
  EXPECT_TRUE(parsed.ok()) << parsed.status().to_string();
  return *parsed;
}

void expect_image_readable(RegistryClient& client, const std::string& repo, const std::string& tag,
                           const TestImage& image) {
  auto manifest = client.get_manifest(repo, tag);
  ASSERT_OK(manifest);
  EXPECT_EQ(manifest->media_type, kOciManifest);
  EXPECT_EQ(manifest->bytes, image.manifest_bytes);
  EXPECT_EQ(manifest->digest, image.digest);
  auto parsed = parse_manifest(manifest->bytes);
  ASSERT_OK(parsed);
  auto config = client.get_blob(repo, parsed->config.digest);
  ASSERT_OK(config);
  EXPECT_EQ(*config, image.appended.config_blob);
  ASSERT_EQ(parsed->layers.size(), 1u);
  auto blob = client.get_blob(repo, parsed->layers[0].digest);
  ASSERT_OK(blob);
  auto tar = gunzip(*blob);
  ASSERT_OK(tar);
  EXPECT_EQ(sha256_digest(*tar), image.layer.diff_id);
  auto entries = read_tar(*tar);
  ASSERT_OK(entries);
  EXPECT_EQ(*entries, image.entries);
}

TEST(RegistryE2E, PushImageAndReadItBack) {
  REQUIRE_REGISTRY();
  RegistryServer registry;
  ASSERT_TRUE(registry.started()) << registry.error();
  RegistryClient client(registry.host(), RegistryOptions{});
  const TestImage image = make_image("hello function " + random_bytes(5000, 1));
  auto pushed = push_image(client, target(registry, "kubefn/hello", "v1"), image.blobs,
                           image.appended.manifest);
  ASSERT_OK(pushed);
  EXPECT_EQ(*pushed, registry.host() + "/kubefn/hello@" + image.digest);
  EXPECT_EQ(client.stats().uploaded, 2);
  EXPECT_EQ(client.stats().existed, 0);
  EXPECT_EQ(client.stats().bytes_sent,
            static_cast<std::int64_t>(image.layer.blob.size() + image.appended.config_blob.size()));
  expect_image_readable(client, "kubefn/hello", "v1", image);
  // By digest, too.
  auto by_digest = client.get_manifest("kubefn/hello", image.digest);
  ASSERT_OK(by_digest);
  EXPECT_EQ(by_digest->bytes, image.manifest_bytes);
}

TEST(RegistryE2E, SecondPushFindsBlobsAndUploadsNothing) {
  REQUIRE_REGISTRY();
  RegistryServer registry;
  ASSERT_TRUE(registry.started()) << registry.error();
  const TestImage image = make_image(random_bytes(20000, 2));
  RegistryClient first(registry.host(), {});
  ASSERT_OK(push_image(first, target(registry, "kubefn/again", "v1"), image.blobs,
                       image.appended.manifest));
  RegistryClient second(registry.host(), {});
  auto pushed = push_image(second, target(registry, "kubefn/again", "v2"), image.blobs,
                           image.appended.manifest);
  ASSERT_OK(pushed);
  EXPECT_EQ(second.stats().existed, 2);
  EXPECT_EQ(second.stats().uploaded, 0);
  EXPECT_EQ(second.stats().bytes_sent, 0);
  auto v2 = second.manifest_digest("kubefn/again", "v2");
  ASSERT_OK(v2);
  EXPECT_EQ(v2->value_or(""), image.digest);
}

TEST(RegistryE2E, ChunkedUploadGivesTheSameDigest) {
  REQUIRE_REGISTRY();
  RegistryServer registry;
  ASSERT_TRUE(registry.started()) << registry.error();
  const TestImage image = make_image(random_bytes(50000, 3));  // incompressible: many chunks
  RegistryOptions options;
  options.chunk_size = 4096;
  RegistryClient chunked(registry.host(), options);
  auto pushed = push_image(chunked, target(registry, "kubefn/chunked", "v1"), image.blobs,
                           image.appended.manifest);
  ASSERT_OK(pushed);
  EXPECT_EQ(*pushed, registry.host() + "/kubefn/chunked@" + image.digest);
  EXPECT_EQ(chunked.stats().uploaded, 2);
  EXPECT_GT(image.layer.blob.size(), 10 * options.chunk_size);
  expect_image_readable(chunked, "kubefn/chunked", "v1", image);
  // An empty blob goes through the chunked path too.
  auto empty = chunked.push_blob("kubefn/chunked", "", sha256_digest(""));
  ASSERT_OK(empty);
  EXPECT_EQ(empty->how, BlobPushResult::How::kUploaded);
  auto back = chunked.get_blob("kubefn/chunked", sha256_digest(""));
  ASSERT_OK(back);
  EXPECT_EQ(*back, "");
}

TEST(RegistryE2E, CrossRepositoryMount) {
  REQUIRE_REGISTRY();
  RegistryServer registry;
  ASSERT_TRUE(registry.started()) << registry.error();
  const TestImage image = make_image(random_bytes(30000, 4));
  RegistryClient client(registry.host(), {});
  ASSERT_OK(push_image(client, target(registry, "kubefn/base", "v1"), image.blobs,
                       image.appended.manifest));
  auto exists = client.blob_exists("kubefn/other", image.layer.descriptor.digest);
  ASSERT_OK(exists);
  EXPECT_FALSE(*exists);
  RegistryClient mounting(registry.host(), {});
  auto pushed = push_image(mounting, target(registry, "kubefn/other", "v1"), image.blobs,
                           image.appended.manifest, "kubefn/base");
  ASSERT_OK(pushed);
  EXPECT_EQ(mounting.stats().mounted, 2);
  EXPECT_EQ(mounting.stats().uploaded, 0);
  EXPECT_EQ(mounting.stats().bytes_sent, 0);
  exists = mounting.blob_exists("kubefn/other", image.layer.descriptor.digest);
  ASSERT_OK(exists);
  EXPECT_TRUE(*exists);
  expect_image_readable(mounting, "kubefn/other", "v1", image);
  // Mounting from a repository without the blob falls back to an upload.
  const std::string fresh = random_bytes(1000, 5);
  auto uploaded = mounting.push_blob("kubefn/other", fresh, sha256_digest(fresh), "kubefn/base");
  ASSERT_OK(uploaded);
  EXPECT_EQ(uploaded->how, BlobPushResult::How::kUploaded);
  EXPECT_EQ(uploaded->bytes_sent, 1000);
}

TEST(RegistryE2E, ManifestDigestAndNotFound) {
  REQUIRE_REGISTRY();
  RegistryServer registry;
  ASSERT_TRUE(registry.started()) << registry.error();
  RegistryClient client(registry.host(), {});
  const TestImage image = make_image("digest");
  ASSERT_OK(push_image(client, target(registry, "kubefn/digest", "v1"), image.blobs,
                       image.appended.manifest));
  auto digest = client.manifest_digest("kubefn/digest", "v1");
  ASSERT_OK(digest);
  ASSERT_TRUE(digest->has_value());
  EXPECT_EQ(**digest, image.digest);
  auto missing_tag = client.manifest_digest("kubefn/digest", "nope");
  ASSERT_OK(missing_tag);
  EXPECT_FALSE(missing_tag->has_value());
  auto missing_repo = client.manifest_digest("kubefn/none", "v1");
  ASSERT_OK(missing_repo);
  EXPECT_FALSE(missing_repo->has_value());
  auto manifest = client.get_manifest("kubefn/digest", "nope");
  ASSERT_FALSE(manifest.ok());
  EXPECT_EQ(manifest.status().code(), kube::StatusCode::kNotFound);
  EXPECT_EQ(manifest.status().http_status(), 404);
  EXPECT_NE(manifest.status().message().find("registry " + registry.host() +
                                             ": pull kubefn/digest: 404 MANIFEST_UNKNOWN"),
            std::string::npos)
      << manifest.status().message();
  auto blob = client.get_blob("kubefn/digest", sha256_digest("absent"));
  ASSERT_FALSE(blob.ok());
  EXPECT_EQ(blob.status().code(), kube::StatusCode::kNotFound);
  // A manifest whose blobs are missing is refused with the registry's reason.
  const TestImage orphan = make_image("orphan");
  auto put = client.put_manifest("kubefn/digest", "orphan", orphan.manifest_bytes, kOciManifest);
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.status().code(), kube::StatusCode::kBadRequest);
  EXPECT_NE(put.status().message().find("MANIFEST_BLOB_UNKNOWN"), std::string::npos)
      << put.status().message();
  // Bytes that do not match the digest are never sent.
  auto mismatch = client.push_blob("kubefn/digest", "abc", sha256_digest("abd"));
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.status().code(), kube::StatusCode::kInvalid);
}

TEST(RegistryE2E, DockerBaseImageAndIndexResolution) {
  REQUIRE_REGISTRY();
  RegistryServer registry;
  ASSERT_TRUE(registry.started()) << registry.error();
  RegistryClient client(registry.host(), {});
  // A base image with Docker schema 2 media types, as many base images on Docker Hub are.
  const Layer base_layer = make_layer({TarEntry::file("etc/os-release", "ID=test\n")});
  ImageConfig base_config = ImageConfig::for_platform();
  base_config.append_layer(base_layer.diff_id, "base");
  base_config.json["docker_version"] = "24.0.0";
  const std::string base_config_blob = base_config.serialize();
  Manifest base;
  base.media_type = std::string(kDockerManifest);
  base.config = describe(kDockerConfig, base_config_blob);
  Descriptor docker_layer = base_layer.descriptor;
  docker_layer.media_type = std::string(kDockerLayerGzip);
  base.layers = {docker_layer};
  ASSERT_OK(push_image(client, target(registry, "library/base", "1"),
                       {{docker_layer, base_layer.blob}, {base.config, base_config_blob}}, base));
  // And an OCI index over it (plus an arm64 entry that must not be picked).
  const std::string base_bytes = serialize_manifest(base);
  const nlohmann::json index = {{"schemaVersion", 2},
                                {"mediaType", kOciIndex},
                                {"manifests",
                                 {{{"mediaType", kDockerManifest},
                                   {"digest", sha256_digest(base_bytes)},
                                   {"size", base_bytes.size()},
                                   {"platform", {{"os", "linux"}, {"architecture", "amd64"}}}}}}};
  auto put_index = client.put_manifest("library/base", "multi", index.dump(), kOciIndex);
  ASSERT_OK(put_index);

  auto fetched = client.get_manifest("library/base", "multi");
  ASSERT_OK(fetched);
  EXPECT_EQ(fetched->media_type, kDockerManifest);
  EXPECT_EQ(fetched->digest, sha256_digest(base_bytes));
  auto raw_index = client.get_manifest("library/base", "multi", /*resolve_platform=*/false);
  ASSERT_OK(raw_index);
  EXPECT_EQ(raw_index->media_type, kOciIndex);

  auto parsed = parse_manifest(fetched->bytes);
  ASSERT_OK(parsed);
  auto config_blob = client.get_blob("library/base", parsed->config.digest);
  ASSERT_OK(config_blob);
  auto config = ImageConfig::parse(*config_blob);
  ASSERT_OK(config);
  const Layer layer = make_layer({TarEntry::file("kubefn/hello.so", "fn", 0755)});
  const AppendResult appended = append_layer(*parsed, *config, layer, "kubefn-build");
  EXPECT_EQ(appended.manifest.layers[0].media_type, kDockerLayerGzip);
  const std::vector<std::pair<Descriptor, std::string>> new_blobs = {
      {layer.descriptor, layer.blob}, {appended.manifest.config, appended.config_blob}};
  // Without a repository to mount the base layer from, the push names the missing blob.
  auto missing =
      push_image(client, target(registry, "kubefn/no-base", "v1"), new_blobs, appended.manifest);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), kube::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("blob " + base_layer.descriptor.digest +
                                            " is not in the repository"),
            std::string::npos)
      << missing.status().message();
  auto pushed =
      push_image(client, target(registry, "kubefn/on-docker-base", "v1"),
                 {{layer.descriptor, layer.blob}, {appended.manifest.config, appended.config_blob}},
                 appended.manifest, "library/base");
  ASSERT_OK(pushed);
  auto copy = client.get_blob("kubefn/on-docker-base", base_layer.descriptor.digest);
  ASSERT_OK(copy);  // the base layer was mounted into the new repository
  EXPECT_EQ(*copy, base_layer.blob);
}

TEST(RegistryE2E, BasicAuthWithHtpasswd) {
  REQUIRE_REGISTRY();
  RegistryServer::Options options;
  options.htpasswd_user = std::make_pair("builder", "s3cret");
  RegistryServer registry(options);
  ASSERT_TRUE(registry.started()) << registry.error();
  const TestImage image = make_image("basic auth");

  RegistryClient anonymous(registry.host(), {});
  auto refused = push_image(anonymous, target(registry, "kubefn/hello", "v1"), image.blobs,
                            image.appended.manifest);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), kube::StatusCode::kUnauthorized);
  EXPECT_NE(refused.status().message().find("registry " + registry.host() +
                                            ": push kubefn/hello: 401 UNAUTHORIZED"),
            std::string::npos)
      << refused.status().message();

  // A registry whose credentials would come from a credential helper says so.
  RegistryOptions helper;
  helper.credentials = CredentialStore::from_json(
      nlohmann::json::parse(R"({"credHelpers":{")" + registry.host() + R"(":"pass"}})"));
  RegistryClient helper_client(registry.host(), helper);
  auto no_helper = helper_client.get_manifest("kubefn/hello", "v1");
  ASSERT_FALSE(no_helper.ok());
  EXPECT_EQ(no_helper.status().code(), kube::StatusCode::kUnauthorized);
  EXPECT_NE(no_helper.status().message().find("docker-credential-pass, which is not supported"),
            std::string::npos)
      << no_helper.status().message();

  RegistryOptions wrong;
  wrong.credentials.add(registry.host(), {"builder", "wrong", ""});
  RegistryClient wrong_client(registry.host(), wrong);
  auto denied = push_image(wrong_client, target(registry, "kubefn/hello", "v1"), image.blobs,
                           image.appended.manifest);
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.status().code(), kube::StatusCode::kUnauthorized);
  EXPECT_EQ(denied.status().http_status(), 401);
  EXPECT_NE(denied.status().message().find("401 UNAUTHORIZED: authentication required"),
            std::string::npos)
      << denied.status().message();

  RegistryOptions right;
  right.credentials.add(registry.host(), {"builder", "s3cret", ""});
  RegistryClient client(registry.host(), right);
  ASSERT_OK(push_image(client, target(registry, "kubefn/hello", "v1"), image.blobs,
                       image.appended.manifest));
  expect_image_readable(client, "kubefn/hello", "v1", image);
}

TEST(RegistryE2E, BearerTokenFlowWithRealTokenAuthRegistry) {
  REQUIRE_REGISTRY();
  TokenServer::Options token_options;
  token_options.users = {{"builder", "s3cret"}};
  TokenServer tokens(token_options);
  ASSERT_TRUE(tokens.started());
  RegistryServer::Options options;
  options.token_server = &tokens;
  RegistryServer registry(options);
  ASSERT_TRUE(registry.started()) << registry.error();
  const TestImage image = make_image(random_bytes(8000, 6));

  RegistryOptions client_options;
  client_options.credentials.add(registry.host(), {"builder", "s3cret", ""});
  RegistryClient client(registry.host(), client_options);
  auto pushed = push_image(client, target(registry, "kubefn/hello", "v1"), image.blobs,
                           image.appended.manifest);
  ASSERT_OK(pushed) << "\nregistry log:\n" << registry.log();
  expect_image_readable(client, "kubefn/hello", "v1", image);
  const auto scopes = tokens.scopes_seen();
  EXPECT_NE(std::find(scopes.begin(), scopes.end(), "repository:kubefn/hello:pull,push"),
            scopes.end());
  EXPECT_NE(std::find(scopes.begin(), scopes.end(), "repository:kubefn/hello:pull"), scopes.end());
  // Tokens are cached per scope: a handful of token requests for a whole push and pull.
  EXPECT_LE(tokens.tokens_issued(), 4);

  // A mount asks for pull on the source repository as well.
  RegistryClient mounting(registry.host(), client_options);
  ASSERT_OK(push_image(mounting, target(registry, "kubefn/copy", "v1"), image.blobs,
                       image.appended.manifest, "kubefn/hello"));
  EXPECT_EQ(mounting.stats().mounted, 2);
  const auto after = tokens.scopes_seen();
  EXPECT_NE(std::find(after.begin(), after.end(), "repository:kubefn/hello:pull"), after.end());

  // Without credentials the token server refuses: a clear Unauthorized error.
  RegistryClient anonymous(registry.host(), {});
  auto refused = anonymous.get_manifest("kubefn/hello", "v1");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), kube::StatusCode::kUnauthorized);
  EXPECT_NE(refused.status().message().find("token from " + tokens.realm()), std::string::npos)
      << refused.status().message();
  EXPECT_GE(tokens.requests_refused(), 1);
}

TEST(RegistryE2E, BearerTokensAreCachedPerScopeUntilTheyExpire) {
  REQUIRE_REGISTRY();
  TokenServer::Options token_options;
  token_options.expires_in_seconds = 300;
  TokenServer tokens(token_options);
  ASSERT_TRUE(tokens.started());
  RegistryServer::Options options;
  options.token_server = &tokens;
  RegistryServer registry(options);
  ASSERT_TRUE(registry.started()) << registry.error();
  const TestImage image = make_image("cached tokens");
  kube::FakeClock clock;
  RegistryOptions client_options;
  client_options.clock = &clock;
  RegistryClient client(registry.host(), client_options);
  ASSERT_OK(push_image(client, target(registry, "kubefn/cache", "v1"), image.blobs,
                       image.appended.manifest));
  const int after_push = tokens.tokens_issued();
  EXPECT_EQ(after_push, 1);  // one pull,push token served the whole push
  ASSERT_OK(client.get_manifest("kubefn/cache", "v1"));
  EXPECT_EQ(tokens.tokens_issued(), after_push + 1);  // a new scope: pull
  ASSERT_OK(client.get_manifest("kubefn/cache", "v1"));
  ASSERT_OK(client.manifest_digest("kubefn/cache", "v1"));
  EXPECT_EQ(tokens.tokens_issued(), after_push + 1);  // cached
  clock.advance(std::chrono::seconds(301));
  ASSERT_OK(client.get_manifest("kubefn/cache", "v1"));
  EXPECT_EQ(tokens.tokens_issued(), after_push + 2);  // expired: fetched again
}

// A registry stand-in on 127.0.0.1 (port 0) that answers the first `failures` requests with
// 503 and the rest with a manifest HEAD reply; it counts requests.
class FlakyServer {
 public:
  explicit FlakyServer(int failures) : failures_(failures) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(fd_, 16) != 0) {
      return;
    }
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FlakyServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_.load(); }

  static constexpr const char* kDigest =
      "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

 private:
  void serve() {
    while (!stop_) {
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, 50) <= 0) continue;
      const int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      std::string request;
      char buffer[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        pollfd cpfd{client, POLLIN, 0};
        if (::poll(&cpfd, 1, 5000) <= 0) break;
        const ssize_t n = ::recv(client, buffer, sizeof(buffer), 0);
        if (n <= 0) break;
        request.append(buffer, static_cast<std::size_t>(n));
      }
      const int number = ++requests_;
      std::string reply;
      if (number <= failures_) {
        const std::string body =
            R"({"errors":[{"code":"UNAVAILABLE","message":"service unavailable"}]})";
        reply =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            "Content-Length: " +
            std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
      } else {
        reply = std::string("HTTP/1.1 200 OK\r\nDocker-Content-Digest: ") + kDigest +
                "\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\n"
                "Content-Length: 0\r\nConnection: close\r\n\r\n";
      }
      ::send(client, reply.data(), reply.size(), MSG_NOSIGNAL);
      ::close(client);
    }
  }

  int failures_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

TEST(RegistryE2E, ServerErrorsAreRetriedABoundedNumberOfTimes) {
  RegistryOptions options;
  options.max_attempts = 3;
  options.retry_backoff = std::chrono::milliseconds(10);
  {
    FlakyServer server(2);
    RegistryClient client(server.host(), options);
    auto digest = client.manifest_digest("kubefn/hello", "v1");
    ASSERT_OK(digest);
    EXPECT_EQ(digest->value_or(""), FlakyServer::kDigest);
    EXPECT_EQ(server.requests(), 3);
  }
  {
    FlakyServer server(100);
    RegistryClient client(server.host(), options);
    auto digest = client.manifest_digest("kubefn/hello", "v1");
    ASSERT_FALSE(digest.ok());
    EXPECT_EQ(digest.status().code(), kube::StatusCode::kServiceUnavailable);
    EXPECT_EQ(digest.status().http_status(), 503);
    EXPECT_NE(
        digest.status().message().find("registry " + server.host() + ": pull kubefn/hello: 503"),
        std::string::npos)
        << digest.status().message();
    EXPECT_EQ(server.requests(), 3);
    // A GET reply has a body: the registry's error code and message are in the text.
    auto manifest = client.get_manifest("kubefn/hello", "v1");
    ASSERT_FALSE(manifest.ok());
    EXPECT_EQ(manifest.status().reason(), "UNAVAILABLE");
    EXPECT_NE(manifest.status().message().find("503 UNAVAILABLE: service unavailable"),
              std::string::npos)
        << manifest.status().message();
    EXPECT_EQ(server.requests(), 6);
  }
}

TEST(RegistryE2E, UnreachableRegistryIsANetworkError) {
  RegistryOptions options;
  options.max_attempts = 2;
  options.retry_backoff = std::chrono::milliseconds(10);
  const std::string host = "127.0.0.1:" + std::to_string(testing::free_port());
  RegistryClient client(host, options);
  auto exists = client.blob_exists("kubefn/hello", sha256_digest("x"));
  ASSERT_FALSE(exists.ok());
  EXPECT_EQ(exists.status().code(), kube::StatusCode::kNetworkError);
  EXPECT_NE(
      exists.status().message().find("registry " + host + ": pull kubefn/hello: cannot reach"),
      std::string::npos)
      << exists.status().message();
}

TEST(RegistryE2E, SkopeoSeesAValidImage) {
  REQUIRE_REGISTRY();
  if (testing::run_command({"sh", "-c", "command -v skopeo"}, {}, std::chrono::seconds(10))
          .exit_code != 0) {
    GTEST_SKIP() << "skopeo not installed";
  }
  RegistryServer registry;
  ASSERT_TRUE(registry.started()) << registry.error();
  RegistryClient client(registry.host(), {});
  const TestImage image = make_image(random_bytes(3000, 7));
  ASSERT_OK(push_image(client, target(registry, "kubefn/hello", "v1"), image.blobs,
                       image.appended.manifest));
  testing::TempDir dir;
  const std::map<std::string, std::string> env = {{"HOME", dir.path().string()}};
  const std::string source = "docker://" + registry.host() + "/kubefn/hello:v1";
  const auto inspect = testing::run_command({"skopeo", "inspect", "--tls-verify=false", source},
                                            env, std::chrono::seconds(60));
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  const auto info = nlohmann::json::parse(inspect.out);
  EXPECT_EQ(info["Digest"], image.digest);
  EXPECT_EQ(info["Architecture"], "amd64");
  EXPECT_EQ(info["Os"], "linux");
  EXPECT_EQ(info["Labels"]["dev.kubefn.function"], "hello");
  ASSERT_EQ(info["Layers"].size(), 1u);
  EXPECT_EQ(info["Layers"][0], image.layer.descriptor.digest);

  const std::string layout = dir.file("layout");
  const auto copy = testing::run_command(
      {"skopeo", "copy", "--src-tls-verify=false", source, "oci:" + layout + ":v1"}, env,
      std::chrono::seconds(120));
  ASSERT_EQ(copy.exit_code, 0) << copy.err;
  EXPECT_TRUE(std::filesystem::exists(layout + "/index.json"));
  EXPECT_TRUE(
      std::filesystem::exists(layout + "/blobs/sha256/" + image.layer.descriptor.digest.substr(7)));
  EXPECT_TRUE(std::filesystem::exists(layout + "/blobs/sha256/" + image.digest.substr(7)));
}

}  // namespace
}  // namespace kubefn::oci
