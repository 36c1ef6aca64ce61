// SPDX-License-Identifier: GPL-2.0
// The dump's ELF notes (CPU registers, VMCOREINFO) and the VMCOREINFO text, parsed by us.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/target.h"

namespace kstuck {

// One NT_PRSTATUS note: one CPU's registers at the crash (or QEMU's dump) time.
struct PrStatusNote {
  uint64_t offset = 0;  // of the note header, in the note bytes
  int64_t pid = -1;     // pr_pid
  // Empty when the note is damaged (its type, size or registers cannot be right); the
  // note still holds its place so the notes after it keep their CPU.
  std::optional<CpuRegisters> regs;
  std::string problem;  // why regs is empty, or what looks wrong in a kept note
};

struct NoteScan {
  std::vector<PrStatusNote> prstatus;     // in file order: note i is the i-th CPU's
  std::optional<std::string> vmcoreinfo;  // the VMCOREINFO note's text, when present
  uint64_t vmcoreinfo_offset = 0;         // where that text starts in the note bytes
  std::vector<std::string> problems;      // damaged notes, a walk cut short
  bool cut_short = false;                 // a note header ran past the end: later notes lost
  uint64_t walked = 0;                    // bytes of whole notes before the walk stopped
};

// Walks an ELF note area (the PT_NOTE segments of an ELF vmcore, or the notes a
// kdump-compressed file keeps after its sub-header) without trusting a single size: a
// note whose sizes run past the end stops the walk (cut_short), a CPU note with a wrong
// type or size, or with a RIP or RSP that no x86-64 CPU can hold (non-canonical), keeps
// its slot with its registers dropped. A QEMU dump's "QEMU" CPU-state notes (a second
// copy of each vCPU's registers) are compared with the register notes: a register note
// that disagrees with its vCPU's state keeps its slot with its registers dropped.
NoteScan scan_elf_notes(std::span<const std::byte> notes);

struct VmcoreinfoScan {
  std::map<std::string, std::string, std::less<>> entries;
  std::vector<std::string> problems;  // lines that are not a kernel KEY=VALUE in printable ASCII
};

// Parses VMCOREINFO ("KEY=VALUE\n" lines, as the kernel's vmcoreinfo_append_str writes
// them). A damaged line (a byte outside printable ASCII, no '=', an empty key) is left
// out and named in problems; the first of two equal keys wins. At most 64 KiB is read.
VmcoreinfoScan parse_vmcoreinfo(std::string_view text);

// The VMCOREINFO bytes with every damaged line (as parse_vmcoreinfo counts them) turned
// into newlines, or nothing when every line is whole. libkdumpfile 0.5.1 trusts the text:
// a line holding a NUL or lacking '=' made it ask malloc for 2^63 bytes and then read
// wild memory (tests/fixtures/damaged/fuzz-vmcoreinfo-*), so DumpFile hands it this copy.
std::optional<std::vector<unsigned char>> blank_damaged_vmcoreinfo_lines(std::span<const std::byte> text);

}  // namespace kstuck
