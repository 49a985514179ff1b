// API store benchmark: ConfigMap creates per second against the emulator over real HTTP
// (keep-alive connections, one per writer), in memory and with a data directory (every write
// appended to the log and fdatasync'ed before it is answered; concurrent writers share a sync).
// Prints a table, the ratios, and one line of JSON last.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "kubefn/emulator/kube_emulator.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// One keep-alive HTTP/1.1 connection to 127.0.0.1; post() returns the status or -1.
class Connection {
 public:
  explicit Connection(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
    const int one = 1;
    if (fd_ >= 0) ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  int post(const std::string& path, const std::string& body) {
    const std::string req = "POST " + path +
                            " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                            "Content-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body;
    if (fd_ < 0 ||
        ::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
      return -1;
    }
    for (;;) {
      const auto head = buf_.find("\r\n\r\n");
      if (head != std::string::npos) {
        const auto cl = buf_.find("Content-Length: ");
        if (cl == std::string::npos || cl > head) return -1;
        const std::size_t length = std::strtoul(buf_.c_str() + cl + 16, nullptr, 10);
        if (buf_.size() >= head + 4 + length) {
          const int status = std::atoi(buf_.c_str() + 9);
          buf_.erase(0, head + 4 + length);
          return status;
        }
      }
      char tmp[16384];
      const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) return -1;
      buf_.append(tmp, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  std::string buf_;
};

std::string config_map(const std::string& name) {
  return nlohmann::json{{"apiVersion", "v1"},
                        {"kind", "ConfigMap"},
                        {"metadata", {{"name", name}, {"labels", {{"app", "bench"}}}}},
                        {"data", {{"payload", std::string(256, 'x')}}}}
      .dump();
}

// Creates `total` ConfigMaps from `writers` connections; creates per second.
double creates_per_second(const std::string& data_dir, int writers, int total) {
  kubefn::emulator::EmulatorOptions o;
  o.deployment_controller = false;
  o.garbage_collector = false;
  o.data_dir = data_dir;
  kubefn::emulator::KubeEmulator emu(o);
  std::atomic<int> next{0};
  std::atomic<int> failed{0};
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&] {
      Connection c(emu.port());
      for (int i; (i = next++) < total;) {
        if (c.post("/api/v1/namespaces/default/configmaps",
                   config_map("cm-" + std::to_string(i))) != 201) {
          ++failed;
        }
      }
    });
  }
  for (auto& t : threads)
    t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  if (failed > 0) {
    std::fprintf(stderr, "%d creates failed\n", failed.load());
    std::exit(1);
  }
  return total / secs;
}

}  // namespace

int main() {
  const int total = std::getenv("BENCH_CREATES") ? std::atoi(std::getenv("BENCH_CREATES")) : 4000;
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("kubefn-apistore-bench-" + std::to_string(::getpid()));
  nlohmann::json result = {{"bench", "apistore"}, {"creates", total}};
  std::printf("%-10s %14s %14s %8s\n", "writers", "memory/s", "data_dir/s", "ratio");
  for (const int writers : {1, 8}) {
    const double memory = creates_per_second("", writers, total);
    std::filesystem::remove_all(dir);
    const double durable = creates_per_second(dir.string(), writers, total);
    std::filesystem::remove_all(dir);
    std::printf("%-10d %14.0f %14.0f %8.2f\n", writers, memory, durable, durable / memory);
    const std::string w = "w" + std::to_string(writers);
    result[w] = {{"memory_creates_per_s", static_cast<long>(memory)},
                 {"data_dir_creates_per_s", static_cast<long>(durable)},
                 {"ratio", static_cast<long>(durable / memory * 1000) / 1000.0}};
  }
  std::printf("%s\n", result.dump().c_str());
  return 0;
}
