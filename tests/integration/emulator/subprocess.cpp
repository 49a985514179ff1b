#include "subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>

namespace kubefn::emulator::testing {

Subprocess::Subprocess(const std::vector<std::string>& argv, const std::string& stdin_data) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]})
      close(fd);
    execv(args[0], args.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  signal(SIGPIPE, SIG_IGN);
  if (!stdin_data.empty()) {
    ssize_t ignored = write(in[1], stdin_data.data(), stdin_data.size());
    (void)ignored;
  }
  close(in[1]);
  reader_ = std::thread([this, o = out[0], e = err[0]] { pump(o, e); });
}

Subprocess::~Subprocess() {
  if (!reaped_) {
    kill(pid_, SIGTERM);
    wait(std::chrono::seconds(10));
  }
  if (reader_.joinable()) reader_.join();
}

void Subprocess::pump(int out_fd, int err_fd) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  int open = 2;
  char buf[4096];
  while (open > 0) {
    if (poll(fds, 2, -1) < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open;
        continue;
      }
      std::lock_guard lock(mu_);
      (i == 0 ? out_ : err_).append(buf, static_cast<std::size_t>(n));
      cv_.notify_all();
    }
  }
  std::lock_guard lock(mu_);
  eof_ = true;
  cv_.notify_all();
}

bool Subprocess::wait_for_output(const std::string& needle, std::chrono::milliseconds within) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, within, [&] { return out_.find(needle) != std::string::npos; });
}

std::string Subprocess::output() {
  std::lock_guard lock(mu_);
  return out_;
}

ProcessResult Subprocess::wait(std::chrono::milliseconds timeout) {
  bool finished;
  {
    std::unique_lock lock(mu_);
    finished = cv_.wait_for(lock, timeout, [&] { return eof_; });
  }
  if (!finished) kill(pid_, SIGKILL);
  if (!reaped_) {
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    exit_code_ = finished && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  if (reader_.joinable()) reader_.join();
  std::lock_guard lock(mu_);
  return ProcessResult{exit_code_, out_, err_};
}

ProcessResult run_process(const std::vector<std::string>& argv, const std::string& stdin_data,
                          std::chrono::milliseconds timeout) {
  Subprocess p(argv, stdin_data);
  return p.wait(timeout);
}

}  // namespace kubefn::emulator::testing
