#pragma once

// Server-side apply at the level kubectl and controllers need: field ownership per Apply
// manager in metadata.managedFields (FieldsV1; lists are atomic), conflicts with other Apply
// managers (409 unless force), and removal of fields a manager stopped applying.

#include <nlohmann/json.hpp>
#include <string>

#include "api_error.hpp"

namespace kubefn::emulator {

struct ApplyRequest {
  std::string manager;
  bool force = false;
  std::string api_version;
  std::string group_resource;
  std::string name;
  std::string now;
};

// `live` is null when the object does not exist. Returns the object to store.
Result<nlohmann::json> server_side_apply(const nlohmann::json& live, const nlohmann::json& config,
                                         const ApplyRequest& request);

}  // namespace kubefn::emulator
