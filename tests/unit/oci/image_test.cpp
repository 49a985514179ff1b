#include "kubefn/oci/image.hpp"

#include <gtest/gtest.h>

#include "kubefn/oci/digest.hpp"

namespace kubefn::oci {
namespace {

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');
const std::string kC = "sha256:" + std::string(64, 'c');

TEST(Layer, MakeLayerDigestsAndDeterminism) {
  const std::vector<TarEntry> entries = {TarEntry::directory("kubefn", 0755),
                                         TarEntry::file("kubefn/hello.so", "ELF...", 0755)};
  const Layer layer = make_layer(entries);
  EXPECT_EQ(layer.descriptor.media_type, kOciLayerGzip);
  EXPECT_EQ(layer.descriptor.digest, sha256_digest(layer.blob));
  EXPECT_EQ(layer.descriptor.size, static_cast<std::int64_t>(layer.blob.size()));
  EXPECT_EQ(layer.diff_id, sha256_digest(write_tar(entries)));
  auto tar = gunzip(layer.blob);
  ASSERT_TRUE(tar.ok());
  EXPECT_EQ(sha256_digest(*tar), layer.diff_id);
  const Layer again = make_layer(entries);
  EXPECT_EQ(again.blob, layer.blob);
  EXPECT_EQ(again.diff_id, layer.diff_id);
}

TEST(Manifest, SerializeIsCanonical) {
  Manifest manifest;
  manifest.media_type = std::string(kOciManifest);
  manifest.config = {std::string(kOciConfig), kA, 123, {}};
  manifest.layers = {{std::string(kOciLayerGzip), kB, 456, {{"z", "1"}, {"a", "2"}}}};
  const std::string json = serialize_manifest(manifest);
  EXPECT_EQ(json,
            R"({"config":{"digest":")" + kA +
                R"(","mediaType":"application/vnd.oci.image.config.v1+json","size":123},)"
                R"("layers":[{"annotations":{"a":"2","z":"1"},"digest":")" +
                kB +
                R"(","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":456}],)"
                R"("mediaType":"application/vnd.oci.image.manifest.v1+json","schemaVersion":2})");
  EXPECT_EQ(serialize_manifest(manifest), json);
  auto parsed = parse_manifest(json);
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->media_type, kOciManifest);
  EXPECT_EQ(parsed->config, manifest.config);
  EXPECT_EQ(parsed->layers, manifest.layers);
  EXPECT_EQ(serialize_manifest(*parsed), json);
}

TEST(Manifest, ParsesDockerSchema2) {
  const std::string docker = R"({
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
   "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1469,
              "digest": ")" + kA +
                             R"("},
   "layers": [
      {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 2811478,
       "digest": ")" + kB + R"("}
   ]})";
  auto parsed = parse_manifest(docker);
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->media_type, kDockerManifest);
  EXPECT_EQ(parsed->config.media_type, kDockerConfig);
  EXPECT_EQ(parsed->config.size, 1469);
  ASSERT_EQ(parsed->layers.size(), 1u);
  EXPECT_EQ(parsed->layers[0].media_type, kDockerLayerGzip);
  EXPECT_EQ(parsed->layers[0].digest, kB);
}

TEST(Manifest, OciWithoutMediaTypeAndWithAnnotations) {
  const std::string oci = R"({"schemaVersion":2,"config":{"mediaType":")" +
                          std::string(kOciConfig) + R"(","digest":")" + kA +
                          R"(","size":2},"layers":[],"annotations":{"k":"v"}})";
  auto parsed = parse_manifest(oci);
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->media_type, kOciManifest);
  EXPECT_TRUE(parsed->layers.empty());
  EXPECT_EQ(parsed->annotations.at("k"), "v");
}

TEST(Manifest, RejectsBadDocuments) {
  EXPECT_FALSE(parse_manifest("nope").ok());
  EXPECT_FALSE(parse_manifest("[]").ok());
  EXPECT_FALSE(parse_manifest(R"({"schemaVersion":1})").ok());
  EXPECT_FALSE(parse_manifest(R"({"schemaVersion":2,"layers":[]})").ok());  // no config
  EXPECT_FALSE(
      parse_manifest(R"({"schemaVersion":2,"config":{"digest":"sha256:1","size":1}})").ok());
  auto index = parse_manifest(R"({"schemaVersion":2,"mediaType":")" + std::string(kOciIndex) +
                              R"(","manifests":[]})");
  ASSERT_FALSE(index.ok());
  EXPECT_NE(index.status().message().find("index"), std::string::npos);
}

TEST(Index, SelectsPlatform) {
  const std::string list =
      R"({"schemaVersion":2,"mediaType":")" + std::string(kDockerManifestList) + R"(","manifests":[
    {"mediaType":")" +
      std::string(kDockerManifest) + R"(","digest":")" + kA +
      R"(","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
    {"mediaType":")" +
      std::string(kDockerManifest) + R"(","digest":")" + kB +
      R"(","size":2,"platform":{"os":"linux","architecture":"amd64"}}]})";
  auto index = parse_index(list);
  ASSERT_TRUE(index.ok()) << index.status().to_string();
  ASSERT_EQ(index->manifests.size(), 2u);
  auto amd64 = select_platform(*index, "linux", "amd64");
  ASSERT_TRUE(amd64);
  EXPECT_EQ(amd64->descriptor.digest, kB);
  auto arm = select_platform(*index, "linux", "arm64", "v8");
  ASSERT_TRUE(arm);
  EXPECT_EQ(arm->descriptor.digest, kA);
  EXPECT_FALSE(select_platform(*index, "windows", "amd64"));
}

TEST(ImageConfig, HelpersAndDeterminism) {
  ImageConfig config = ImageConfig::for_platform();
  config.set_entrypoint({"/kubefn/runtime"});
  config.set_cmd({"--port", "8080"});
  config.set_env("PATH", "/usr/bin");
  config.set_env("KUBEFN_FUNCTION", "hello");
  config.set_env("PATH", "/bin");  // replaces
  config.set_label("dev.kubefn.function", "hello");
  config.set_user("65532:65532");
  config.set_working_dir("/kubefn");
  config.add_exposed_port("8080/tcp");
  config.append_layer(kC, "kubefn-build: add hello.so");
  EXPECT_EQ(config.label("dev.kubefn.function"), "hello");
  EXPECT_FALSE(config.label("missing"));
  EXPECT_EQ(config.env("PATH"), "/bin");
  const auto& json = config.json;
  EXPECT_EQ(json["os"], "linux");
  EXPECT_EQ(json["architecture"], "amd64");
  EXPECT_EQ(json["config"]["Env"].size(), 2u);
  EXPECT_EQ(json["config"]["Entrypoint"][0], "/kubefn/runtime");
  EXPECT_EQ(json["config"]["User"], "65532:65532");
  EXPECT_EQ(json["config"]["WorkingDir"], "/kubefn");
  EXPECT_TRUE(json["config"]["ExposedPorts"].contains("8080/tcp"));
  EXPECT_EQ(json["rootfs"]["diff_ids"][0], kC);
  EXPECT_EQ(json["history"][0]["created_by"], "kubefn-build: add hello.so");
  const std::string text = config.serialize();
  EXPECT_NE(text.find(R"("created":"1970-01-01T00:00:00Z")"), std::string::npos);
  EXPECT_EQ(text.find('\n'), std::string::npos);
  ImageConfig copy = ImageConfig::for_platform();
  copy.json = nlohmann::json::parse(text);
  EXPECT_EQ(copy.serialize(), text);
}

TEST(AppendLayer, KeepsBaseFieldsAndLayerTypes) {
  const std::string base_text = R"({"architecture":"amd64","os":"linux",
    "created":"2024-05-01T10:00:00.123Z","docker_version":"24.0","container_config":{"Hostname":"x"},
    "config":{"Env":["PATH=/usr/bin"],"Cmd":["sh"]},
    "rootfs":{"type":"layers","diff_ids":[")" +
                                kA + R"("]},
    "history":[{"created":"2024-05-01T10:00:00Z","created_by":"base"}]})";
  auto base_config = ImageConfig::parse(base_text);
  ASSERT_TRUE(base_config.ok());
  Manifest base;
  base.media_type = std::string(kDockerManifest);
  base.config = {std::string(kDockerConfig), kB, 100, {}};
  base.layers = {{std::string(kDockerLayerGzip), kC, 1000, {}}};
  const Layer layer = make_layer({TarEntry::file("kubefn/hello.so", "x", 0755)});

  const AppendResult result = append_layer(base, *base_config, layer, "kubefn-build");
  EXPECT_EQ(result.manifest.media_type, kOciManifest);
  EXPECT_EQ(result.manifest.config.media_type, kOciConfig);
  EXPECT_EQ(result.manifest.config.digest, sha256_digest(result.config_blob));
  EXPECT_EQ(result.manifest.config.size, static_cast<std::int64_t>(result.config_blob.size()));
  ASSERT_EQ(result.manifest.layers.size(), 2u);
  EXPECT_EQ(result.manifest.layers[0].media_type, kDockerLayerGzip);  // preserved
  EXPECT_EQ(result.manifest.layers[1], layer.descriptor);
  const auto config = nlohmann::json::parse(result.config_blob);
  EXPECT_EQ(config["docker_version"], "24.0");  // unknown fields kept
  EXPECT_EQ(config["container_config"]["Hostname"], "x");
  EXPECT_EQ(config["config"]["Cmd"][0], "sh");
  EXPECT_EQ(config["created"], "1970-01-01T00:00:00Z");
  ASSERT_EQ(config["rootfs"]["diff_ids"].size(), 2u);
  EXPECT_EQ(config["rootfs"]["diff_ids"][1], layer.diff_id);
  ASSERT_EQ(config["history"].size(), 2u);
  EXPECT_EQ(config["history"][1]["created_by"], "kubefn-build");

  // Same inputs, same digests.
  const AppendResult again = append_layer(base, *base_config, layer, "kubefn-build");
  EXPECT_EQ(again.config_blob, result.config_blob);
  EXPECT_EQ(serialize_manifest(again.manifest), serialize_manifest(result.manifest));
}

TEST(AppendLayer, OnScratch) {
  const Layer layer = make_layer({TarEntry::file("a", "b")});
  const AppendResult result =
      append_layer(scratch_manifest(), ImageConfig::for_platform(), layer, "add a");
  ASSERT_EQ(result.manifest.layers.size(), 1u);
  EXPECT_EQ(result.config.json["rootfs"]["diff_ids"].size(), 1u);
  auto parsed = parse_manifest(serialize_manifest(result.manifest));
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
}

}  // namespace
}  // namespace kubefn::oci
