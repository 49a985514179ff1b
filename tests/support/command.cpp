#include "kubefn/testing/command.hpp"

#include "kubefn/testing/wait.hpp"

namespace kubefn::testing {

BackgroundCommand::BackgroundCommand(const std::vector<std::string>& argv,
                                     const std::map<std::string, std::string>& env,
                                     const std::string& stdin_text) {
  std::string in_path;
  if (!stdin_text.empty()) {
    in_path = dir_.file("stdin");
    write_file(in_path, stdin_text);
  }
  child_ = std::make_unique<ChildProcess>(argv, env, dir_.file("out"), dir_.file("err"), in_path);
}

std::string BackgroundCommand::out() const {
  return read_file(dir_.file("out"));
}

bool BackgroundCommand::wait_for_output(const std::string& text,
                                        std::chrono::milliseconds timeout) {
  return wait_until([&] { return out().find(text) != std::string::npos; }, timeout);
}

CommandResult BackgroundCommand::wait(std::chrono::milliseconds timeout) {
  CommandResult r;
  if (child_) {
    r.exit_code = child_->wait_exit(timeout).value_or(-1);
    child_.reset();  // kills it if it is still running
  }
  r.out = read_file(dir_.file("out"));
  r.err = read_file(dir_.file("err"));
  return r;
}

CommandResult run_command(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env,
                          std::chrono::milliseconds timeout, const std::string& stdin_text) {
  return BackgroundCommand(argv, env, stdin_text).wait(timeout);
}

}  // namespace kubefn::testing
