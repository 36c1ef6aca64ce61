// SPDX-License-Identifier: GPL-2.0
// LiveTarget: the running kernel seen through the Target interface (/proc/kcore, /proc/kallsyms, /sys/kernel/btf, an NMI capture).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "analysis/error.h"
#include "analysis/nmi_records.h"
#include "analysis/target.h"

namespace kstuck {

class BtfTypes;
class DumpKallsyms;

struct LiveOptions {
  std::string kcore = "/proc/kcore";
  std::string kallsyms = "/proc/kallsyms";
  std::string btf_dir = "/sys/kernel/btf";  // vmlinux, and one split BTF file per module
  std::string lockdown = "/sys/kernel/security/lockdown";
  std::string osrelease = "/proc/sys/kernel/osrelease";
};

// What the running kernel says about itself, for reports.
struct LiveInfo {
  std::string release;         // /proc/sys/kernel/osrelease
  uint64_t text = 0;           // _text from /proc/kallsyms (KASLR applied)
  uint64_t kaslr_offset = 0;   // _text - the x86-64 default link address of _text
  size_t kcore_segments = 0;   // PT_LOAD segments of /proc/kcore
  size_t symbols = 0;          // vmlinux symbols
  std::string symbol_source;   // "kallsyms tables in memory (VMCOREINFO)" or "/proc/kallsyms"
  double symbols_ms = 0, types_ms = 0;  // wall clock of loading each
  std::vector<std::string> notes;  // degraded parts (no module BTF, ...)
};

// Implements Target over the running kernel. Conventions as KdumpTarget's: a per-CPU
// variable's symbol_address() is its offset in the per-CPU area (that is what
// /proc/kallsyms shows on x86-64), other symbols are runtime addresses.
//  - read(): bounded preads of /proc/kcore's PT_LOAD segments, a page at a time, cached
//    for one pass (begin_pass() forgets them, so a second pass sees memory anew). An
//    address in no segment is a Fault error for that read only. /proc/kcore itself
//    returns zeros for a page that is not mapped, so such a read "succeeds" with zeros:
//    list walks then stop at a NULL pointer.
//  - captured_registers(): the CPUs' registers from the NMI capture given to
//    begin_pass(), or an error saying why they are unknown (kstuck.ko not loaded).
//  - live() is true: list walks check back links ("changed while reading").
class LiveTarget : public Target {
 public:
  ~LiveTarget() override;

  // Opens /proc/kcore (a clear error under lockdown or without root), reads
  // /proc/kallsyms and /sys/kernel/btf/vmlinux.
  static Result<std::unique_ptr<LiveTarget>> open(const LiveOptions& options = {});

  // Starts a pass: the page cache is dropped; capture is the NMI snapshot of this pass
  // (nullopt: none, and why_no_capture says why running CPUs' stacks are unknown).
  void begin_pass(std::optional<NmiSnapshot> capture, std::string why_no_capture = {});
  const std::optional<NmiSnapshot>& capture() const { return capture_; }
  const LiveInfo& info() const { return info_; }
  uint64_t pages_read() const { return pages_read_; }

  Result<void> read(uint64_t kvaddr, std::span<std::byte> out) override;
  Result<uint64_t> symbol_address(std::string_view name) override;
  Result<Symbol> symbol_at(uint64_t address) override;
  Result<uint64_t> struct_size(std::string_view struct_name) override;
  Result<TypeMember> member(std::string_view struct_name, std::string_view member_path) override;
  Result<uint64_t> per_cpu_offset(int cpu) override;
  Result<CpuRegisters> cpu_registers(int index) override;
  std::optional<std::string> vmcoreinfo(std::string_view key) override;
  std::optional<Result<CpuRegisters>> captured_registers(int cpu) override;
  bool live() const override { return true; }

 private:
  struct Segment {
    uint64_t vaddr, size, offset;
  };
  struct Sym {
    uint64_t address;
    std::string name;
  };
  LiveTarget() = default;
  Result<const std::byte*> page(uint64_t page);  // a cached page of this pass
  const Segment* segment_of(uint64_t addr) const;
  void load_module_btf();
  Result<void> load_proc_kallsyms();
  void read_vmcoreinfo(const std::vector<std::pair<uint64_t, uint64_t>>& notes);

  LiveOptions options_;
  LiveInfo info_;
  int fd_ = -1;
  std::vector<Segment> segments_;                     // sorted by vaddr
  std::unordered_map<std::string, uint64_t> by_name_;
  std::unordered_set<std::string> global_;           // names whose by_name_ entry is a global symbol
  std::vector<Sym> sorted_;                           // kernel-address symbols, by address
  std::unique_ptr<DumpKallsyms> kallsyms_;            // decoded from memory, when VMCOREINFO says where
  std::map<std::string, std::string, std::less<>> vmcoreinfo_;  // /proc/kcore's VMCOREINFO note
  std::unique_ptr<BtfTypes> btf_;
  bool modules_loaded_ = false;
  std::vector<std::unique_ptr<BtfTypes>> module_btf_;
  std::unordered_map<uint64_t, std::vector<std::byte>> pages_;
  uint64_t pages_read_ = 0;
  uint64_t last_addr_ = 0;
  const std::byte* last_page_ = nullptr;  // pages_[last_addr_]'s bytes
  std::optional<NmiSnapshot> capture_;
  std::string why_no_capture_;
};

// Why /proc/kcore cannot be opened, as a user should read it: lockdown, root, config.
std::string kcore_refusal(const std::string& kcore, int err, const std::string& lockdown_file);

}  // namespace kstuck
