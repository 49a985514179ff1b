// The API emulator as a child process (the kube-emulator binary on port 0) with a kubeconfig
// for it, for end-to-end tests that drive kubectl, helm or the operator binary against it.
#pragma once

#include <memory>
#include <string>

#include "kubefn/testing/process.hpp"

namespace kubefn::testing {

struct EmulatorProcess {
  std::unique_ptr<ChildProcess> process;
  std::string url;         // empty when it did not start; `error` says why
  std::string kubeconfig;  // path of a kubeconfig for it (context "emu", namespace default)
  std::string error;
};

// Starts `binary --port 0` with its output in `dir` and waits (10 s) for the URL it prints.
EmulatorProcess start_emulator_process(const std::string& binary, const std::string& dir);

// A kubeconfig for `server` with no credentials: cluster, user and context "emu".
std::string kubeconfig_for(const std::string& server);

}  // namespace kubefn::testing
