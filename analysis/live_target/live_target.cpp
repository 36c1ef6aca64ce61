// SPDX-License-Identifier: GPL-2.0
// LiveTarget: /proc/kcore segments read by bounded preads, kallsyms symbols, BTF types, NMI-captured registers.
#include "analysis/live_target/live_target.h"

#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "analysis/btf/btf_types.h"
#include "analysis/fields.h"
#include "analysis/kdump_target/dump_kallsyms.h"
#include "analysis/kdump_target/input_file.h"
#include "analysis/text_number.h"
#include "nmi_dump/uapi/nmi_dump_record.h"

namespace kstuck {
namespace {

constexpr uint64_t kPage = 4096;
// Bounds on what the running kernel hands us: a kallsyms text, a BTF blob, a program
// header table and the pages one pass may cache (64 MiB: far more than a hang analysis
// reads; past it the cache starts over rather than grow).
constexpr size_t kMaxKallsyms = 128u << 20;
constexpr size_t kMaxBtf = 64u << 20;
constexpr uint16_t kMaxPhdrs = 4096;
constexpr size_t kMaxCachedPages = 16384;
constexpr int kMaxCpus = 8192;
// x86-64's link address of _text (__START_KERNEL_map + CONFIG_PHYSICAL_START, 16 MiB on
// every distribution kernel): _text minus it is the KASLR slide, for the report only.
constexpr uint64_t kDefaultText = 0xffffffff81000000ULL;

Result<std::string> slurp(const std::string& path, size_t limit) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(ErrorKind::Os, path + ": " + std::strerror(errno));
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return fail(ErrorKind::Os, path + ": " + std::strerror(err));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > limit) {
      ::close(fd);
      return fail(ErrorKind::Limit, path + ": larger than " + std::to_string(limit >> 20) + " MiB");
    }
  }
  ::close(fd);
  return out;
}

std::string_view next_field(std::string_view& line) {
  size_t b = line.find_first_not_of(" \t");
  if (b == std::string_view::npos) {
    line = {};
    return {};
  }
  line.remove_prefix(b);
  size_t e = line.find_first_of(" \t");
  std::string_view f = line.substr(0, e);
  line.remove_prefix(e == std::string_view::npos ? line.size() : e);
  return f;
}

}  // namespace

std::string kcore_refusal(const std::string& kcore, int err, const std::string& lockdown_file) {
  std::string why = kcore + ": " + std::strerror(err);
  if (err == EPERM || err == EACCES) {
    // Kernel lockdown (confidentiality) refuses /proc/kcore even to root; the active mode
    // is the bracketed word of /sys/kernel/security/lockdown.
    auto mode = slurp(lockdown_file, 4096);
    if (mode && mode->find("[confidentiality]") != std::string::npos)
      return why + ": the kernel is locked down (confidentiality mode), which refuses /proc/kcore; live analysis "
                   "cannot read kernel memory here, and kstuck does not read it through its module instead: take a "
                   "dump (kdump) and analyze that";
    if (geteuid() != 0) return why + ": live analysis reads /proc/kcore, which needs root (CAP_SYS_RAWIO)";
    // Root refused: that is what lockdown does, whether or not securityfs shows the mode.
    return why + ": refused to root, as kernel lockdown (confidentiality mode) does" +
           (mode ? " (" + lockdown_file + ": " + std::string(mode->substr(0, mode->find('\n'))) + ")"
                 : " (" + lockdown_file + " is not readable: is securityfs mounted?)") +
           "; live analysis cannot read kernel memory here, and kstuck does not read it through its module "
           "instead: take a dump (kdump) and analyze that";
  }
  if (err == ENOENT) return why + ": this kernel has no /proc/kcore (CONFIG_PROC_KCORE=n): take a dump instead";
  return why;
}

LiveTarget::~LiveTarget() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<LiveTarget>> LiveTarget::open(const LiveOptions& options) {
  std::unique_ptr<LiveTarget> t(new LiveTarget());
  t->options_ = options;
  t->fd_ = ::open(options.kcore.c_str(), O_RDONLY | O_CLOEXEC);
  if (t->fd_ < 0) return fail(ErrorKind::Os, kcore_refusal(options.kcore, errno, options.lockdown));

  // /proc/kcore is an ELF core file whose PT_LOADs map kernel virtual addresses.
  Elf64_Ehdr eh{};
  if (!pread_exact(t->fd_, &eh, sizeof(eh), 0))
    return fail(ErrorKind::Os, options.kcore + ": cannot read the ELF header: " + std::strerror(errno));
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > kMaxPhdrs)
    return fail(ErrorKind::Format, options.kcore + ": not a 64-bit ELF core with a sane program header table");
  std::vector<Elf64_Phdr> ph(eh.e_phnum);
  if (!pread_exact(t->fd_, ph.data(), ph.size() * sizeof(Elf64_Phdr), eh.e_phoff))
    return fail(ErrorKind::Os, options.kcore + ": cannot read the program headers");
  std::vector<std::pair<uint64_t, uint64_t>> notes;  // (offset, size) of PT_NOTEs
  for (const auto& p : ph) {
    if (p.p_type == PT_NOTE && p.p_filesz) notes.emplace_back(p.p_offset, p.p_filesz);
    if (p.p_type != PT_LOAD || p.p_filesz == 0 || p.p_vaddr + p.p_filesz < p.p_vaddr) continue;
    t->segments_.push_back({p.p_vaddr, p.p_filesz, p.p_offset});
  }
  std::sort(t->segments_.begin(), t->segments_.end(), [](const Segment& a, const Segment& b) { return a.vaddr < b.vaddr; });
  t->info_.kcore_segments = t->segments_.size();
  if (t->segments_.empty()) return fail(ErrorKind::Format, options.kcore + ": no PT_LOAD segments");

  // Symbols: the kernel's own kallsyms tables decoded from memory where /proc/kcore's
  // VMCOREINFO note says where they are (6.0+), which is far quicker than the kernel
  // printing /proc/kallsyms line by line; else /proc/kallsyms.
  auto t0 = std::chrono::steady_clock::now();
  t->read_vmcoreinfo(notes);
  KallsymsLocation where;
  const std::pair<const char*, uint64_t*> keys[] = {
      {"SYMBOL(kallsyms_names)", &where.names},           {"SYMBOL(kallsyms_token_table)", &where.token_table},
      {"SYMBOL(kallsyms_token_index)", &where.token_index}, {"SYMBOL(kallsyms_offsets)", &where.offsets},
      {"SYMBOL(kallsyms_relative_base)", &where.relative_base}, {"SYMBOL(kallsyms_num_syms)", &where.num_syms}};
  bool located = true;
  for (auto [key, out] : keys) {
    auto it = t->vmcoreinfo_.find(key);
    auto v = it == t->vmcoreinfo_.end() ? std::nullopt : parse_hex_u64(it->second);
    if (!v || !*v) located = false;
    *out = v.value_or(0);
  }
  if (located) {
    LiveTarget* self = t.get();
    auto k = DumpKallsyms::load(where, [self](uint64_t a, std::span<std::byte> out) { return self->read(a, out); });
    if (k) {
      t->kallsyms_ = std::move(*k);
      t->info_.symbol_source = "kallsyms tables in memory (VMCOREINFO)";
      // Looked up through DumpKallsyms itself (global over local, sizes as %pS has them).
      t->pages_.clear();
      t->last_page_ = nullptr;
    } else {
      t->info_.notes.push_back("kallsyms tables in memory: " + k.error().describe() + ": read /proc/kallsyms instead");
    }
  }
  if (!t->kallsyms_)
    if (auto r = t->load_proc_kallsyms(); !r) return tl::unexpected(r.error());
  t->info_.symbols_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  t->info_.symbols = t->kallsyms_ ? t->kallsyms_->count() : t->by_name_.size();
  auto stext = t->symbol_address("_text");
  if (!stext) return fail(ErrorKind::NotFound, t->info_.symbol_source + ": no _text symbol");
  t->info_.text = *stext;
  t->info_.kaslr_offset = *stext - kDefaultText;
  // The text segment of /proc/kcore starts at _text: a cross-check that the symbols are
  // this kernel's and addresses are not hidden.
  if (!t->segment_of(*stext))
    return fail(ErrorKind::Format, t->info_.symbol_source + "'s _text " + std::to_string(*stext) +
                                       " lies in no /proc/kcore segment");

  auto t1 = std::chrono::steady_clock::now();
  auto btf = slurp(options.btf_dir + "/vmlinux", kMaxBtf);
  if (!btf)
    return tl::unexpected(btf.error().with_context("kernel types (CONFIG_DEBUG_INFO_BTF)"));
  auto types = BtfTypes::from_bytes(std::as_bytes(std::span(btf->data(), btf->size())));
  if (!types) return tl::unexpected(types.error().with_context(options.btf_dir + "/vmlinux"));
  t->btf_ = std::move(*types);
  t->info_.types_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();

  if (auto rel = slurp(options.osrelease, 4096)) {
    t->info_.release = *rel;
    while (!t->info_.release.empty() && (t->info_.release.back() == '\n' || t->info_.release.back() == ' '))
      t->info_.release.pop_back();
  }
  return t;
}

Result<void> LiveTarget::load_proc_kallsyms() {
  // Every vmlinux symbol (data too: CONFIG_KALLSYMS_ALL), module lines skipped (the
  // kernel model reads module symbols from the modules' own kallsyms).
  auto text = slurp(options_.kallsyms, kMaxKallsyms);
  if (!text) return tl::unexpected(text.error());
  std::string_view rest(*text);
  bool any_address = false;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    if (line.find('[') != std::string_view::npos) continue;  // "addr t name [module]"
    auto addr_s = next_field(line);
    auto type = next_field(line);
    auto name = next_field(line);
    if (name.empty() || type.size() != 1) continue;
    auto parsed = parse_hex_u64(addr_s);
    if (!parsed) continue;
    uint64_t addr = *parsed;
    if (addr) any_address = true;
    // Static symbols repeat across files: a global one wins, else the first.
    bool global = type[0] >= 'A' && type[0] <= 'Z';
    auto [it, fresh] = by_name_.try_emplace(std::string(name), addr);
    if (fresh && global) global_.insert(it->first);
    if (!fresh && global && global_.insert(it->first).second) it->second = addr;
    if (is_kernel_pointer(addr)) sorted_.push_back({addr, std::string(name)});
  }
  if (!any_address)
    return fail(ErrorKind::Os, options_.kallsyms + " shows no addresses (kptr_restrict): run kstuck as root");
  std::stable_sort(sorted_.begin(), sorted_.end(), [](const Sym& a, const Sym& b) { return a.address < b.address; });
  info_.symbol_source = "/proc/kallsyms";
  return {};
}

void LiveTarget::read_vmcoreinfo(const std::vector<std::pair<uint64_t, uint64_t>>& notes) {
  // ELF notes: Elf64_Nhdr, the name and the descriptor each padded to 4 bytes.
  constexpr uint64_t kMaxNotes = 1u << 20;
  for (auto [offset, size] : notes) {
    if (size > kMaxNotes) continue;
    std::string buf(size, '\0');
    if (!pread_exact(fd_, buf.data(), size, offset)) continue;
    size_t at = 0;
    while (at + sizeof(Elf64_Nhdr) <= buf.size()) {
      Elf64_Nhdr nh;
      std::memcpy(&nh, buf.data() + at, sizeof(nh));
      size_t name_at = at + sizeof(nh);
      size_t desc_at = name_at + ((uint64_t{nh.n_namesz} + 3) & ~uint64_t{3});
      size_t next = desc_at + ((uint64_t{nh.n_descsz} + 3) & ~uint64_t{3});
      if (desc_at > buf.size() || next > buf.size() || next <= at) break;
      std::string_view name(buf.data() + name_at, nh.n_namesz ? nh.n_namesz - 1 : 0);
      if (name == "VMCOREINFO") {
        std::string_view text(buf.data() + desc_at, nh.n_descsz);
        while (!text.empty()) {
          size_t nl = text.find('\n');
          std::string_view line = text.substr(0, nl);
          text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
          size_t eq = line.find('=');
          if (eq != std::string_view::npos && vmcoreinfo_.size() < 4096)
            vmcoreinfo_.emplace(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
        }
      }
      at = next;
    }
  }
}

void LiveTarget::begin_pass(std::optional<NmiSnapshot> capture, std::string why_no_capture) {
  pages_.clear();
  last_page_ = nullptr;
  capture_ = std::move(capture);
  why_no_capture_ = std::move(why_no_capture);
}

const LiveTarget::Segment* LiveTarget::segment_of(uint64_t addr) const {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), addr,
                             [](uint64_t a, const Segment& s) { return a < s.vaddr; });
  if (it == segments_.begin()) return nullptr;
  --it;
  return addr - it->vaddr < it->size ? &*it : nullptr;
}

Result<const std::byte*> LiveTarget::page(uint64_t page) {
  // The last page asked for answers most reads (walks read several fields of a node).
  if (last_page_ && last_addr_ == page) return last_page_;
  if (auto it = pages_.find(page); it != pages_.end()) {
    last_addr_ = page;
    last_page_ = it->second.data();
    return last_page_;
  }
  const Segment* s = segment_of(page);
  if (!s || page - s->vaddr > s->size - kPage)
    return fail(ErrorKind::Fault, "address not in /proc/kcore (not mapped kernel memory)", page);
  std::vector<std::byte> buf(kPage);
  if (!pread_exact(fd_, buf.data(), kPage, s->offset + (page - s->vaddr)))
    return fail(ErrorKind::Fault, std::string("/proc/kcore read failed: ") + std::strerror(errno), page);
  ++pages_read_;
  if (pages_.size() >= kMaxCachedPages) pages_.clear();
  auto [it, fresh] = pages_.emplace(page, std::move(buf));
  static_cast<void>(fresh);
  last_addr_ = page;
  last_page_ = it->second.data();
  return last_page_;
}

Result<void> LiveTarget::read(uint64_t kvaddr, std::span<std::byte> out) {
  if (out.empty()) return {};
  if (kvaddr + out.size() < kvaddr) return fail(ErrorKind::Fault, "read wraps around the address space", kvaddr);
  size_t done = 0;
  while (done < out.size()) {
    uint64_t at = kvaddr + done;
    uint64_t base = at & ~(kPage - 1);
    auto p = page(base);
    // Report the first unreadable byte, not the page.
    if (!p) return fail(ErrorKind::Fault, p.error().message(), at);
    size_t in_page = std::min<size_t>(kPage - (at - base), out.size() - done);
    std::memcpy(out.data() + done, *p + (at - base), in_page);
    done += in_page;
  }
  return {};
}

Result<uint64_t> LiveTarget::symbol_address(std::string_view name) {
  if (kallsyms_) {
    if (const auto* k = kallsyms_->find(name)) return k->address;
    return fail(ErrorKind::NotFound, "no symbol '" + std::string(name) + "' in the kernel's kallsyms");
  }
  auto it = by_name_.find(std::string(name));
  if (it == by_name_.end()) return fail(ErrorKind::NotFound, "no symbol '" + std::string(name) + "' in /proc/kallsyms");
  return it->second;
}

Result<Symbol> LiveTarget::symbol_at(uint64_t address) {
  if (kallsyms_) {
    const auto* k = kallsyms_->containing(address);
    if (!k) return fail(ErrorKind::NotFound, "no symbol", address);
    Symbol s;
    s.name = k->name;
    s.address = k->address;
    s.size = k->size;
    return s;
  }
  auto it = std::upper_bound(sorted_.begin(), sorted_.end(), address,
                             [](uint64_t a, const Sym& s) { return a < s.address; });
  if (it == sorted_.begin()) return fail(ErrorKind::NotFound, "no symbol", address);
  auto next = it;
  --it;
  // Past the image's last symbol (_end) nothing is the kernel's.
  if (next == sorted_.end()) return fail(ErrorKind::NotFound, "past the kernel image", address);
  Symbol s;
  s.name = it->name;
  s.address = it->address;
  s.size = next->address - it->address;  // kallsyms has no sizes: up to the next symbol
  return s;
}

void LiveTarget::load_module_btf() {
  modules_loaded_ = true;
  DIR* d = ::opendir(options_.btf_dir.c_str());
  if (!d) return;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == ".." || n == "vmlinux") continue;
    if (names.size() < 4096) names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    auto bytes = slurp(options_.btf_dir + "/" + n, kMaxBtf);
    if (!bytes) continue;
    auto m = BtfTypes::from_split_bytes(std::as_bytes(std::span(bytes->data(), bytes->size())), *btf_);
    if (m) module_btf_.push_back(std::move(*m));
    else info_.notes.push_back("module BTF " + n + ": " + m.error().describe());
  }
}

Result<uint64_t> LiveTarget::struct_size(std::string_view struct_name) {
  auto r = btf_->struct_size(struct_name);
  if (r || r.error().kind() != ErrorKind::NotFound) return r;
  // A module's own struct: its split BTF in /sys/kernel/btf/MODULE.
  if (!modules_loaded_) load_module_btf();
  for (auto& m : module_btf_)
    if (auto s = m->struct_size(struct_name)) return s;
  return r;
}

Result<TypeMember> LiveTarget::member(std::string_view struct_name, std::string_view member_path) {
  auto r = btf_->member(struct_name, member_path);
  if (r || r.error().kind() != ErrorKind::NotFound) return r;
  if (btf_->struct_size(struct_name)) return r;  // the struct is vmlinux's: the member is absent
  if (!modules_loaded_) load_module_btf();
  for (auto& m : module_btf_)
    if (m->struct_size(struct_name)) return m->member(struct_name, member_path);
  return r;
}

Result<uint64_t> LiveTarget::per_cpu_offset(int cpu) {
  if (cpu < 0 || cpu >= kMaxCpus) return fail(ErrorKind::Invalid, "cpu " + std::to_string(cpu) + " out of range");
  auto base = symbol_address("__per_cpu_offset");
  if (!base) return tl::unexpected(base.error());
  auto v = read_u64(*this, *base + 8 * static_cast<uint64_t>(cpu));
  if (!v) return tl::unexpected(v.error().with_context("__per_cpu_offset[" + std::to_string(cpu) + "]"));
  return *v;
}

Result<CpuRegisters> LiveTarget::cpu_registers(int) {
  return fail(ErrorKind::NotFound, "the running kernel has no register notes (see captured_registers)");
}

std::optional<std::string> LiveTarget::vmcoreinfo(std::string_view key) {
  if (key == "OSRELEASE" && !info_.release.empty()) return info_.release;
  // What a running kernel's VMCOREINFO says (no CRASHTIME: nothing crashed).
  if (auto it = vmcoreinfo_.find(key); it != vmcoreinfo_.end()) return it->second;
  return std::nullopt;
}

std::optional<Result<CpuRegisters>> LiveTarget::captured_registers(int cpu) {
  if (!capture_)
    return Result<CpuRegisters>(fail(ErrorKind::NotFound, why_no_capture_.empty()
                                                              ? "no NMI capture: what the CPU runs is unknown"
                                                              : why_no_capture_));
  const NmiCpu* c = cpu >= 0 ? capture_->cpu(static_cast<uint32_t>(cpu)) : nullptr;
  std::string seq = "NMI capture " + std::to_string(capture_->seq);
  if (!c) return Result<CpuRegisters>(fail(ErrorKind::NotFound, seq + " has no record of this CPU"));
  if (!c->answered())
    return Result<CpuRegisters>(
        fail(ErrorKind::NotFound, seq + ": the CPU did not answer the NMI (" + nmi_status_names(c->status) + ")"));
  if (c->context & NMI_DUMP_CTX_NO_REGS)
    return Result<CpuRegisters>(fail(ErrorKind::NotFound, seq + ": the record holds no interrupted registers"));
  CpuRegisters r;
  static_assert(std::tuple_size_v<decltype(c->regs)> == CpuRegisters::count);
  std::copy(c->regs.begin(), c->regs.end(), r.regs.begin());
  r.note_pid = c->pid;
  r.task = c->task_kaddr;
  return Result<CpuRegisters>(r);
}

}  // namespace kstuck
