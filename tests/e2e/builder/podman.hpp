#pragma once

// podman for the builder's end-to-end tests: its own storage per instance, the runc runtime and
// the ulimits this machine needs, containers removed at the end.
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kubefn/testing/command.hpp"
#include "kubefn/testing/free_port.hpp"
#include "kubefn/testing/http_client.hpp"
#include "kubefn/testing/temp_dir.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::testing {

using namespace std::chrono_literals;

// podman with its own storage, so tests neither see nor leave containers and images.
class Podman {
 public:
  Podman() : root_(dir_.file("root")), runroot_(dir_.file("runroot")) {}
  ~Podman() {
    for (const auto& id : containers_)
      run({"rm", "-f", "-t", "0", id});
    run({"rmi", "-a", "-f"});
  }
  CommandResult run(std::vector<std::string> args, std::chrono::milliseconds timeout = 300s) {
    std::vector<std::string> argv = {"podman", "--root", root_, "--runroot", runroot_};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, {}, timeout);
  }
  // Starts `image` detached with the function port published on 127.0.0.1; the host port.
  // With `host_network` the container shares the host's network (so it reaches servers the
  // test runs on 127.0.0.1) and the runtime listens on a free port of the host instead.
  std::uint16_t start(const std::string& image, std::string& error,
                      const std::vector<std::pair<std::string, std::string>>& env = {},
                      bool host_network = false, const std::vector<std::string>& command = {}) {
    std::uint16_t port = free_port();
    std::vector<std::string> args;
    if (host_network) {
      args = {"--network", "host", "-e", "FUNC_PORT=" + std::to_string(port)};
    } else {
      args = {"-p", "127.0.0.1:" + std::to_string(port) + ":8080"};
    }
    for (const auto& [name, value] : env)
      args.insert(args.end(), {"-e", name + "=" + value});
    const std::string id = run_detached(args, image, error, command);
    if (id.empty()) return 0;
    bool up = wait_until(
        [&] {
          auto reply = http_request(port, "GET", "/healthz", {}, {}, 2s);
          return reply && reply->status > 0;
        },
        60s, 50ms);
    if (!up) {
      error = "the container did not answer; logs: " + run({"logs", id}).err;
      return 0;
    }
    return port;
  }
  std::string logs() {
    std::string out;
    for (const auto& id : containers_) {
      auto r = run({"logs", id}, 60s);
      out += r.out + r.err;
    }
    return out;
  }
  // `podman run -d` of `image` with `args` (options before the image, then `command`); the
  // container's id, or empty with `error` set.
  std::string run_detached(const std::vector<std::string>& args, const std::string& image,
                           std::string& error, const std::vector<std::string>& command = {}) {
    std::vector<std::string> argv = run_command_line("-d");
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(image);
    argv.insert(argv.end(), command.begin(), command.end());
    auto r = run(argv);
    if (r.exit_code != 0) {
      error = "podman run failed (" + std::to_string(r.exit_code) + "): " + r.err;
      return {};
    }
    std::string id = r.out.substr(0, r.out.find('\n'));
    containers_.push_back(id);
    return id;
  }
  // `podman inspect --format FORMAT` of a container, without the trailing newline.
  std::string inspect(const std::string& id, const std::string& format) {
    auto r = run({"inspect", "--format", format, id}, 60s);
    std::string out = r.out;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
      out.pop_back();
    return out;
  }
  // `podman run MODE` with what runs containers on these machines: runc, and limits under the
  // machine's (podman's defaults exceed them and runc fails).
  static std::vector<std::string> run_command_line(const std::string& mode) {
    return {"run",
            mode,
            "--runtime",
            "runc",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
            "--tls-verify=false"};
  }
  static bool installed() { return run_command({"podman", "--version"}, {}, 30s).exit_code == 0; }

 private:
  TempDir dir_;
  std::string root_, runroot_;
  std::vector<std::string> containers_;
};

}  // namespace kubefn::testing
