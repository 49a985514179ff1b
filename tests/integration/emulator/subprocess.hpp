#pragma once

// Runs a child process with captured stdout/stderr, for driving the real kubectl binary.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kubefn::emulator::testing {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed after the timeout
  std::string out;
  std::string err;
};

class Subprocess {
 public:
  Subprocess(const std::vector<std::string>& argv, const std::string& stdin_data = "");
  // Terminates the child if it still runs, then reaps it.
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // True once stdout contains `needle` (waits up to `within`).
  bool wait_for_output(const std::string& needle, std::chrono::milliseconds within);
  // Waits for exit; kills the child when the timeout passes.
  ProcessResult wait(std::chrono::milliseconds timeout);
  std::string output();

 private:
  void pump(int out_fd, int err_fd);

  pid_t pid_ = -1;
  bool reaped_ = false;
  int exit_code_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string out_;
  std::string err_;
  bool eof_ = false;
  std::thread reader_;
};

ProcessResult run_process(const std::vector<std::string>& argv, const std::string& stdin_data,
                          std::chrono::milliseconds timeout);

}  // namespace kubefn::emulator::testing
