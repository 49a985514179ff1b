#include <fstream>

#include "emulator_client_fixture.hpp"

namespace kubefn::kube::testing {
namespace {

const GroupVersionResource kConfigMaps = resources::config_maps();
constexpr char kToken[] = "integration-token";

emulator::EmulatorOptions tls_with_token() {
  emulator::EmulatorOptions options;
  options.tls = true;
  options.token = kToken;
  return options;
}

class TlsTest : public EmulatorClientTest {
 protected:
  TlsTest() : EmulatorClientTest(tls_with_token()) {}
  void SetUp() override {}

  ClientConfig secure(const std::string& token) {
    ClientConfig config;
    config.server = emulator_.url();
    config.ca_pem = emulator_.ca_pem();
    config.token = token;
    return config;
  }
};

TEST_F(TlsTest, WrongTokenIsUnauthorized) {
  auto client = make_client(secure("wrong"));
  ASSERT_NE(client, nullptr);
  auto listed = client->list(kConfigMaps, "default", {});
  ASSERT_THAT(listed, StatusIs(StatusCode::kUnauthorized));
}

TEST_F(TlsTest, UntrustedServerIsRefused) {
  ClientConfig config = secure(kToken);
  config.ca_pem.clear();  // the self-signed certificate is not in the system store
  RestClientOptions options = fast_retries();
  options.retry.max_attempts = 1;
  auto client = make_client(config, options);
  ASSERT_NE(client, nullptr);
  auto listed = client->list(kConfigMaps, "default", {});
  ASSERT_THAT(listed, StatusIs(StatusCode::kNetworkError));
}

TEST_F(TlsTest, BadCaDataIsAConfigError) {
  ClientConfig config = secure(kToken);
  config.ca_pem = "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n";
  auto client = make_rest_kube_client(config, clock_);
  ASSERT_THAT(client, StatusIs(StatusCode::kInvalidConfig));
}

TEST_F(TlsTest, TrustedCaAndBearerTokenWork) {
  auto client = make_client(secure(kToken));
  ASSERT_NE(client, nullptr);
  ASSERT_THAT(client->create(kConfigMaps, config_map("secure", "1"), {}), IsOk());
  auto got = client->get({kConfigMaps, "default", "secure"});
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ((*got)["data"]["value"], "1");
}

TEST_F(TlsTest, TlsServerNameIsWhatTheCertificateIsCheckedAgainst) {
  RestClientOptions options = fast_retries();
  options.retry.max_attempts = 1;
  ClientConfig wrong = secure(kToken);
  wrong.tls_server_name = "not-the-server.example";  // not in the emulator's certificate
  auto refused = make_client(wrong, options);
  ASSERT_NE(refused, nullptr);
  EXPECT_THAT(refused->list(kConfigMaps, "default", {}), StatusIs(StatusCode::kNetworkError));

  ClientConfig right = secure(kToken);
  right.tls_server_name = "localhost";  // connecting to 127.0.0.1, verifying "localhost"
  auto accepted = make_client(right, options);
  ASSERT_NE(accepted, nullptr);
  auto listed = accepted->list(kConfigMaps, "default", {});
  EXPECT_THAT(listed, IsOk());
}

TEST_F(TlsTest, InsecureSkipVerifyStillSendsTheToken) {
  ClientConfig config = secure(kToken);
  config.ca_pem.clear();
  config.insecure_skip_tls_verify = true;
  auto client = make_client(config);
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->list(kConfigMaps, "default", {}), IsOk());
}

TEST_F(TlsTest, TokenFileIsReReadAfterUnauthorized) {
  const auto file =
      std::filesystem::temp_directory_path() / ("kube-token-" + std::to_string(emulator_.port()));
  auto write = [&](const std::string& token) { std::ofstream(file, std::ios::trunc) << token; };
  write("stale-token\n");
  ClientConfig config = secure("");
  config.token_file = file.string();
  config.token_reload_interval = std::chrono::hours(1);
  auto client = make_client(config);
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->list(kConfigMaps, "default", {}), StatusIs(StatusCode::kUnauthorized));

  write(std::string(kToken) + "\n");  // the kubelet rotates the projected token
  auto listed = client->list(kConfigMaps, "default", {});
  EXPECT_THAT(listed, IsOk()) << "the 401 made the client read the new token: "
                              << listed.status().to_string();
  std::filesystem::remove(file);
}

TEST_F(TlsTest, WatchOverTls) {
  auto client = make_client(secure(kToken));
  ASSERT_NE(client, nullptr);
  auto list = client->list(kConfigMaps, "default", {});
  ASSERT_THAT(list, IsOk());
  ListOptions options;
  options.resource_version = list->resource_version;
  options.timeout_seconds = 30;
  auto stream = client->watch(kConfigMaps, "default", options);
  ASSERT_THAT(stream, IsOk());
  ASSERT_THAT(client->create(kConfigMaps, config_map("tls-watch", "1"), {}), IsOk());
  auto event = (*stream)->next();
  ASSERT_TRUE(event.ok() && event->has_value()) << event.status().to_string();
  EXPECT_EQ(object_name((*event)->object), "tls-watch");
}

}  // namespace
}  // namespace kubefn::kube::testing
