#pragma once

// Request bodies in the Kubernetes protobuf encoding ("k8s\0" + runtime.Unknown), for the few
// messages typed clients send that way to the emulator: Secrets and ConfigMaps (helm keeps its
// releases in Secrets through client-go's typed clientset) and DeleteOptions. Everything else
// stays JSON-only (415).

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace kubefn::emulator {

// The JSON form of a protobuf body for `kind` ("Secret", "ConfigMap", "DeleteOptions"), or
// nullopt when the body is malformed or the kind is not one of those.
std::optional<nlohmann::json> protobuf_body_to_json(const std::string& body,
                                                    const std::string& kind);

}  // namespace kubefn::emulator
