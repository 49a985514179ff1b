// report: runs on a schedule (spec.triggers.schedules); each run says which one it is.
#include <kubefn/function.hpp>
#include <string>

std::string run(const kubefn::Event& event, kubefn::Context& ctx) {
  // The same id on every delivery of one run: a handler can drop a run it already did.
  const kubefn::CloudEvent& ce = event.cloud_event;
  ctx.log().info("report run " + std::string(ce.id) + " scheduled for " + std::string(ce.time) +
                 " with " + std::string(event.data));
  return "report " + std::string(ce.time) + "\n";
}
KUBEFN_HANDLER(run);
