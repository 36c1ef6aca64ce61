// SPDX-License-Identifier: GPL-2.0
// SourceLines: .debug_aranges and one CU DIE by hand, the line table through libdw.
#include "analysis/kdump_target/source_lines.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "analysis/kdump_target/input_file.h"

namespace kstuck {
namespace {

// A bounds-checked cursor over a DWARF section: every read past the end sets bad.
struct Cursor {
  std::span<const uint8_t> data;
  size_t pos = 0;
  bool bad = false;

  bool have(size_t n) {
    if (bad || pos > data.size() || n > data.size() - pos) bad = true;
    return !bad;
  }
  uint64_t fixed(size_t n) {
    if (!have(n)) return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= uint64_t{data[pos + i]} << (8 * i);
    pos += n;
    return v;
  }
  uint64_t uleb() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && have(1); shift += 7) {
      uint8_t b = data[pos++];
      v |= uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) return v;
    }
    bad = true;
    return 0;
  }
  void skip(uint64_t n) {
    if (have(n)) pos += n;
  }
  void skip_string() {
    while (have(1) && data[pos++] != 0) {
    }
  }
};

std::span<const uint8_t> section(Elf* elf, const char* wanted) {
  size_t shstrndx = 0;
  if (elf_getshdrstrndx(elf, &shstrndx) != 0) return {};
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh)) continue;
    const char* name = elf_strptr(elf, shstrndx, sh.sh_name);
    if (!name || std::strcmp(name, wanted) != 0 || sh.sh_type == SHT_NOBITS) continue;
    Elf_Data* d = elf_rawdata(scn, nullptr);
    if (!d || !d->d_buf) return {};
    return {static_cast<const uint8_t*>(d->d_buf), d->d_size};
  }
  return {};
}

// Skips one attribute value of the given form; false for forms we do not know.
bool skip_form(Cursor& c, uint64_t form, uint8_t addr_size, uint8_t offset_size, int depth = 0) {
  switch (form) {
    case DW_FORM_flag_present: case DW_FORM_implicit_const: return true;
    case DW_FORM_addr: c.skip(addr_size); return true;
    case DW_FORM_data1: case DW_FORM_ref1: case DW_FORM_flag: case DW_FORM_strx1: case DW_FORM_addrx1:
      c.skip(1); return true;
    case DW_FORM_data2: case DW_FORM_ref2: case DW_FORM_strx2: case DW_FORM_addrx2: c.skip(2); return true;
    case DW_FORM_strx3: case DW_FORM_addrx3: c.skip(3); return true;
    case DW_FORM_data4: case DW_FORM_ref4: case DW_FORM_strx4: case DW_FORM_addrx4: case DW_FORM_ref_sup4:
      c.skip(4); return true;
    case DW_FORM_data8: case DW_FORM_ref8: case DW_FORM_ref_sig8: case DW_FORM_ref_sup8: c.skip(8); return true;
    case DW_FORM_data16: c.skip(16); return true;
    case DW_FORM_strp: case DW_FORM_line_strp: case DW_FORM_sec_offset: case DW_FORM_ref_addr:
    case DW_FORM_strp_sup:
      c.skip(offset_size); return true;
    case DW_FORM_udata: case DW_FORM_ref_udata: case DW_FORM_strx: case DW_FORM_addrx: case DW_FORM_loclistx:
    case DW_FORM_rnglistx: case DW_FORM_sdata:
      c.uleb(); return true;
    case DW_FORM_string: c.skip_string(); return true;
    case DW_FORM_block1: c.skip(c.fixed(1)); return true;
    case DW_FORM_block2: c.skip(c.fixed(2)); return true;
    case DW_FORM_block4: c.skip(c.fixed(4)); return true;
    case DW_FORM_block: case DW_FORM_exprloc: c.skip(c.uleb()); return true;
    case DW_FORM_indirect: return depth == 0 && skip_form(c, c.uleb(), addr_size, offset_size, 1);
    default: return false;
  }
}

}  // namespace

SourceLines::~SourceLines() {
  if (dwarf_) dwarf_end(dwarf_);
  if (elf_) elf_end(elf_);
  if (fd_ >= 0) ::close(fd_);
}

Result<void> SourceLines::ensure_open() {
  if (dwarf_) return {};
  if (tried_) return fail(ErrorKind::NotFound, open_error_);
  tried_ = true;
  auto fd = open_input_file(path_, InputKind::RegularFile);
  if (!fd) {
    open_error_ = fd.error().message();
    return fail(fd.error().kind(), open_error_);
  }
  fd_ = *fd;
  elf_version(EV_CURRENT);
  elf_ = elf_begin(fd_, ELF_C_READ_MMAP, nullptr);
  dwarf_ = elf_ ? dwarf_begin_elf(elf_, DWARF_C_READ, nullptr) : nullptr;
  if (!dwarf_) {
    open_error_ = path_ + ": no DWARF debug information";
    return fail(ErrorKind::NotFound, open_error_);
  }
  info_ = section(elf_, ".debug_info");
  abbrev_ = section(elf_, ".debug_abbrev");
  // .debug_aranges: per CU a header, then (address, length) pairs up to (0, 0).
  Cursor c{section(elf_, ".debug_aranges")};
  while (c.have(4) && c.pos < c.data.size()) {
    size_t set_start = c.pos;
    uint64_t length = c.fixed(4);
    if (length >= 0xfffffff0u) break;  // 64-bit DWARF: not in any vmlinux we read
    size_t set_end = c.pos + length;
    uint64_t version = c.fixed(2);
    uint64_t cu_offset = c.fixed(4);
    uint64_t addr_size = c.fixed(1);
    uint64_t seg_size = c.fixed(1);
    if (c.bad || version != 2 || addr_size != 8 || seg_size != 0 || set_end > c.data.size()) break;
    c.pos = set_start + 16;  // the tuples are aligned to twice the address size
    while (c.pos + 16 <= set_end) {
      uint64_t start = c.fixed(8), len = c.fixed(8);
      if (start == 0 && len == 0) break;
      ranges_.push_back({start, start + len, cu_offset});
    }
    c.pos = set_end;
  }
  std::sort(ranges_.begin(), ranges_.end(), [](const Range& a, const Range& b) { return a.start < b.start; });
  if (ranges_.empty() || info_.empty() || abbrev_.empty()) {
    open_error_ = path_ + ": no .debug_aranges to find compile units by address";
    dwarf_end(dwarf_);
    dwarf_ = nullptr;
    return fail(ErrorKind::NotFound, open_error_);
  }
  return {};
}

Result<uint64_t> SourceLines::stmt_list(uint64_t cu_offset) {
  Cursor c{info_, static_cast<size_t>(cu_offset)};
  uint64_t length = c.fixed(4);
  if (length >= 0xfffffff0u) return fail(ErrorKind::Format, "64-bit DWARF unit");
  uint64_t version = c.fixed(2);
  uint64_t abbrev_offset = 0, addr_size = 8;
  if (version >= 5) {
    c.fixed(1);  // unit_type
    addr_size = c.fixed(1);
    abbrev_offset = c.fixed(4);
  } else {
    abbrev_offset = c.fixed(4);
    addr_size = c.fixed(1);
  }
  uint64_t code = c.uleb();
  if (c.bad || version < 2 || version > 5) return fail(ErrorKind::Format, "bad compile unit header", cu_offset);
  // Find the abbreviation of the CU DIE (usually the first one in its table).
  Cursor a{abbrev_, static_cast<size_t>(abbrev_offset)};
  for (int entries = 0; entries < 100000 && !a.bad; entries++) {
    uint64_t this_code = a.uleb();
    if (this_code == 0) break;
    a.uleb();     // tag
    a.fixed(1);   // has_children
    bool mine = this_code == code;
    for (int attrs = 0; attrs < 1000 && !a.bad; attrs++) {
      uint64_t attr = a.uleb(), form = a.uleb();
      if (attr == 0 && form == 0) break;
      int64_t implicit = form == DW_FORM_implicit_const ? static_cast<int64_t>(a.uleb()) : 0;
      if (!mine) continue;
      if (attr == DW_AT_stmt_list) {
        if (form == DW_FORM_sec_offset || form == DW_FORM_data4) return c.fixed(4);
        if (form == DW_FORM_data8) return c.fixed(8);
        if (form == DW_FORM_implicit_const) return static_cast<uint64_t>(implicit);
        return fail(ErrorKind::Format, "DW_AT_stmt_list in an unexpected form", cu_offset);
      }
      if (!skip_form(c, form, static_cast<uint8_t>(addr_size), 4) || c.bad)
        return fail(ErrorKind::Format, "unknown attribute form in a compile unit", cu_offset);
    }
    if (mine) return fail(ErrorKind::NotFound, "compile unit has no line table", cu_offset);
  }
  return fail(ErrorKind::Format, "compile unit abbreviation not found", cu_offset);
}

Result<SourceLines::Table*> SourceLines::table(uint64_t offset) {
  auto it = tables_.find(offset);
  if (it != tables_.end()) return &it->second;
  Dwarf_Off next = 0;
  Dwarf_CU* cu = nullptr;
  Dwarf_Files* files = nullptr;
  size_t nfiles = 0;
  Table t;
  if (dwarf_next_lines(dwarf_, offset, &next, &cu, &files, &nfiles, &t.lines, &t.count) != 0)
    return fail(ErrorKind::Format, std::string("line table: ") + dwarf_errmsg(-1), offset);
  const char* const* dirs = nullptr;
  size_t ndirs = 0;
  if (files && dwarf_getsrcdirs(files, &dirs, &ndirs) == 0 && ndirs > 0 && dirs[0]) t.comp_dir = dirs[0];
  return &tables_.emplace(offset, std::move(t)).first->second;
}

Result<std::string> SourceLines::at(uint64_t link_address) {
  auto r = ensure_open();
  if (!r) return tl::unexpected(r.error());
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), link_address,
                             [](uint64_t a, const Range& x) { return a < x.start; });
  if (it == ranges_.begin() || link_address >= (it - 1)->end)
    return fail(ErrorKind::NotFound, "no compile unit covers this address", link_address);
  auto stmt = stmt_list((it - 1)->cu_offset);
  if (!stmt) return tl::unexpected(stmt.error());
  auto t = table(*stmt);
  if (!t) return tl::unexpected(t.error());
  // The row for an address is the last one at or below it within its sequence.
  Dwarf_Line* best = nullptr;
  Dwarf_Addr best_addr = 0;
  size_t lo = 0, hi = (*t)->count;
  while (lo < hi) {  // rows are sorted by address
    size_t mid = lo + (hi - lo) / 2;
    Dwarf_Addr a = 0;
    dwarf_lineaddr(dwarf_onesrcline((*t)->lines, mid), &a);
    if (a <= link_address) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0) {
    best = dwarf_onesrcline((*t)->lines, lo - 1);
    dwarf_lineaddr(best, &best_addr);
    bool end = false;
    dwarf_lineendsequence(best, &end);
    if (end) best = nullptr;
  }
  if (!best) return fail(ErrorKind::NotFound, "no line information for this address", link_address);
  const char* file = dwarf_linesrc(best, nullptr, nullptr);
  int lineno = 0;
  dwarf_lineno(best, &lineno);
  if (!file) return fail(ErrorKind::NotFound, "no source file for this address", link_address);
  // Paths are absolute under the build directory; keep them relative to the source tree.
  std::string path = file;
  if (!(*t)->comp_dir.empty()) {
    std::string prefix = (*t)->comp_dir + "/";
    if (path.compare(0, prefix.size(), prefix) == 0) path.erase(0, prefix.size());
  }
  return path + ":" + std::to_string(lineno);
}

}  // namespace kstuck
