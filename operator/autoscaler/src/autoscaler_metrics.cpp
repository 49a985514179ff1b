#include "kubefn/autoscaler/autoscaler_metrics.hpp"

namespace kubefn::autoscaler {

AutoscalerMetrics::AutoscalerMetrics(prometheus::Registry& registry)
    : desired_(prometheus::BuildGauge()
                   .Name("kubefn_autoscaler_desired_replicas")
                   .Help("Replicas the autoscaler decided on at its last tick")
                   .Register(registry)),
      actual_(prometheus::BuildGauge()
                  .Name("kubefn_autoscaler_actual_replicas")
                  .Help("Replicas of the function that are ready, at the autoscaler's last tick")
                  .Register(registry)),
      load_(prometheus::BuildGauge()
                .Name("kubefn_autoscaler_observed_load")
                .Help("The function's metric averaged over the stable window")
                .Register(registry)),
      panic_(prometheus::BuildGauge()
                 .Name("kubefn_autoscaler_panic")
                 .Help("1 while the function is in panic mode, else 0")
                 .Register(registry)) {}

AutoscalerMetrics::Series AutoscalerMetrics::add(const std::string& ns,
                                                 const std::string& function) {
  const prometheus::Labels labels{{"namespace", ns}, {"function", function}};
  return Series{&desired_.Add(labels), &actual_.Add(labels), &load_.Add(labels),
                &panic_.Add(labels)};
}

void AutoscalerMetrics::set(const Series& s, const Decision& d, int actual) {
  if (s.desired == nullptr) return;
  s.desired->Set(d.desired);
  s.actual->Set(actual);
  s.load->Set(d.stable_value);
  s.panic->Set(d.panic ? 1 : 0);
}

void AutoscalerMetrics::remove(Series& s) {
  if (s.desired != nullptr) desired_.Remove(s.desired);
  if (s.actual != nullptr) actual_.Remove(s.actual);
  if (s.load != nullptr) load_.Remove(s.load);
  if (s.panic != nullptr) panic_.Remove(s.panic);
  s = Series{};
}

}  // namespace kubefn::autoscaler
