// SPDX-License-Identifier: GPL-2.0
// KdumpTarget: ties the dump, the vmlinux symbols, BTF (else DWARF) types and DWARF lines
// together.
#include "analysis/kdump_target/kdump_target.h"

#include <cstdio>
#include <cstring>
#include <vector>

#include "analysis/btf/btf_types.h"
#include "analysis/hex_text.h"
#include "analysis/kdump_target/debuginfo.h"
#include "analysis/kdump_target/dump_file.h"
#include "analysis/kdump_target/dump_kallsyms.h"
#include "analysis/kdump_target/dwarf_types.h"
#include "analysis/kdump_target/elf_symbols.h"
#include "analysis/kdump_target/kallsyms_scan.h"
#include "analysis/kdump_target/source_lines.h"
#include "analysis/text_number.h"

namespace kstuck {
namespace {

// Banner strings are short; reading more would only hit other data.
constexpr size_t kMaxBanner = 512;

}  // namespace

// One symbol, from whichever table the target has.
struct SymView {
  std::string_view name;
  uint64_t address = 0;  // KASLR applied; a per-CPU offset for per-CPU symbols
  uint64_t size = 0;
};

struct KdumpTarget::Impl {
  std::unique_ptr<DumpFile> dump;
  std::unique_ptr<ElfSymbols> symbols;     // with a vmlinux
  std::unique_ptr<DumpKallsyms> kallsyms;  // without one
  std::unique_ptr<BtfTypes> btf;
  std::optional<Error> btf_error;
  std::unique_ptr<DwarfTypes> dwarf;       // only once BTF failed to load
  std::optional<Error> dwarf_error;
  std::unique_ptr<SourceLines> lines;      // with a vmlinux, or once found by build-id
  std::optional<Error> lines_error;        // why no vmlinux was found by build-id
  // The dump's BUILD-ID and release, and where and how to look a debug vmlinux up by them.
  std::string build_id, release;
  std::string debug_root;
  std::function<void(long, long)> debuginfo_progress;
  std::optional<Result<std::string>> debuginfo;  // that lookup's outcome: it runs at most once
  uint64_t kaslr = 0;

  uint64_t relocate(const ElfSymbols::Sym& s) const { return s.percpu || s.absolute ? s.value : s.value + kaslr; }

  std::optional<SymView> find(std::string_view name) const {
    if (symbols) {
      const auto* s = symbols->find(name);
      if (!s) return std::nullopt;
      return SymView{s->name, relocate(*s), s->size};
    }
    const auto* s = kallsyms->find(name);
    if (!s) return std::nullopt;
    return SymView{s->name, s->address, s->size};
  }

  std::optional<SymView> containing(uint64_t address) const {
    if (symbols) {
      const auto* s = address >= kaslr ? symbols->containing(address - kaslr) : nullptr;
      if (!s) return std::nullopt;
      return SymView{s->name, relocate(*s), s->size};
    }
    const auto* s = kallsyms->containing(address);
    if (!s) return std::nullopt;
    return SymView{s->name, s->address, s->size};
  }

  // vmlinux BTF: the file's .BTF section, else the copy the kernel keeps in memory
  // between __start_BTF and __stop_BTF (CONFIG_DEBUG_INFO_BTF; /sys/kernel/btf/vmlinux).
  Result<BtfTypes*> types() {
    if (btf) return btf.get();
    if (btf_error) return tl::unexpected(*btf_error);
    auto b = symbols ? BtfTypes::open(symbols->path()) : btf_from_memory();
    if (!b) {
      btf_error = b.error();
      return tl::unexpected(b.error());
    }
    btf = std::move(*b);
    return btf.get();
  }

  Result<std::unique_ptr<BtfTypes>> btf_from_memory() {
    auto start = find("__start_BTF");
    auto stop = find("__stop_BTF");
    if (!start || !stop)
      return fail(ErrorKind::NotFound,
                  "the dumped kernel has no BTF (no __start_BTF/__stop_BTF: CONFIG_DEBUG_INFO_BTF off); "
                  "give --vmlinux PATH (Debian: the linux-image-" + dump->vmcoreinfo("OSRELEASE").value_or("RELEASE") +
                      "-dbg package)");
    if (stop->address <= start->address || stop->address - start->address > kMaxBtf)
      return fail(ErrorKind::Format, "implausible BTF bounds " + hex_text(start->address) + ".." + hex_text(stop->address));
    // Not zeroed first: the read fills it or fails (4 MB of memset on 6.1).
    size_t size = stop->address - start->address;
    auto storage = std::make_unique_for_overwrite<std::byte[]>(size);
    std::span<std::byte> bytes(storage.get(), size);
    auto r = dump->read(start->address, bytes);
    if (!r)
      return tl::unexpected(r.error().with_context("the kernel's BTF (__start_BTF) is not in the dump; give --vmlinux PATH"));
    auto b = BtfTypes::from_bytes(bytes);
    if (!b) return tl::unexpected(b.error().with_context("the kernel's BTF in the dump"));
    return b;
  }

  static constexpr uint64_t kMaxBtf = 256u << 20;

  // The debug vmlinux of the dumped kernel by build-id, for file:line and for types when
  // there is no BTF: looked up once (debuginfod may download hundreds of MB).
  Result<std::string> find_debuginfo() {
    if (!debuginfo) {
      DebuginfoQuery q;
      q.build_id = build_id;
      q.release = release;
      q.debug_root = debug_root;
      q.progress = debuginfo_progress;
      debuginfo = find_vmlinux_debuginfo(q);
    }
    return *debuginfo;
  }

  std::string dbg_package() const {
    return "the linux-image-" + (release.empty() ? std::string("RELEASE") : release) + "-dbg package";
  }

  // Types when BTF cannot be had (a kernel built without CONFIG_DEBUG_INFO_BTF, a vmlinux
  // stripped of .BTF, the dump's copy unreadable): the DWARF of --vmlinux, else of the debug
  // vmlinux found by build-id. Never consulted while BTF loads: the analysis probes for
  // members and structs of other kernel versions on every run (pcpu_hot, tk_data,
  // task_struct.blocked_on on 6.1), pahole puts every type of the vmlinux's DWARF into its
  // BTF, so DWARF would only confirm each miss, at the price of indexing all 160 MB of
  // .debug_info (0.3 s on top of a 0.1 s analysis) or of a debuginfod download.
  Result<DwarfTypes*> dwarf_types() {
    if (dwarf) return dwarf.get();
    if (!dwarf_error) {
      auto d = open_dwarf();
      if (d) {
        dwarf = std::move(*d);
        return dwarf.get();
      }
      dwarf_error = Error(d.error().kind(), "no type information: BTF: " + btf_error->message() + "; DWARF: " +
                                                d.error().message() + "; types need --vmlinux PATH of a vmlinux with .BTF or " +
                                                "DWARF (Debian: " + dbg_package() + ") or DEBUGINFOD_URLS");
    }
    return tl::unexpected(*dwarf_error);
  }

  Result<std::unique_ptr<DwarfTypes>> open_dwarf() {
    std::string tried;
    if (symbols) {
      auto d = DwarfTypes::open(symbols->path());
      if (d || d.error().kind() != ErrorKind::NotFound) return d;
      tried = d.error().message() + "; ";
    }
    auto path = find_debuginfo();
    if (!path) return fail(ErrorKind::NotFound, tried + path.error().message());
    return DwarfTypes::open(*path);
  }

  // A type DWARF lacks: say where the types came from and why BTF did not answer.
  template <class T>
  Result<T> from_dwarf(Result<T> answer) const {
    if (answer || answer.error().kind() != ErrorKind::NotFound) return answer;
    return fail(ErrorKind::NotFound, answer.error().message() + " (types from the DWARF of " + dwarf->path() +
                                         "; no BTF: " + btf_error->message() + ")");
  }
};

KdumpTarget::KdumpTarget(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KdumpTarget::~KdumpTarget() = default;

namespace {

// The kallsyms tables VMCOREINFO names (kernel/vmcore_info.c, crash_core.c before 6.9;
// since Linux v6.0, "vmcoreinfo: include kallsyms symbols").
Result<KallsymsLocation> kallsyms_location(const DumpFile& dump) {
  KallsymsLocation where;
  const std::pair<const char*, uint64_t*> keys[] = {
      {"SYMBOL(kallsyms_names)", &where.names},           {"SYMBOL(kallsyms_token_table)", &where.token_table},
      {"SYMBOL(kallsyms_token_index)", &where.token_index}, {"SYMBOL(kallsyms_offsets)", &where.offsets},
      {"SYMBOL(kallsyms_num_syms)", &where.num_syms},
  };
  std::string missing;
  for (auto [key, out] : keys) {
    auto v = dump.vmcoreinfo(key);
    auto a = v ? parse_hex_u64(*v) : std::nullopt;
    if (!a) {
      missing += missing.empty() ? "" : ", ";
      missing += key;
      continue;
    }
    *out = *a;
  }
  // Optional: 7.x has no kallsyms_relative_base (place-relative offsets); _stext checks.
  if (auto v = dump.vmcoreinfo("SYMBOL(kallsyms_relative_base)"); v && parse_hex_u64(*v)) where.relative_base = *parse_hex_u64(*v);
  if (auto v = dump.vmcoreinfo("SYMBOL(_stext)"); v && parse_hex_u64(*v)) where.stext = *parse_hex_u64(*v);
  if (!missing.empty())
    return fail(ErrorKind::NotFound,
                std::string(dump.vmcoreinfo_raw().empty() ? "the dump has no VMCOREINFO" : "the dump's VMCOREINFO lacks " + missing) +
                    " (kernels before 6.0 do not write the kallsyms tables there)");
  return where;
}

std::string vmlinux_advice(const DumpFile& dump) {
  return "give --vmlinux PATH (Debian: the linux-image-" + dump.vmcoreinfo("OSRELEASE").value_or("RELEASE") + "-dbg package)";
}

}  // namespace

Result<std::unique_ptr<KdumpTarget>> KdumpTarget::open(const std::string& vmcore, const KdumpOptions& options) {
  auto impl = std::make_unique<Impl>();
  if (!options.vmlinux.empty()) {
    auto symbols = ElfSymbols::open(options.vmlinux);
    if (!symbols) return tl::unexpected(symbols.error());
    impl->symbols = std::move(*symbols);
    impl->lines = std::make_unique<SourceLines>(options.vmlinux);
  }
  auto dump = DumpFile::open(vmcore);
  if (!dump) return tl::unexpected(dump.error());
  impl->dump = std::move(*dump);

  DumpInfo info;
  info.path = vmcore;
  info.format = impl->dump->format();
  info.description = impl->dump->description();
  info.notes = impl->dump->notes();
  info.cpu_notes = impl->dump->cpu_count();
  if (impl->symbols) info.vmlinux_build_id = impl->symbols->build_id();
  if (auto v = impl->dump->vmcoreinfo("OSRELEASE")) info.release = *v;
  if (auto v = impl->dump->vmcoreinfo("BUILD-ID")) info.dump_build_id = *v;
  impl->build_id = info.dump_build_id;
  impl->release = info.release;
  if (auto v = impl->dump->vmcoreinfo("CRASHTIME")) {
    info.crash_time = parse_decimal_i64(*v);
    if (!info.crash_time) info.notes.push_back("VMCOREINFO CRASHTIME=" + *v + " is not a number: the crash time is unknown");
  }

  // KASLR: KERNELOFFSET, else the distance between _stext in the dump and in the file.
  if (auto v = impl->dump->vmcoreinfo("KERNELOFFSET")) {
    auto off = parse_hex_u64(*v);
    if (!off) return fail(ErrorKind::Format, vmcore + ": malformed VMCOREINFO KERNELOFFSET=" + *v);
    impl->kaslr = *off;
  } else if (auto v = impl->dump->vmcoreinfo("SYMBOL(_stext)"); v && impl->symbols && impl->symbols->find("_stext")) {
    auto stext = parse_hex_u64(*v);
    if (!stext) return fail(ErrorKind::Format, vmcore + ": malformed VMCOREINFO SYMBOL(_stext)=" + *v);
    impl->kaslr = *stext - impl->symbols->find("_stext")->value;
  } else if (impl->symbols) {
    info.notes.push_back("no KASLR offset in the dump: assuming the kernel was not relocated");
  }
  info.kaslr_offset = impl->kaslr;

  if (!impl->symbols) {
    // No vmlinux: the kernel's own kallsyms (runtime addresses, KASLR applied) and BTF.
    DumpFile* df = impl->dump.get();
    DumpKallsyms::ReadFn read = [df](uint64_t a, std::span<std::byte> out) { return df->read(a, out); };
    auto where = kallsyms_location(*impl->dump);
    if (where) {
      auto k = DumpKallsyms::load(*where, read);
      if (!k) return tl::unexpected(k.error().with_context(vmcore + ": the dump's kallsyms"));
      impl->kallsyms = std::move(*k);
      info.kallsyms_found_by = "VMCOREINFO";
    } else {
      // Before 6.0 VMCOREINFO names no kallsyms table: find them in the kernel image's
      // read-only data between _stext and init_uts_ns (kallsyms_scan.cpp says how).
      auto stext = impl->dump->vmcoreinfo("SYMBOL(_stext)");
      auto uts = impl->dump->vmcoreinfo("SYMBOL(init_uts_ns)");
      auto start = stext ? parse_hex_u64(*stext) : std::nullopt;
      auto end = uts ? parse_hex_u64(*uts) : std::nullopt;
      if (!start || !end)
        return fail(ErrorKind::NotFound, vmcore + ": " + where.error().message() +
                                             ", nor SYMBOL(_stext) and SYMBOL(init_uts_ns) to find them in memory: " +
                                             vmlinux_advice(*impl->dump));
      auto found = find_kallsyms(KallsymsScan{*start, *end, *start}, read);
      if (!found)
        return fail(ErrorKind::NotFound, vmcore + ": " + where.error().message() +
                                             ", and the kernel image between _stext and init_uts_ns holds none that decode: " +
                                             found.error().describe() + ": " + vmlinux_advice(*impl->dump));
      impl->kallsyms = std::move(found->kallsyms);
      info.kallsyms_found_by = "a scan of the kernel image (no SYMBOL(kallsyms_*) in VMCOREINFO): kallsyms_token_index at " +
                               hex_text(found->where.token_index) + ", " + std::to_string(found->bytes_scanned >> 20) +
                               " MiB scanned below init_uts_ns";
    }
    info.symbols_from = "dump";
    info.types_from = "dump";
    info.symbol_count = impl->kallsyms->count();
    // The symbols and types are the dump's own: they match it by construction.
    info.build_id_matches = true;
  } else {
    info.symbols_from = "vmlinux";
    info.types_from = "vmlinux";
    info.symbol_count = impl->symbols->count();
  }

  // The vmlinux must be the dumped kernel's: compare build-ids, else the banners.
  if (!impl->symbols) {
    // Nothing to check: symbols and types are the dump's own.
  } else if (!info.dump_build_id.empty()) {
    // VMCOREINFO carries at most 20 bytes of the id; compare that prefix.
    const std::string& mine = info.vmlinux_build_id;
    info.build_id_matches = !mine.empty() && mine.compare(0, info.dump_build_id.size(), info.dump_build_id) == 0;
    if (!info.build_id_matches && !options.force)
      return fail(ErrorKind::Invalid, "vmlinux " + options.vmlinux + " does not match the dump: build-id " +
                                          (mine.empty() ? "(none)" : mine) + ", dump " + info.dump_build_id +
                                          " (use --force to analyze anyway, or leave out --vmlinux: the dump's own symbols and BTF)");
  } else if (const auto* banner = impl->symbols->find("linux_banner")) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(banner->size ? banner->size : 256, kMaxBanner));
    std::vector<std::byte> file_bytes(n), dump_bytes(n);
    auto a = impl->symbols->read_static(banner->value, file_bytes);
    auto b = impl->dump->read(impl->relocate(*banner), dump_bytes);
    if (a && b) {
      info.build_id_matches = file_bytes == dump_bytes;
      if (!info.build_id_matches && !options.force)
        return fail(ErrorKind::Invalid, "vmlinux " + options.vmlinux +
                                            " does not match the dump: linux_banner differs (use --force to analyze anyway)");
    } else {
      info.notes.push_back("could not check that the vmlinux matches the dump (no BUILD-ID, banner unreadable)");
    }
  }
  if (impl->symbols && !info.build_id_matches && options.force) info.notes.push_back("vmlinux/dump mismatch ignored (--force)");

  std::unique_ptr<KdumpTarget> target(new KdumpTarget(std::move(impl)));
  if (target->info_.release.empty()) {
    // A dump without VMCOREINFO: the release is in init_uts_ns (offsetof name.release).
    if (auto uts = target->symbol_address("init_uts_ns")) {
      if (auto off = target->member("uts_namespace", "name.release")) {
        char rel[65] = {};
        if (target->read(*uts + off->offset, std::as_writable_bytes(std::span(rel, 64))))
          info.release = std::string(rel, strnlen(rel, 64));
      }
    }
  }
  // panic_cpu is -1 unless a CPU entered panic() (kernel/panic.c).
  if (auto addr = target->symbol_address("panic_cpu")) {
    if (auto v = read_value<int32_t>(*target, *addr); v && *v >= 0) info.panic_cpu = *v;
  }
  target->info_ = std::move(info);
  return target;
}

Result<void> KdumpTarget::read(uint64_t kvaddr, std::span<std::byte> out) { return impl_->dump->read(kvaddr, out); }

Result<void> KdumpTarget::read_phys(uint64_t paddr, std::span<std::byte> out) {
  return impl_->dump->read_phys(paddr, out);
}

Result<uint64_t> KdumpTarget::symbol_address(std::string_view name) {
  auto s = impl_->find(name);
  if (!s) return fail(ErrorKind::NotFound, "no symbol '" + std::string(name) + "' in " + (impl_->symbols ? "vmlinux" : "the dump's kallsyms"));
  return s->address;
}

Result<Symbol> KdumpTarget::symbol_at(uint64_t address) {
  auto s = impl_->containing(address);
  if (!s) return fail(ErrorKind::NotFound, "no vmlinux symbol at " + hex_text(address), address);
  Symbol sym;
  sym.name = std::string(s->name);
  sym.address = s->address;
  sym.size = s->size;
  return sym;
}

Result<std::string> KdumpTarget::symbolize(uint64_t address) {
  auto s = symbol_at(address);
  if (!s) return tl::unexpected(s.error());
  std::string out = s->name;
  char buf[64];
  if (s->size)
    std::snprintf(buf, sizeof(buf), "+0x%llx/0x%llx", static_cast<unsigned long long>(address - s->address),
                  static_cast<unsigned long long>(s->size));
  else
    std::snprintf(buf, sizeof(buf), "+0x%llx", static_cast<unsigned long long>(address - s->address));
  return out + buf;
}

void KdumpTarget::set_debuginfo_lookup(std::string debug_root, std::function<void(long, long)> progress) {
  impl_->debug_root = std::move(debug_root);
  impl_->debuginfo_progress = std::move(progress);
}

Result<std::string> KdumpTarget::source_line(uint64_t address) {
  if (!impl_->lines && !impl_->lines_error) {
    // A dump without VMCOREINFO learns its release from memory after open().
    if (impl_->release.empty()) impl_->release = info_.release;
    auto path = impl_->find_debuginfo();
    if (path) {
      impl_->lines = std::make_unique<SourceLines>(*path);
      info_.debuginfo_path = *path;
    } else {
      impl_->lines_error = path.error().with_context("file:line needs the kernel's DWARF: --vmlinux PATH, " +
                                                     impl_->dbg_package() + ", or DEBUGINFOD_URLS");
    }
  }
  if (!impl_->lines) return tl::unexpected(*impl_->lines_error);
  if (address < impl_->kaslr) return fail(ErrorKind::NotFound, "not a vmlinux address", address);
  return impl_->lines->at(address - impl_->kaslr);
}

std::string KdumpTarget::types_source() {
  if (impl_->types()) return impl_->symbols ? "BTF from the vmlinux" : "BTF from the dump's memory (__start_BTF)";
  auto d = impl_->dwarf_types();
  if (!d) return "none: " + d.error().message();
  return "DWARF from " + (*d)->path() + " (no BTF: " + impl_->btf_error->message() + ")";
}

Result<uint64_t> KdumpTarget::struct_size(std::string_view struct_name) {
  if (auto t = impl_->types()) return (*t)->struct_size(struct_name);
  auto d = impl_->dwarf_types();
  if (!d) return tl::unexpected(d.error());
  return impl_->from_dwarf((*d)->struct_size(struct_name));
}

Result<TypeMember> KdumpTarget::member(std::string_view struct_name, std::string_view member_path) {
  if (auto t = impl_->types()) return (*t)->member(struct_name, member_path);
  auto d = impl_->dwarf_types();
  if (!d) return tl::unexpected(d.error());
  return impl_->from_dwarf((*d)->member(struct_name, member_path));
}

Result<uint64_t> KdumpTarget::per_cpu_offset(int cpu) {
  auto s = impl_->find("__per_cpu_offset");
  if (!s) return fail(ErrorKind::NotFound, "no __per_cpu_offset in the symbols");
  // NR_CPUS slots; kallsyms has no sizes and may give none: then x86-64's largest NR_CPUS.
  constexpr uint64_t kMaxNrCpus = 8192;
  uint64_t slots = s->size >= 8 ? std::min(s->size / 8, kMaxNrCpus) : kMaxNrCpus;
  if (cpu < 0 || static_cast<uint64_t>(cpu) >= slots)
    return fail(ErrorKind::Invalid, "cpu " + std::to_string(cpu) + " out of range (NR_CPUS " + std::to_string(slots) + ")");
  auto v = read_u64(*this, s->address + 8 * static_cast<uint64_t>(cpu));
  if (!v) return tl::unexpected(v.error().with_context("__per_cpu_offset[" + std::to_string(cpu) + "]"));
  return *v;
}

Result<CpuRegisters> KdumpTarget::cpu_registers(int cpu) { return impl_->dump->cpu_registers(cpu); }

std::optional<std::string> KdumpTarget::vmcoreinfo(std::string_view key) { return impl_->dump->vmcoreinfo(key); }

const std::string& KdumpTarget::vmcoreinfo_raw() const { return impl_->dump->vmcoreinfo_raw(); }

std::vector<std::string> KdumpTarget::read_problems() const { return impl_->dump->read_problems(); }

Result<std::unique_ptr<Target>> open_kdump_target(const std::string& vmcore, const KdumpOptions& options) {
  auto t = KdumpTarget::open(vmcore, options);
  if (!t) return tl::unexpected(t.error());
  return std::unique_ptr<Target>(std::move(*t));
}

}  // namespace kstuck
