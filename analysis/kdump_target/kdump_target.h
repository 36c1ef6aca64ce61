// SPDX-License-Identifier: GPL-2.0
// KdumpTarget: a vmcore file plus its vmlinux, seen through the Target interface.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analysis/error.h"
#include "analysis/target.h"

namespace kstuck {

struct KdumpOptions {
  // The matching vmlinux with symbols (Debian: linux-image-*-dbg). Empty: symbols from
  // the dump's own kallsyms and types from its in-memory BTF (no vmlinux needed).
  std::string vmlinux;
  bool force = false;   // use the vmlinux even if its build-id differs from the dump's
};

// What the dump says about itself, for reports.
struct DumpInfo {
  std::string path;
  std::string format;       // "diskdump", "flattened diskdump", "elf" (libkdumpfile's names)
  std::string description;  // e.g. "Compressed KDUMP", "ELF dump, 64-bit"
  std::string release;      // OSRELEASE, e.g. "6.1.0-56-cloud-amd64"; empty if unknown
  std::string dump_build_id;     // VMCOREINFO BUILD-ID; empty if absent
  std::string vmlinux_build_id;  // the vmlinux's GNU build-id note (empty without --vmlinux)
  // Where symbols and types are to come from: "vmlinux" (ELF symbols, .BTF of the file) or
  // "dump" (kallsyms and BTF read from the dump's memory). Types are loaded at their first
  // use, and may end up elsewhere (DWARF): KdumpTarget::types_source() says.
  std::string symbols_from;
  std::string types_from;
  // Without a vmlinux, how the kallsyms tables were found: "VMCOREINFO" (6.0+) or, before
  // 6.0, "a scan of the kernel image ..." (kallsyms_scan.h). Not a note: nothing degrades.
  std::string kallsyms_found_by;
  std::string debuginfo_path;  // the vmlinux file:line came from, once looked up (empty before)
  size_t symbol_count = 0;
  bool build_id_matches = false; // also true when the banners matched (dump without BUILD-ID)
  uint64_t kaslr_offset = 0;     // added to every vmlinux (non per-CPU) symbol
  std::optional<int64_t> crash_time;  // VMCOREINFO CRASHTIME (seconds since the epoch)
  std::optional<int> panic_cpu;       // panic_cpu from the dump when a CPU panicked
  int cpu_notes = 0;                  // CPUs with a register note
  std::vector<std::string> notes;     // quirks handled and things that degrade the report
};

// Implements Target over libkdumpfile (memory), libelf (symbols), libbpf (BTF types)
// and libdw (file:line, lazily); without a vmlinux, over the dump's kallsyms and its
// in-memory BTF (__start_BTF..__stop_BTF). Conventions:
//  - symbol_address() of a per-CPU variable ("runqueues", "current_task") is its offset
//    in the per-CPU area: add per_cpu_offset(cpu). Other symbols have KASLR applied.
//  - cpu_registers(n) is the n-th register note; QEMU writes one per vCPU in order
//    (note_pid = vCPU+1), the kernel's kdump one per present CPU in CPU order.
//  - read() of a filtered page, an unmapped address or data past a truncated file is a
//    Fault error carrying the first unreadable address.
class KdumpTarget : public Target {
 public:
  ~KdumpTarget() override;

  static Result<std::unique_ptr<KdumpTarget>> open(const std::string& vmcore, const KdumpOptions& options);

  Result<void> read(uint64_t kvaddr, std::span<std::byte> out) override;
  Result<uint64_t> symbol_address(std::string_view name) override;
  Result<Symbol> symbol_at(uint64_t address) override;
  Result<uint64_t> struct_size(std::string_view struct_name) override;
  Result<TypeMember> member(std::string_view struct_name, std::string_view member_path) override;
  Result<uint64_t> per_cpu_offset(int cpu) override;
  Result<CpuRegisters> cpu_registers(int cpu) override;
  std::optional<std::string> vmcoreinfo(std::string_view key) override;

  const DumpInfo& info() const { return info_; }
  // Where the types come from, loading them if not yet: "BTF from the vmlinux", "BTF from
  // the dump's memory (__start_BTF)", "DWARF from PATH (no BTF: why)", or "none: why".
  std::string types_source();
  // "kernel/smp.c:612" for a (KASLR-applied) vmlinux text address, from DWARF on demand.
  // Without --vmlinux the vmlinux is looked up by the dump's build-id on first use
  // (find_vmlinux_debuginfo: /usr/lib/debug, then debuginfod).
  Result<std::string> source_line(uint64_t address);
  // "func+0x1c/0x80" for a vmlinux address (NotFound outside the image).
  Result<std::string> symbolize(uint64_t address);
  // Reads physical memory (e.g. for page-table walks of user space).
  Result<void> read_phys(uint64_t paddr, std::span<std::byte> out);
  // Where source_line() looks for a vmlinux by build-id (default /usr/lib/debug) and
  // what it calls while debuginfod downloads one. Only before the first source_line().
  void set_debuginfo_lookup(std::string debug_root, std::function<void(long done, long total)> progress);
  // Raw VMCOREINFO text (empty if the dump carries none).
  const std::string& vmcoreinfo_raw() const;
  // Reads so far that failed on damaged data (corrupt pages, a truncated file), one line
  // per cause; empty when every failed read was an excluded page or an unmapped address.
  std::vector<std::string> read_problems() const;

 private:
  struct Impl;
  explicit KdumpTarget(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  DumpInfo info_;
};

// The factory the CLI and the model use; the concrete type is KdumpTarget.
Result<std::unique_ptr<Target>> open_kdump_target(const std::string& vmcore, const KdumpOptions& options);

}  // namespace kstuck
