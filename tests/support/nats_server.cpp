#include "kubefn/testing/nats_server.hpp"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "kubefn/testing/wait.hpp"

namespace kubefn::testing {
namespace {

using namespace std::chrono_literals;

// The port in {"nats":["nats://127.0.0.1:35229"]}, or 0 while the file is not whole yet.
std::uint16_t port_from_ports_file(const std::string& path) {
  if (!std::filesystem::exists(path)) return 0;
  const auto j = nlohmann::json::parse(read_file(path), nullptr, false);
  if (j.is_discarded() || !j.contains("nats") || !j["nats"].is_array() || j["nats"].empty())
    return 0;
  const std::string url = j["nats"][0].get<std::string>();
  const auto colon = url.rfind(':');
  if (colon == std::string::npos) return 0;
  return static_cast<std::uint16_t>(std::stoi(url.substr(colon + 1)));
}

}  // namespace

NatsServer::NatsServer(std::vector<std::string> extra_args) : extra_args_(std::move(extra_args)) {
  std::filesystem::create_directories(dir_.path() / "store");
  launch("-1");
}

NatsServer::~NatsServer() = default;

std::string NatsServer::url() const {
  return "nats://127.0.0.1:" + std::to_string(port_);
}

void NatsServer::launch(const std::string& port_arg) {
  const std::string ports_dir = (dir_.path() / ("ports-" + std::to_string(++runs_))).string();
  std::filesystem::create_directories(ports_dir);
  std::vector<std::string> argv = {"nats-server",      "-a",     "127.0.0.1", "-p",
                                   port_arg,           "-js",    "-sd",       dir_.file("store"),
                                   "--ports_file_dir", ports_dir};
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  const std::string log_path = dir_.file("server-" + std::to_string(runs_) + ".log");
  process_ = std::make_unique<ChildProcess>(argv, std::map<std::string, std::string>{}, log_path,
                                            log_path);
  const std::string ports_file =
      ports_dir + "/nats-server_" + std::to_string(process_->pid()) + ".ports";
  std::uint16_t port = 0;
  const bool up = wait_until(
      [&] {
        if (!process_->running()) return true;
        port = port_from_ports_file(ports_file);
        return port != 0;
      },
      20s);
  if (!up || port == 0)
    throw std::runtime_error("nats-server did not start: " + read_file(log_path));
  port_ = port;
}

void NatsServer::stop(int signal) {
  if (!process_) return;
  process_->signal(signal);
  if (!process_->wait_exit(30s)) {
    process_->signal(SIGKILL);
    (void)process_->wait_exit(10s);
  }
  process_.reset();
}

void NatsServer::start() {
  launch(std::to_string(port_));
}

void NatsServer::signal(int signal) const {
  if (process_) process_->signal(signal);
}

std::string NatsServer::log() const {
  std::string out;
  for (int run = 1; run <= runs_; ++run) {
    const std::string path = dir_.file("server-" + std::to_string(run) + ".log");
    if (std::filesystem::exists(path)) out += read_file(path);
  }
  return out;
}

}  // namespace kubefn::testing
