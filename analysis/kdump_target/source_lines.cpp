// SPDX-License-Identifier: GPL-2.0
// SourceLines: dwarf_addrdie + dwarf_getsrc_die over the vmlinux's DWARF.
#include "analysis/kdump_target/source_lines.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace kstuck {

SourceLines::~SourceLines() {
  if (dwarf_) dwarf_end(dwarf_);
  if (fd_ >= 0) ::close(fd_);
}

Result<void> SourceLines::ensure_open() {
  if (dwarf_) return {};
  if (tried_) return fail(ErrorKind::NotFound, open_error_);
  tried_ = true;
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    open_error_ = path_ + ": " + std::strerror(errno);
    return fail(ErrorKind::Os, open_error_);
  }
  dwarf_ = dwarf_begin(fd_, DWARF_C_READ);
  if (!dwarf_) {
    open_error_ = path_ + ": no DWARF debug information (" + dwarf_errmsg(-1) + ")";
    return fail(ErrorKind::NotFound, open_error_);
  }
  return {};
}

Result<std::string> SourceLines::at(uint64_t link_address) {
  auto r = ensure_open();
  if (!r) return tl::unexpected(r.error());
  Dwarf_Die cu;
  if (!dwarf_addrdie(dwarf_, link_address, &cu))
    return fail(ErrorKind::NotFound, "no compile unit covers this address", link_address);
  Dwarf_Line* line = dwarf_getsrc_die(&cu, link_address);
  if (!line) return fail(ErrorKind::NotFound, "no line information for this address", link_address);
  const char* file = dwarf_linesrc(line, nullptr, nullptr);
  int lineno = 0;
  dwarf_lineno(line, &lineno);
  if (!file) return fail(ErrorKind::NotFound, "no source file for this address", link_address);
  // Paths are absolute under the build directory; keep them relative to the source tree.
  std::string path = file;
  Dwarf_Attribute attr;
  const char* comp_dir = dwarf_formstring(dwarf_attr(&cu, DW_AT_comp_dir, &attr));
  if (comp_dir && *comp_dir) {
    std::string prefix = std::string(comp_dir) + "/";
    if (path.compare(0, prefix.size(), prefix) == 0) path.erase(0, prefix.size());
  }
  return path + ":" + std::to_string(lineno);
}

}  // namespace kstuck
