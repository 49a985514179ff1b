// A Platform for tests of the reconcile core: it records what the core asks of it and answers
// what the test scripted, so a reconcile runs in microseconds with no API and no replicas.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "kubefn/controller/platform.hpp"

namespace kubefn::testing {

// Thread-safe: a controller's workers call it from their own threads.
class FakePlatform final : public controller::Platform {
 public:
  // One call, as the platform received it; the fields a step does not have stay empty.
  struct Call {
    std::string step;  // "prepare", "build", "run", "forget" or "scale"
    std::string ns, name;
    std::string digest;         // ctx.digest of prepare, build and run
    std::string source;         // ctx.source_text of prepare, build and run
    std::string image;          // what run was asked to run
    std::int64_t replicas = 0;  // what scale was asked for
  };

  // The image build() answers with by default.
  static constexpr const char* kBuiltImage = "registry.test/kubefn/fn@sha256:built";
  // Where run() says the function answers by default.
  static constexpr const char* kUrl = "http://fn.test:8080";

  // What each step answers from now on. By default prepare is done, build is done with
  // kBuiltImage, and run has its one replica ready and rolled out, at kUrl.
  void answer_prepare(controller::StepOutcome outcome);
  void answer_build(controller::BuildOutcome outcome);
  void answer_run(controller::WorkloadOutcome outcome);
  void answer_scale(kube::Status status);
  // A ready workload of `n` replicas, rolled out: what run() answers by default with n = 1.
  static controller::WorkloadOutcome ready_workload(std::int64_t n);

  std::vector<Call> calls() const;
  // The steps called, in order ("prepare", "build", "run", ...).
  std::vector<std::string> steps() const;
  void clear();

  controller::StepOutcome prepare(const controller::FunctionContext& ctx) override;
  controller::BuildOutcome build(const controller::FunctionContext& ctx) override;
  controller::WorkloadOutcome run(const controller::FunctionContext& ctx,
                                  const std::string& image) override;
  void forget(const std::string& ns, const std::string& name) override;
  kube::Status scale(const std::string& ns, const std::string& name,
                     std::int64_t replicas) override;

 private:
  void add(Call call);

  mutable std::mutex mu_;
  std::vector<Call> calls_;
  controller::StepOutcome prepare_ = controller::StepOutcome::done();
  controller::BuildOutcome build_{controller::StepOutcome::done(), kBuiltImage};
  controller::WorkloadOutcome run_ = ready_workload(1);
  kube::Status scale_;
};

}  // namespace kubefn::testing
