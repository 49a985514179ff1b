#include "kubefn/controller/object_reader.hpp"

#include "kubefn/api/function.hpp"

namespace kubefn::controller {

kube::Result<std::vector<nlohmann::json>> ClientReader::list_owned(
    const kube::GroupVersionResource& resource, const std::string& ns,
    const std::string& function) {
  kube::ListOptions opts;
  opts.label_selector = std::string(api::kFunctionLabel) + "=" + function;
  auto list = client_.list(resource, ns, opts);
  if (!list.ok()) return list.status();
  return std::move(list.value().items);
}

}  // namespace kubefn::controller
