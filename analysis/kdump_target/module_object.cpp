// SPDX-License-Identifier: GPL-2.0
// Reading a .ko's name, build id, sections and function symbols, checked against its own sizes.
#include "analysis/kdump_target/module_object.h"

#include <elf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "analysis/kdump_target/input_file.h"

namespace kstuck {

namespace {

constexpr size_t kMaxSections = 1 << 16;
constexpr size_t kMaxSymbols = 1 << 20;

// Closes the descriptor and the Elf handle whatever way open() leaves.
struct ElfFile {
  int fd = -1;
  Elf* elf = nullptr;
  ~ElfFile() {
    if (elf) elf_end(elf);
    if (fd >= 0) close(fd);
  }
};

std::string elf_error() { return elf_errmsg(-1) ? elf_errmsg(-1) : "libelf error"; }

// Section bytes as libelf gives them; libelf refuses data past the end of the file.
Result<std::string_view> section_bytes(Elf_Scn* scn, const std::string& what) {
  Elf_Data* d = elf_getdata(scn, nullptr);
  if (!d) return fail(ErrorKind::Format, what + ": " + elf_error());
  if (!d->d_buf) return std::string_view();  // SHT_NOBITS
  return std::string_view(static_cast<const char*>(d->d_buf), d->d_size);
}

std::string hex_of(std::string_view bytes) {
  std::string out;
  char b[3];
  for (unsigned char c : bytes) {
    std::snprintf(b, sizeof(b), "%02x", c);
    out += b;
  }
  return out;
}

// The NT_GNU_BUILD_ID descriptor of a SHT_NOTE section, walked with gelf_getnote
// (which checks every note's sizes against the section).
std::string build_id_of(Elf_Scn* scn) {
  Elf_Data* d = elf_getdata(scn, nullptr);
  if (!d || !d->d_buf) return {};
  size_t off = 0, name_off = 0, desc_off = 0;
  GElf_Nhdr nhdr;
  for (int notes = 0; notes < 64 && off < d->d_size; notes++) {
    size_t next = gelf_getnote(d, off, &nhdr, &name_off, &desc_off);
    if (next == 0) break;
    const char* base = static_cast<const char*>(d->d_buf);
    if (nhdr.n_type == NT_GNU_BUILD_ID && nhdr.n_namesz == 4 && std::memcmp(base + name_off, "GNU", 4) == 0)
      return hex_of(std::string_view(base + desc_off, nhdr.n_descsz));
    off = next;
  }
  return {};
}

// "name=kstuck_scenario" among the NUL-separated key=value strings of .modinfo.
std::string modinfo_value(std::string_view modinfo, std::string_view key) {
  size_t pos = 0;
  while (pos < modinfo.size()) {
    size_t end = modinfo.find('\0', pos);
    if (end == std::string_view::npos) end = modinfo.size();
    std::string_view entry = modinfo.substr(pos, end - pos);
    if (entry.size() > key.size() && entry.compare(0, key.size(), key) == 0 && entry[key.size()] == '=')
      return std::string(entry.substr(key.size() + 1));
    pos = end + 1;
  }
  return {};
}

}  // namespace

std::vector<size_t> ModuleObject::functions_named(std::string_view name) const {
  std::vector<size_t> out;
  auto [first, last] = by_name_.equal_range(std::string(name));
  for (auto it = first; it != last; ++it) out.push_back(it->second);
  return out;
}

Result<ModuleObject> ModuleObject::open(const std::string& path, uint64_t name_offset, uint64_t name_size) {
  auto format = [&](const std::string& why) { return fail(ErrorKind::Format, path + ": " + why); };
  elf_version(EV_CURRENT);
  ElfFile f;
  // A FIFO or device named *.ko is refused before anything blocks on it.
  auto fd = open_input_file(path, InputKind::RegularFile);
  if (!fd) return tl::unexpected(fd.error());
  f.fd = *fd;
  // ELF_C_READ, not mmap: libelf then reads each piece with bounds checks and a file
  // that shrinks under us gives an error instead of SIGBUS.
  f.elf = elf_begin(f.fd, ELF_C_READ, nullptr);
  if (!f.elf || elf_kind(f.elf) != ELF_K_ELF) return format("not an ELF file");
  GElf_Ehdr eh;
  if (!gelf_getehdr(f.elf, &eh)) return format("bad ELF header: " + elf_error());
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64) return format("not an x86-64 object");
  if (eh.e_type != ET_REL) return format("not a relocatable object (a .ko is ET_REL)");
  size_t shnum = 0, shstrndx = 0;
  if (elf_getshdrnum(f.elf, &shnum) != 0 || elf_getshdrstrndx(f.elf, &shstrndx) != 0)
    return format("bad section headers: " + elf_error());
  if (shnum > kMaxSections) return format("implausible section count " + std::to_string(shnum));

  ModuleObject m;
  m.path_ = path;
  m.sections_.resize(shnum);
  Elf_Scn* symtab = nullptr;
  GElf_Shdr symtab_hdr{};
  std::string_view this_module;
  bool has_this_module = false;
  for (size_t i = 1; i < shnum; i++) {
    Elf_Scn* scn = elf_getscn(f.elf, i);
    GElf_Shdr sh;
    if (!scn || !gelf_getshdr(scn, &sh)) return format("section " + std::to_string(i) + ": " + elf_error());
    const char* name = elf_strptr(f.elf, shstrndx, sh.sh_name);
    if (!name) return format("section " + std::to_string(i) + " has no readable name");
    m.sections_[i] = {name, sh.sh_size, sh.sh_flags};
    std::string_view n = name;
    if (sh.sh_type == SHT_SYMTAB) {
      symtab = scn;
      symtab_hdr = sh;
    } else if (n == ".gnu.linkonce.this_module") {
      auto bytes = section_bytes(scn, n.data());
      if (!bytes) return format(bytes.error().message());
      this_module = *bytes;
      has_this_module = true;
    } else if (n == ".modinfo") {
      auto bytes = section_bytes(scn, n.data());
      if (!bytes) return format(bytes.error().message());
      m.modinfo_name_ = modinfo_value(*bytes, "name");
    } else if (sh.sh_type == SHT_NOTE && n == ".note.gnu.build-id") {
      m.build_id_ = build_id_of(scn);
    }
  }
  if (!has_this_module) return format("not a kernel module (no .gnu.linkonce.this_module)");
  if (name_size == 0 || name_offset > this_module.size() || this_module.size() - name_offset < name_size)
    return format(".gnu.linkonce.this_module is too short for struct module's name");
  std::string_view raw_name = this_module.substr(name_offset, name_size);
  m.name_ = std::string(raw_name.substr(0, raw_name.find('\0')));
  if (m.name_.empty()) return format(".gnu.linkonce.this_module has an empty module name");

  if (!symtab) return format("no symbol table (stripped?)");
  if (symtab_hdr.sh_entsize != sizeof(Elf64_Sym)) return format("symbol table with unexpected entry size");
  Elf_Data* d = elf_getdata(symtab, nullptr);
  if (!d) return format("symbol table: " + elf_error());
  size_t count = d->d_size / sizeof(Elf64_Sym);
  if (count > kMaxSymbols) return format("implausible symbol count " + std::to_string(count));
  for (size_t i = 1; i < count; i++) {
    GElf_Sym sym;
    if (!gelf_getsym(d, int(i), &sym)) return format("symbol " + std::to_string(i) + ": " + elf_error());
    if (GELF_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF || sym.st_shndx >= shnum ||
        sym.st_name == 0)
      continue;
    const char* name = elf_strptr(f.elf, symtab_hdr.sh_link, sym.st_name);
    if (!name || !*name) continue;
    m.by_name_.emplace(name, m.functions_.size());
    m.functions_.push_back({name, sym.st_shndx, sym.st_value, sym.st_size});
  }
  return m;
}

}  // namespace kstuck
