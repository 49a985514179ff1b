#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "kubefn/kube/result.hpp"

namespace kubefn::builder {

// What the dynamic loader needs to know about a 64-bit little-endian ELF file.
struct ElfInfo {
  std::vector<std::string> needed;           // DT_NEEDED, in order
  std::string soname;                        // DT_SONAME, may be empty
  std::vector<std::string> runpath;          // DT_RUNPATH (or DT_RPATH), split at ':'
  std::string interpreter;                   // PT_INTERP, empty for shared libraries
  std::vector<std::string> defined_symbols;  // defined, non-local symbols of .dynsym
};

kube::Result<ElfInfo> read_elf(std::string_view bytes);

// One line of `ldd` output: "libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)" or
// "/lib64/ld-linux-x86-64.so.2 (0x...)". `path` is empty for the vDSO; `found` is false for
// "not found".
struct LddEntry {
  std::string name;
  std::string path;
  bool found = true;
};
std::vector<LddEntry> parse_ldd(std::string_view text);

// Runs ldd on `file` and returns its (transitive) libraries.
kube::Result<std::vector<LddEntry>> resolve_libraries(const std::string& file);

}  // namespace kubefn::builder
