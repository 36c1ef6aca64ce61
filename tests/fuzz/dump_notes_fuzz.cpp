// SPDX-License-Identifier: GPL-2.0
// libFuzzer target: kstuck's ELF note walker and VMCOREINFO parser on arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "analysis/kdump_target/dump_notes.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto bytes = std::as_bytes(std::span(data, size));
  kstuck::NoteScan scan = kstuck::scan_elf_notes(bytes);
  // Invariants: a note never extends past the input; a kept note's registers are canonical.
  for (const auto& n : scan.prstatus) {
    if (n.offset + 12 > size) std::abort();
    if (n.regs) {
      uint64_t rip = n.regs->get(kstuck::CpuRegisters::rip) >> 47;
      if (rip != 0 && rip != 0x1ffff) std::abort();
    }
  }
  if (scan.vmcoreinfo) (void)kstuck::parse_vmcoreinfo(*scan.vmcoreinfo);
  auto vi = kstuck::parse_vmcoreinfo(std::string_view(reinterpret_cast<const char*>(data), size));
  for (const auto& [k, v] : vi.entries)
    if (k.empty() || k.find('=') != std::string::npos || k.find('\n') != std::string::npos) std::abort();
  return 0;
}
