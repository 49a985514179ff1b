#include "kubefn/testing/fakes/fake_platform.hpp"

namespace kubefn::testing {

controller::WorkloadOutcome FakePlatform::ready_workload(std::int64_t n) {
  controller::WorkloadOutcome w;
  w.wanted = n;
  w.replicas = n;
  w.ready = n;
  w.rolled_out = true;
  w.available = true;
  w.url = kUrl;
  w.selector = "kubefn.dev/function=fn";
  return w;
}

void FakePlatform::answer_prepare(controller::StepOutcome outcome) {
  std::lock_guard<std::mutex> lock(mu_);
  prepare_ = std::move(outcome);
}

void FakePlatform::answer_build(controller::BuildOutcome outcome) {
  std::lock_guard<std::mutex> lock(mu_);
  build_ = std::move(outcome);
}

void FakePlatform::answer_run(controller::WorkloadOutcome outcome) {
  std::lock_guard<std::mutex> lock(mu_);
  run_ = std::move(outcome);
}

void FakePlatform::answer_scale(kube::Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  scale_ = std::move(status);
}

std::vector<FakePlatform::Call> FakePlatform::calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

std::vector<std::string> FakePlatform::steps() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& c : calls_)
    out.push_back(c.step);
  return out;
}

void FakePlatform::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  calls_.clear();
}

void FakePlatform::add(Call call) {
  std::lock_guard<std::mutex> lock(mu_);
  calls_.push_back(std::move(call));
}

controller::StepOutcome FakePlatform::prepare(const controller::FunctionContext& ctx) {
  add({"prepare", ctx.spec.ns, ctx.spec.name, ctx.digest, ctx.source_text, {}, 0});
  std::lock_guard<std::mutex> lock(mu_);
  return prepare_;
}

controller::BuildOutcome FakePlatform::build(const controller::FunctionContext& ctx) {
  add({"build", ctx.spec.ns, ctx.spec.name, ctx.digest, ctx.source_text, {}, 0});
  std::lock_guard<std::mutex> lock(mu_);
  return build_;
}

controller::WorkloadOutcome FakePlatform::run(const controller::FunctionContext& ctx,
                                              const std::string& image) {
  add({"run", ctx.spec.ns, ctx.spec.name, ctx.digest, ctx.source_text, image, 0});
  std::lock_guard<std::mutex> lock(mu_);
  return run_;
}

void FakePlatform::forget(const std::string& ns, const std::string& name) {
  add({"forget", ns, name, {}, {}, {}, 0});
}

kube::Status FakePlatform::scale(const std::string& ns, const std::string& name,
                                 std::int64_t replicas) {
  add({"scale", ns, name, {}, {}, {}, replicas});
  std::lock_guard<std::mutex> lock(mu_);
  return scale_;
}

}  // namespace kubefn::testing
