#pragma once

// The string formats a CRD schema's `format` checks (kube-openapi's strfmt registry, as
// apiextensions-apiserver 1.34 uses it).

#include <string>
#include <string_view>

namespace kubefn::emulator {

// Whether `value` is valid for `format` (as written in the schema, dashes allowed). Formats the
// emulator does not check (email, uri, duration, isbn*, creditcard) accept every value.
bool string_format_valid(const std::string& format, std::string_view value);

}  // namespace kubefn::emulator
