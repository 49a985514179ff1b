#pragma once

#include <map>
#include <memory>
#include <string>

#include "kubefn/testing/process.hpp"
#include "kubefn/testing/temp_dir.hpp"

namespace kubefn::testing {

// A real kubefn-runtime process serving one handler on 127.0.0.1, port 0.
class RuntimeProcess {
 public:
  RuntimeProcess(const std::string& library, const std::string& handler,
                 std::map<std::string, std::string> env = {});
  std::uint16_t port() const { return port_; }
  bool started() const { return port_ != 0; }
  ChildProcess& process() { return *child_; }
  std::string stdout_text() const { return read_file(dir_.file("stdout")); }
  std::string stderr_text() const { return read_file(dir_.file("stderr")); }
  std::string metrics() const;
  double metric(const std::string& series) const;

 private:
  TempDir dir_;
  std::unique_ptr<ChildProcess> child_;
  std::uint16_t port_ = 0;
};

}  // namespace kubefn::testing
