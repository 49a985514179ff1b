// kubefn-build: compiles a C++ function and pushes it as an image layered on the runtime base
// image, or assembles that base image from this machine's runtime and libraries, an image of
// one program, or one of whole directory trees (a root file system). See README.md.
#include <CLI/CLI.hpp>
#include <iostream>

#include "kubefn/builder/compile.hpp"
#include "kubefn/builder/image_build.hpp"
#include "kubefn/builder/rootfs_image.hpp"
#include "kubefn/builder/source.hpp"

namespace builder = kubefn::builder;

namespace {

struct Common {
  bool plain_http = false;
  std::string registry_config;
  std::string termination_log;
  bool json = false;
};

int fail(const Common& common, const std::string& message) {
  std::cerr << "kubefn-build: " << message << "\n";
  builder::write_termination_log(common.termination_log, builder::error_json(message));
  return 1;
}

// "A=B" options as pairs; false (and `bad` set) for one without '=' or with nothing before it.
bool split_pairs(const std::vector<std::string>& items,
                 std::vector<std::pair<std::string, std::string>>& out, std::string& bad) {
  for (const auto& item : items) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      bad = item;
      return false;
    }
    out.emplace_back(item.substr(0, eq), item.substr(eq + 1));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kubefn-build: build C++ function images without a container daemon"};
  app.require_subcommand(1);
  Common common;

  std::string source;
  std::string handler;
  std::vector<std::string> dependencies;
  std::string base;
  std::string image;
  std::string tag;
  std::string source_digest;
  std::string output_dir;
  std::string sdk_include;
  bool install_dependencies = false;
  auto* fn = app.add_subcommand("function", "compile a function and push its image");
  fn->add_option("--source", source, "a .cpp file, a directory or a .tar/.tar.gz archive")
      ->required();
  fn->add_option("--handler", handler, "<module>.<function>, e.g. hello.greet")->required();
  fn->add_option("--dependency", dependencies, "a Debian -dev package the code links against");
  fn->add_option("--base", base, "the runtime base image");
  fn->add_option("--image", image, "the repository to push to (registry/name[:tag])");
  fn->add_option("--tag", tag, "tag to push (default src-<16 hex of the source digest>)");
  fn->add_option("--source-digest", source_digest, "use this digest for the source");
  fn->add_option("--output-dir", output_dir,
                 "compile only: write <module>.so (and lib/) here, no registry");
  fn->add_option("--sdk-include", sdk_include, "directory holding kubefn/function.hpp");
  fn->add_flag("--install-dependencies", install_dependencies,
               "apt-get install missing dependencies");

  std::string runtime;
  std::string stats_plugin;
  bool no_stats_plugin = false;
  bool no_strip = false;
  auto* base_cmd = app.add_subcommand("base", "assemble and push the runtime base image");
  base_cmd->add_option("--runtime", runtime, "the kubefn-runtime binary")->required();
  base_cmd->add_option("--image", image, "where to push it")->required();
  auto* plugin_opt = base_cmd->add_option(
      "--stats-plugin", stats_plugin,
      "the load-report plugin to put beside the runtime (default: kubefn_runtime_stats.so "
      "beside --runtime, when it exists)");
  base_cmd
      ->add_flag("--no-stats-plugin", no_stats_plugin,
                 "leave the plugin (and gRPC) out: replicas do not report load")
      ->excludes(plugin_opt);
  base_cmd->add_flag("--no-strip", no_strip, "keep the runtime's and the plugin's debug sections");

  std::string program;
  std::string program_path;
  bool bare = false;
  auto* program_cmd = app.add_subcommand(
      "program", "package one of this machine's programs (e.g. kubefn-operator) as an image");
  program_cmd->add_option("--binary", program, "the program")->required()->check(CLI::ExistingFile);
  program_cmd->add_option("--image", image, "where to push it")->required();
  program_cmd->add_option("--path", program_path,
                          "where the image holds it (default /usr/local/bin/<its name>)");
  program_cmd->add_flag("--bare", bare,
                        "the program alone: no CA certificates, user or /tmp (static programs "
                        "only, e.g. kubefn-pause)");
  program_cmd->add_flag("--no-strip", no_strip, "keep the program's debug sections");

  std::vector<std::string> dirs, adds, entrypoint, cmd, env, labels;
  std::string user, workdir, layer_cache;
  auto* rootfs_cmd = app.add_subcommand(
      "rootfs", "pack directory trees (a root file system) and added files as an image");
  rootfs_cmd->add_option("--dir", dirs, "a tree for one layer, bottom first (repeatable)")
      ->check(CLI::ExistingDirectory);
  rootfs_cmd->add_option("--add", adds,
                         "SRC=DEST: a file or directory for the top layer (repeatable)");
  rootfs_cmd->add_option("--image", image, "where to push it")->required();
  rootfs_cmd->add_option("--entrypoint", entrypoint, "the entrypoint, one word per use");
  rootfs_cmd->add_option("--cmd", cmd, "the command, one word per use");
  rootfs_cmd->add_option("--user", user, "the image's user, e.g. 65532:65532");
  rootfs_cmd->add_option("--workdir", workdir, "the working directory");
  rootfs_cmd->add_option("--env", env, "NAME=VALUE (repeatable)");
  rootfs_cmd->add_option("--label", labels, "NAME=VALUE (repeatable)");
  rootfs_cmd->add_option("--layer-cache", layer_cache,
                         "directory remembering the layers of trees packed before");
  rootfs_cmd->add_flag("--no-strip", no_strip, "keep the debug sections of added programs");

  for (auto* sub : {fn, base_cmd, program_cmd, rootfs_cmd}) {
    sub->add_flag("--plain-http", common.plain_http, "talk http:// to the registry");
    sub->add_option("--registry-config", common.registry_config,
                    "docker config.json holding registry credentials");
    sub->add_option("--termination-log", common.termination_log,
                    "also write the result (or the error) as JSON to this file");
    sub->add_flag("--json", common.json, "print the result as one JSON line");
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // A build Job with bad arguments still tells the operator why (when the log option parsed).
    if (e.get_exit_code() != 0) {
      builder::write_termination_log(common.termination_log, builder::error_json(e.what()));
    }
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  if (fn->parsed()) {
    auto sources = builder::load_sources(source);
    if (!sources.ok()) return fail(common, sources.status().message());
    builder::CompileRequest compile;
    compile.sources = std::move(*sources);
    compile.handler = handler;
    compile.dependencies = dependencies;
    compile.install_dependencies = install_dependencies;
    compile.sdk_include = sdk_include;
    compile.source_digest = source_digest;
    if (!output_dir.empty()) {
      auto compiled = builder::compile_function(compile);
      if (!compiled.ok()) return fail(common, compiled.status().message());
      auto written = builder::write_function_dir(*compiled, output_dir);
      if (!written.ok()) return fail(common, written.message());
      std::cout << output_dir << "/" << compiled->handler.module << ".so\n";
      return 0;
    }
    if (base.empty() || image.empty()) {
      return fail(common, "--base and --image are required unless --output-dir is given");
    }
    builder::FunctionImageRequest request;
    request.compile = std::move(compile);
    request.base = base;
    request.image = image;
    request.tag = tag;
    request.registry = {common.plain_http, common.registry_config};
    auto built = builder::build_function_image(request);
    if (!built.ok()) return fail(common, built.status().message());
    std::string json = builder::function_result_json(*built);
    builder::write_termination_log(common.termination_log, json);
    if (common.json) {
      std::cout << json << "\n";
    } else {
      std::cout << built->image << (built->cached ? " (unchanged)" : "") << "\n";
    }
    return 0;
  }

  if (rootfs_cmd->parsed()) {
    builder::RootfsImageRequest request;
    request.dirs = dirs;
    std::string bad;
    if (!split_pairs(adds, request.add, bad)) {
      return fail(common, "--add " + bad + ": want SRC=DEST");
    }
    if (!split_pairs(env, request.env, bad)) {
      return fail(common, "--env " + bad + ": want NAME=VALUE");
    }
    if (!split_pairs(labels, request.labels, bad)) {
      return fail(common, "--label " + bad + ": want NAME=VALUE");
    }
    request.entrypoint = entrypoint;
    request.cmd = cmd;
    request.user = user;
    request.working_dir = workdir;
    request.layer_cache = layer_cache;
    request.image = image;
    request.strip_debug = !no_strip;
    request.registry = {common.plain_http, common.registry_config};
    auto built = builder::build_rootfs_image(request);
    if (!built.ok()) return fail(common, built.status().message());
    std::string json = builder::rootfs_result_json(*built);
    builder::write_termination_log(common.termination_log, json);
    std::cout << (common.json ? json : built->image) << "\n";
    return 0;
  }

  if (program_cmd->parsed()) {
    builder::ProgramImageRequest request;
    request.binary_path = program;
    request.path_in_image = program_path;
    request.bare = bare;
    request.image = image;
    request.registry = {common.plain_http, common.registry_config};
    request.strip_debug = !no_strip;
    auto built = builder::build_program_image(request);
    if (!built.ok()) return fail(common, built.status().message());
    std::string json = builder::base_result_json(*built);
    builder::write_termination_log(common.termination_log, json);
    std::cout << (common.json ? json : built->image) << "\n";
    return 0;
  }

  builder::BaseImageRequest request;
  request.runtime_path = runtime;
  if (!no_stats_plugin) {
    request.stats_plugin_path =
        stats_plugin.empty() ? builder::default_stats_plugin(runtime) : stats_plugin;
  }
  request.image = image;
  request.registry = {common.plain_http, common.registry_config};
  request.strip_debug = !no_strip;
  auto built = builder::build_base_image(request);
  if (!built.ok()) return fail(common, built.status().message());
  std::string json = builder::base_result_json(*built);
  builder::write_termination_log(common.termination_log, json);
  std::cout << (common.json ? json : built->image) << "\n";
  return 0;
}
