#include "kubefn/testing/command.hpp"

#include "kubefn/testing/process.hpp"
#include "kubefn/testing/temp_dir.hpp"

namespace kubefn::testing {

CommandResult run_command(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env,
                          std::chrono::milliseconds timeout, const std::string& stdin_text) {
  TempDir dir;
  std::vector<std::string> args = argv;
  std::string in_path;
  if (!stdin_text.empty()) {
    in_path = dir.file("stdin");
    write_file(in_path, stdin_text);
  }
  CommandResult r;
  {
    ChildProcess child(args, env, dir.file("out"), dir.file("err"), in_path);
    auto code = child.wait_exit(timeout);
    r.exit_code = code.value_or(-1);
  }
  r.out = read_file(dir.file("out"));
  r.err = read_file(dir.file("err"));
  return r;
}

}  // namespace kubefn::testing
