#include "kubefn/builder/elf.hpp"

#include <elf.h>

#include <cstring>
#include <sstream>

#include "kubefn/builder/process.hpp"

namespace kubefn::builder {

using kube::Status;
using kube::StatusCode;

namespace {

template <typename T>
bool read_at(std::string_view bytes, std::uint64_t offset, T& out) {
  if (offset > bytes.size() || bytes.size() - offset < sizeof(T)) return false;
  std::memcpy(&out, bytes.data() + offset, sizeof(T));
  return true;
}

std::string string_at(std::string_view bytes, const Elf64_Shdr& strtab, std::uint64_t index) {
  if (index >= strtab.sh_size || strtab.sh_offset > bytes.size()) return {};
  std::uint64_t start = strtab.sh_offset + index;
  std::uint64_t end = std::min<std::uint64_t>(strtab.sh_offset + strtab.sh_size, bytes.size());
  if (start >= end) return {};
  std::string_view s = bytes.substr(start, end - start);
  return std::string(s.substr(0, s.find('\0')));
}

}  // namespace

kube::Result<ElfInfo> read_elf(std::string_view bytes) {
  Elf64_Ehdr eh;
  if (!read_at(bytes, 0, eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) {
    return Status(StatusCode::kInvalid, "not an ELF file");
  }
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB) {
    return Status(StatusCode::kInvalid, "not a 64-bit little-endian ELF file");
  }
  ElfInfo info;
  for (std::uint16_t i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    if (!read_at(bytes, eh.e_phoff + std::uint64_t{i} * eh.e_phentsize, ph)) break;
    if (ph.p_type == PT_INTERP && ph.p_offset < bytes.size()) {
      std::string_view s = bytes.substr(
          ph.p_offset, std::min<std::uint64_t>(ph.p_filesz, bytes.size() - ph.p_offset));
      info.interpreter = std::string(s.substr(0, s.find('\0')));
    }
  }
  std::vector<Elf64_Shdr> sections(eh.e_shnum);
  for (std::uint16_t i = 0; i < eh.e_shnum; ++i) {
    if (!read_at(bytes, eh.e_shoff + std::uint64_t{i} * eh.e_shentsize, sections[i])) {
      return Status(StatusCode::kInvalid, "truncated ELF section table");
    }
  }
  for (const auto& sh : sections) {
    if (sh.sh_link >= sections.size()) continue;
    const Elf64_Shdr& strtab = sections[sh.sh_link];
    if (sh.sh_type == SHT_DYNAMIC) {
      for (std::uint64_t off = 0; off + sizeof(Elf64_Dyn) <= sh.sh_size; off += sizeof(Elf64_Dyn)) {
        Elf64_Dyn d;
        if (!read_at(bytes, sh.sh_offset + off, d) || d.d_tag == DT_NULL) break;
        if (d.d_tag == DT_NEEDED) info.needed.push_back(string_at(bytes, strtab, d.d_un.d_val));
        if (d.d_tag == DT_SONAME) info.soname = string_at(bytes, strtab, d.d_un.d_val);
        if (d.d_tag == DT_RUNPATH || d.d_tag == DT_RPATH) {
          std::istringstream in(string_at(bytes, strtab, d.d_un.d_val));
          std::string part;
          while (std::getline(in, part, ':'))
            if (!part.empty()) info.runpath.push_back(part);
        }
      }
    } else if (sh.sh_type == SHT_DYNSYM) {
      for (std::uint64_t off = sizeof(Elf64_Sym); off + sizeof(Elf64_Sym) <= sh.sh_size;
           off += sizeof(Elf64_Sym)) {
        Elf64_Sym sym;
        if (!read_at(bytes, sh.sh_offset + off, sym)) break;
        if (sym.st_shndx == SHN_UNDEF || ELF64_ST_BIND(sym.st_info) == STB_LOCAL) continue;
        info.defined_symbols.push_back(string_at(bytes, strtab, sym.st_name));
      }
    }
  }
  return info;
}

std::vector<LddEntry> parse_ldd(std::string_view text) {
  std::vector<LddEntry> out;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos) continue;
    line = line.substr(first);
    if (auto paren = line.rfind(" ("); paren != std::string::npos) line.resize(paren);
    LddEntry e;
    if (auto arrow = line.find(" => "); arrow != std::string::npos) {
      e.name = line.substr(0, arrow);
      e.path = line.substr(arrow + 4);
      if (e.path == "not found") {
        e.path.clear();
        e.found = false;
      }
    } else {
      if (line.find(' ') != std::string::npos || line.find(':') != std::string::npos) continue;
      e.name = line;
      if (line.starts_with("/")) e.path = line;  // the dynamic loader; else the vDSO
    }
    out.push_back(std::move(e));
  }
  return out;
}

kube::Result<std::vector<LddEntry>> resolve_libraries(const std::string& file) {
  auto r = run_process({"ldd", file});
  if (r.exit_code != 0) {
    return Status(StatusCode::kInternalError,
                  "ldd " + file + " failed: " + r.err.substr(0, 300) + r.out.substr(0, 300));
  }
  return parse_ldd(r.out);
}

}  // namespace kubefn::builder
