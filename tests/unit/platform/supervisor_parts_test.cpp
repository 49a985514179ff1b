// Unit tests of the replica supervisor's parts: log reading, the HTTP probe and child spawning.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "child_process.hpp"
#include "http_probe.hpp"
#include "kubefn/platform/local/replica_supervisor.hpp"
#include "kubefn/testing/temp_dir.hpp"
#include "kubefn/testing/wait.hpp"
#include "replica_log.hpp"

namespace kubefn::platform::local::detail {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

TEST(ListeningPort, ReadsThePortOfTheRuntimesListeningLine) {
  EXPECT_EQ(listening_port(R"({"ts":"x","level":"info","msg":"listening","port":40123,)"
                           R"("function":"hello","threads":2})"),
            40123);
  EXPECT_EQ(listening_port(R"({"level":"info","msg":"draining","port":1})"), 0);
  EXPECT_EQ(listening_port(R"({"msg":"listening"})"), 0);
  EXPECT_EQ(listening_port(R"({"msg":"listening","port":99999})"), 0);
  EXPECT_EQ(listening_port("plain text listening port 80"), 0);
}

TEST(LogTail, KeepsTheLastLinesWrittenSinceAnOffset) {
  testing::TempDir dir;
  std::string text;
  for (int i = 0; i < 30; ++i)
    text += "line " + std::to_string(i) + "\n";
  auto path = dir.write("log", "earlier run\n" + text).string();
  auto tail = log_tail(path, 12, 3);
  EXPECT_EQ(tail, "line 27\nline 28\nline 29");
  EXPECT_EQ(log_tail(path, 12, 100).find("earlier"), std::string::npos);
  EXPECT_EQ(log_tail(path, 0, 100).rfind("earlier run\n", 0), 0u);
  // A byte bound drops the partial first line.
  EXPECT_EQ(log_tail(path, 0, 100, 12), "line 29");
  EXPECT_EQ(log_tail(path, 10000), "");
  EXPECT_EQ(log_tail(dir.file("missing"), 0), "");
}

// A loopback listener that answers each connection with `reply` (or never, when empty).
class TinyServer {
 public:
  explicit TinyServer(std::string reply) : reply_(std::move(reply)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 16);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (!reply_.empty()) thread_ = std::thread([this] { serve(); });
  }
  ~TinyServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    if (thread_.joinable()) thread_.join();
  }
  std::uint16_t port() const { return port_; }
  std::string last_request() {
    std::lock_guard<std::mutex> l(mu_);
    return request_;
  }

 private:
  void serve() {
    for (;;) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[1024];
      std::string req;
      while (req.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        req.append(buf, static_cast<std::size_t>(n));
      }
      {
        std::lock_guard<std::mutex> l(mu_);
        request_ = req;
      }
      ::send(c, reply_.data(), reply_.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }
  std::string reply_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::string request_;
};

// Drives a probe the way the supervisor's loop does, until it finishes.
void run(HttpProbe& probe) {
  testing::wait_until([&] { return probe.advance(Clock::now()); }, seconds(10));
}

TEST(HttpProbe, ReportsTheStatusCode) {
  TinyServer ok("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nready\n");
  HttpProbe p(ok.port(), "/readyz", Clock::now() + seconds(5));
  run(p);
  EXPECT_TRUE(p.done());
  EXPECT_EQ(p.status(), 200);
  EXPECT_EQ(p.fd(), -1);
  EXPECT_EQ(ok.last_request().rfind("GET /readyz HTTP/1.1\r\n", 0), 0u) << ok.last_request();

  TinyServer draining("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 9\r\n\r\ndraining\n");
  HttpProbe q(draining.port(), "/readyz", Clock::now() + seconds(5));
  run(q);
  EXPECT_EQ(q.status(), 503);
}

TEST(HttpProbe, FailsOnRefusedClosedAndSilentPeers) {
  std::uint16_t free_port;
  {
    TinyServer gone("x");
    free_port = gone.port();
  }
  HttpProbe refused(free_port, "/healthz", Clock::now() + seconds(5));
  run(refused);
  EXPECT_EQ(refused.status(), 0);
  EXPECT_NE(refused.error().find("connect"), std::string::npos) << refused.error();

  TinyServer garbage("nonsense");
  HttpProbe bad(garbage.port(), "/healthz", Clock::now() + seconds(5));
  run(bad);
  EXPECT_EQ(bad.status(), 0);
  EXPECT_FALSE(bad.error().empty());

  TinyServer silent("");  // accepts in the kernel's backlog, never answers
  HttpProbe timeout(silent.port(), "/healthz", Clock::now() + milliseconds(200));
  run(timeout);
  EXPECT_EQ(timeout.status(), 0);
  EXPECT_NE(timeout.error().find("timeout"), std::string::npos) << timeout.error();
}

int wait_for(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

TEST(Spawn, RunsWithTheGivenEnvironmentAndAppendsOutputToTheFile) {
  testing::TempDir dir;
  auto out = dir.file("out.log");
  testing::write_file(out, "before\n");
  SpawnSpec spec;
  spec.argv = {"sh", "-c", "echo \"$GREETING $$\"; echo oops >&2; exit 3"};
  spec.env = {{"GREETING", "hi"}};
  spec.output_path = out;
  auto s = spawn(spec);
  ASSERT_GT(s.pid, 0) << s.error;
  int status = wait_for(s.pid);
  if (s.pidfd >= 0) ::close(s.pidfd);
  EXPECT_EQ(describe_wait_status(status), "exited with code 3");
  EXPECT_EQ(testing::read_file(out), "before\nhi " + std::to_string(s.pid) + "\noops\n");
}

TEST(Spawn, ChildHasItsOwnProcessGroupAndNoInheritedDescriptors) {
  testing::TempDir dir;
  int leaked = ::dup(1);  // not close-on-exec
  SpawnSpec spec;
  spec.argv = {"sh", "-c", "ps -o pgid= -p $$; ls /proc/self/fd | wc -l"};
  spec.output_path = dir.file("out.log");
  auto s = spawn(spec);
  ASSERT_GT(s.pid, 0) << s.error;
  wait_for(s.pid);
  ::close(leaked);
  if (s.pidfd >= 0) ::close(s.pidfd);
  auto text = testing::read_file(spec.output_path);
  auto nl = text.find('\n');
  ASSERT_NE(nl, std::string::npos) << text;
  EXPECT_EQ(std::stoi(text.substr(0, nl)), s.pid);
  // stdin, stdout, stderr and the descriptor `ls` opens on /proc/self/fd.
  EXPECT_EQ(std::stoi(text.substr(nl + 1)), 4) << text;
}

TEST(Spawn, ReportsWhatCannotStart) {
  testing::TempDir dir;
  SpawnSpec spec;
  spec.argv = {"no-such-program-anywhere"};
  spec.output_path = dir.file("out.log");
  auto s = spawn(spec);
  EXPECT_EQ(s.pid, -1);
  EXPECT_NE(s.error.find("not found"), std::string::npos) << s.error;

  spec.argv = {"true"};
  spec.output_path = dir.file("no/such/dir/out.log");
  s = spawn(spec);
  EXPECT_EQ(s.pid, -1);
  EXPECT_NE(s.error.find("cannot open"), std::string::npos) << s.error;
}

TEST(Spawn, DescribesSignals) {
  testing::TempDir dir;
  SpawnSpec spec;
  spec.argv = {"sleep", "60"};
  spec.output_path = dir.file("out.log");
  auto s = spawn(spec);
  ASSERT_GT(s.pid, 0) << s.error;
  ::kill(s.pid, SIGKILL);
  EXPECT_EQ(describe_wait_status(wait_for(s.pid)), "killed by signal 9 (SIGKILL)");
  if (s.pidfd >= 0) ::close(s.pidfd);
}

TEST(Spawn, ChildDiesWithTheThreadThatStartedIt) {
  testing::TempDir dir;
  pid_t child = -1;
  std::thread starter([&] {
    SpawnSpec spec;
    spec.argv = {"sleep", "60"};
    spec.output_path = dir.file("out.log");
    auto s = spawn(spec);
    child = s.pid;
    if (s.pidfd >= 0) ::close(s.pidfd);
    // The death signal is set before exec: wait for exec so this thread ends after it.
    testing::wait_until(
        [&] {
          return testing::read_file("/proc/" + std::to_string(child) + "/cmdline")
                     .rfind("sleep", 0) == 0;
        },
        seconds(30));
  });
  starter.join();
  ASSERT_GT(child, 0);
  // The death signal (SIGKILL) arrives when the starting thread ends; we are still its parent.
  EXPECT_EQ(describe_wait_status(wait_for(child)), "killed by signal 9 (SIGKILL)");
}

TEST(FunctionKey, ComparesHashesAndPrints) {
  FunctionKey a{"ns", "fn"};
  FunctionKey b{"ns", "fn"};
  FunctionKey c{"ns", "other"};
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(FunctionKeyHash{}(a), FunctionKeyHash{}(b));
  EXPECT_EQ(std::hash<FunctionKey>{}(a), FunctionKeyHash{}(a));
  EXPECT_EQ(a.str(), "ns/fn");
  EXPECT_EQ(to_string(ReplicaPhase::kCrashLoop), "CrashLoop");
}

}  // namespace
}  // namespace kubefn::platform::local::detail
