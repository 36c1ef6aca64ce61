// SPDX-License-Identifier: GPL-2.0
// ElfSymbols: reads .symtab and the GNU build-id note of a vmlinux through libelf.
#include "analysis/kdump_target/elf_symbols.h"

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

// Among symbols at one address, the one a stack trace should name.
int rank(const ElfSymbols::Sym& s) {
  int r = 0;
  if (s.type == STT_FUNC) r += 8;
  else if (s.type == STT_OBJECT) r += 4;
  if (s.size > 0) r += 2;
  return r;
}

}  // namespace

ElfSymbols::~ElfSymbols() {
  if (elf_) elf_end(elf_);
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<ElfSymbols>> ElfSymbols::open(const std::string& path) {
  std::unique_ptr<ElfSymbols> s(new ElfSymbols());
  s->path_ = path;
  // A FIFO, a device or a directory is refused before anything blocks on it.
  auto fd = open_input_file(path, InputKind::RegularFile);
  if (!fd) return tl::unexpected(fd.error());
  s->fd_ = *fd;
  elf_version(EV_CURRENT);
  s->elf_ = elf_begin(s->fd_, ELF_C_READ_MMAP, nullptr);
  if (!s->elf_ || elf_kind(s->elf_) != ELF_K_ELF)
    return fail(ErrorKind::Format, path + ": not an ELF file");
  auto r = s->load();
  if (!r) return tl::unexpected(r.error().with_context(path));
  return s;
}

Result<void> ElfSymbols::load() {
  GElf_Ehdr eh;
  if (!gelf_getehdr(elf_, &eh)) return fail(ErrorKind::Format, "no ELF header");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 || eh.e_type != ET_EXEC)
    return fail(ErrorKind::Format, "not an x86-64 vmlinux (ELF executable)");

  size_t shstrndx = 0;
  if (elf_getshdrstrndx(elf_, &shstrndx) != 0) return fail(ErrorKind::Format, "no section name table");
  Elf_Scn* symtab = nullptr;
  size_t percpu_index = SIZE_MAX;
  uint64_t percpu_addr = 0;
  for (Elf_Scn* scn = elf_nextscn(elf_, nullptr); scn; scn = elf_nextscn(elf_, scn)) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh)) continue;
    const char* name = elf_strptr(elf_, shstrndx, sh.sh_name);
    if (sh.sh_type == SHT_SYMTAB) symtab = scn;
    if (name && std::strcmp(name, ".data..percpu") == 0) {
      percpu_index = elf_ndxscn(scn);
      percpu_addr = sh.sh_addr;
    }
    if (sh.sh_type == SHT_NOTE && build_id_.empty()) {
      Elf_Data* data = elf_getdata(scn, nullptr);
      size_t off = 0, name_off = 0, desc_off = 0;
      GElf_Nhdr nh;
      while (data && (off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
        if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
            std::memcmp(static_cast<const char*>(data->d_buf) + name_off, "GNU", 4) == 0) {
          static const char digits[] = "0123456789abcdef";
          const auto* p = static_cast<const unsigned char*>(data->d_buf) + desc_off;
          for (size_t i = 0; i < nh.n_descsz; i++) {
            build_id_ += digits[p[i] >> 4];
            build_id_ += digits[p[i] & 15];
          }
          break;
        }
      }
    }
  }
  if (!symtab) return fail(ErrorKind::Format, "no symbol table (stripped vmlinux?)");
  GElf_Shdr symsh;
  gelf_getshdr(symtab, &symsh);
  Elf_Data* data = elf_getdata(symtab, nullptr);
  if (!data || symsh.sh_entsize == 0) return fail(ErrorKind::Format, "unreadable symbol table");
  size_t n = symsh.sh_size / symsh.sh_entsize;
  syms_.reserve(n);
  for (size_t i = 1; i < n; i++) {
    GElf_Sym sym;
    if (!gelf_getsym(data, static_cast<int>(i), &sym)) continue;
    uint8_t type = GELF_ST_TYPE(sym.st_info);
    if (type != STT_FUNC && type != STT_OBJECT && type != STT_NOTYPE) continue;
    if (sym.st_shndx == SHN_UNDEF) continue;
    const char* name = elf_strptr(elf_, symsh.sh_link, sym.st_name);
    if (!name || !*name) continue;
    Sym s;
    s.name = name;
    s.value = sym.st_value;
    s.size = sym.st_size;
    s.type = type;
    s.absolute = sym.st_shndx == SHN_ABS;
    // Per-CPU symbols are offsets from a CPU's base (never relocated) only while
    // .data..percpu is linked at 0. Since Linux commit 9d7de2aa8b41 ("x86/percpu/64: Use
    // relative percpu offsets") (in v6.15) the section has a kernel address, its symbols
    // move with KASLR like any other, and __per_cpu_offset is relative to them.
    s.percpu = sym.st_shndx == percpu_index && percpu_addr == 0;
    syms_.push_back(s);
  }
  by_name_.reserve(syms_.size());
  for (uint32_t i = 0; i < syms_.size(); i++) {
    auto [it, inserted] = by_name_.emplace(syms_[i].name, i);
    // Prefer a sized definition over a label of the same name.
    if (!inserted && syms_[it->second].size == 0 && syms_[i].size > 0) it->second = i;
  }
  for (uint32_t i = 0; i < syms_.size(); i++)
    if (!syms_[i].percpu && !syms_[i].absolute) by_address_.push_back(i);
  std::sort(by_address_.begin(), by_address_.end(), [this](uint32_t a, uint32_t b) {
    if (syms_[a].value != syms_[b].value) return syms_[a].value < syms_[b].value;
    return rank(syms_[a]) > rank(syms_[b]);
  });
  by_address_.erase(std::unique(by_address_.begin(), by_address_.end(),
                                [this](uint32_t a, uint32_t b) { return syms_[a].value == syms_[b].value; }),
                    by_address_.end());
  if (const Sym* end = find("_end")) text_end_ = end->value;
  return {};
}

const ElfSymbols::Sym* ElfSymbols::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &syms_[it->second];
}

const ElfSymbols::Sym* ElfSymbols::containing(uint64_t address) const {
  if (text_end_ && address >= text_end_) return nullptr;
  auto it = std::upper_bound(by_address_.begin(), by_address_.end(), address,
                             [this](uint64_t a, uint32_t i) { return a < syms_[i].value; });
  if (it == by_address_.begin()) return nullptr;
  const Sym& s = syms_[*(it - 1)];
  if (s.size > 0 && address >= s.value + s.size) return nullptr;
  return &s;
}

Result<void> ElfSymbols::read_static(uint64_t address, std::span<std::byte> out) const {
  for (Elf_Scn* scn = elf_nextscn(elf_, nullptr); scn; scn = elf_nextscn(elf_, scn)) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC) || sh.sh_type != SHT_PROGBITS) continue;
    if (address < sh.sh_addr || address - sh.sh_addr >= sh.sh_size) continue;
    if (out.size() > sh.sh_size - (address - sh.sh_addr)) break;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (!data || data->d_size < sh.sh_size) break;
    std::memcpy(out.data(), static_cast<const std::byte*>(data->d_buf) + (address - sh.sh_addr), out.size());
    return {};
  }
  return fail(ErrorKind::NotFound, "no file data at this vmlinux address", address);
}

}  // namespace kstuck
