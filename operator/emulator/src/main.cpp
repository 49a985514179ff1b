// kube-emulator: serves the Kubernetes API emulator until SIGINT/SIGTERM.
//   kube-emulator [--port N] [--tls] [--token T] [--cert F --key F] [--ca-out F]
//                 [--deployment-ready-delay-ms N] [--watch-cache-size N] [--data-dir DIR]
// Prints the URL on the first line of stdout once ready. With --data-dir the objects are kept
// in DIR (snapshot and write-ahead log) and recovered from it at start.

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include "kubefn/emulator/kube_emulator.hpp"

namespace {

int usage() {
  std::cerr << "usage: kube-emulator [--port N] [--tls] [--token T] [--cert F --key F] "
               "[--ca-out F] [--deployment-ready-delay-ms N] [--watch-cache-size N] "
               "[--data-dir DIR]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  kubefn::emulator::EmulatorOptions opts;
  std::string ca_out;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--tls") {
      opts.tls = true;
    } else if (a == "--port" && (v = value())) {
      opts.port = static_cast<uint16_t>(std::atoi(v));
    } else if (a == "--token" && (v = value())) {
      opts.token = v;
    } else if (a == "--cert" && (v = value())) {
      opts.cert_file = v;
    } else if (a == "--key" && (v = value())) {
      opts.key_file = v;
    } else if (a == "--ca-out" && (v = value())) {
      ca_out = v;
    } else if (a == "--deployment-ready-delay-ms" && (v = value())) {
      opts.deployment_ready_delay_ms = std::atoi(v);
    } else if (a == "--watch-cache-size" && (v = value())) {
      opts.watch_cache_size = static_cast<std::size_t>(std::atol(v));
    } else if (a == "--data-dir" && (v = value()) && *v != '\0') {
      opts.data_dir = v;
    } else {
      return usage();
    }
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // inherited by the server threads
  try {
    kubefn::emulator::KubeEmulator emulator(opts);
    if (!ca_out.empty()) std::ofstream(ca_out) << emulator.ca_pem();
    std::cout << emulator.url() << std::endl;
    int sig = 0;
    sigwait(&signals, &sig);
  } catch (const std::exception& e) {
    std::cerr << "kube-emulator: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
