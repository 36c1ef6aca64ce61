// SPDX-License-Identifier: GPL-2.0
// scan_elf_notes / parse_vmcoreinfo: the dump's self-description, read as hostile bytes.
#include "analysis/kdump_target/dump_notes.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iterator>

#include "analysis/hex_text.h"

namespace kstuck {
namespace {

constexpr uint32_t kNtPrstatus = 1;
// struct elf_prstatus on x86-64: pr_pid at 32, pr_reg (struct user_regs_struct, 27
// registers, the first 21 in CpuRegisters' order) at 112, 336 bytes in all.
constexpr size_t kPrstatusSize = 336;
constexpr size_t kPrPidOffset = 32;
constexpr size_t kPrRegOffset = 112;
constexpr size_t kMaxVmcoreinfo = 64 << 10;
// QEMU's dump-guest-memory writes, after the NT_PRSTATUS notes, one "QEMU" note per vCPU
// (type 0, struct QEMUCPUState of target/i386/arch_dump.c): version, size, then rax, rbx,
// rcx, rdx, rsi, rdi, rsp, rbp, r8-r15, rip, rflags, from the same CPU state.
constexpr size_t kQemuRegsOffset = 8;
constexpr CpuRegisters::Index kQemuRegOrder[] = {
    CpuRegisters::rax, CpuRegisters::rbx, CpuRegisters::rcx, CpuRegisters::rdx, CpuRegisters::rsi,
    CpuRegisters::rdi, CpuRegisters::rsp, CpuRegisters::rbp, CpuRegisters::r8,  CpuRegisters::r9,
    CpuRegisters::r10, CpuRegisters::r11, CpuRegisters::r12, CpuRegisters::r13, CpuRegisters::r14,
    CpuRegisters::r15, CpuRegisters::rip, CpuRegisters::eflags};
constexpr const char* kQemuRegNames[] = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8",
                                         "r9",  "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"};
constexpr size_t kQemuStateMin = kQemuRegsOffset + 8 * std::size(kQemuRegOrder);
constexpr size_t kMaxProblems = 16;

template <typename T>
T load(std::span<const std::byte> b, size_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof(v));
  return v;
}

// x86-64 with 4- or 5-level paging: bits 63..47 (or 63..56) all equal. 4-level is the
// stricter test for a kernel text or stack address and the only one a real note fails.
bool canonical(uint64_t a) {
  uint64_t top = a >> 47;
  return top == 0 || top == 0x1ffff;
}

size_t pad4(uint64_t n) { return static_cast<size_t>((n + 3) & ~uint64_t{3}); }

void add_problem(NoteScan& scan, std::string p) {
  if (scan.problems.size() < kMaxProblems) scan.problems.push_back(std::move(p));
}

// The i-th register note against the i-th QEMU CPU-state note: two copies of one vCPU's
// registers, equal on every QEMU dump made here (QEMU 7.2, 5.10 to 7.3 guests). Nothing
// else checks a note's registers: a flipped bit in a saved rip still unwinds (one
// instruction off), so a note that disagrees loses its registers rather than guess
// which copy is whole.
void cross_check_qemu_states(NoteScan& scan, const std::vector<std::span<const std::byte>>& states) {
  if (states.empty()) return;
  if (states.size() != scan.prstatus.size()) {
    add_problem(scan, std::to_string(scan.prstatus.size()) + " register notes but " + std::to_string(states.size()) +
            " QEMU CPU-state notes: the registers are not cross-checked");
    return;
  }
  for (size_t i = 0; i < states.size(); i++) {
    PrStatusNote& n = scan.prstatus[i];
    if (!n.regs) continue;
    for (size_t r = 0; r < std::size(kQemuRegOrder); r++) {
      uint64_t qemu = load<uint64_t>(states[i], kQemuRegsOffset + 8 * r);
      uint64_t core = n.regs->get(kQemuRegOrder[r]);
      if (qemu == core) continue;
      n.problem = "register note " + std::to_string(i) + " (byte " + std::to_string(n.offset) + ") and QEMU's CPU-state note " +
                  std::to_string(i) + " disagree on " + kQemuRegNames[r] + " (" + hex_text(core) + " vs " + hex_text(qemu) +
                  "): one of them is damaged; the CPU's registers are not used";
      n.regs.reset();
      add_problem(scan, n.problem);
      break;
    }
  }
}

}  // namespace

NoteScan scan_elf_notes(std::span<const std::byte> notes) {
  NoteScan scan;
  auto problem = [&](std::string p) { add_problem(scan, std::move(p)); };
  std::vector<std::span<const std::byte>> qemu_states;
  size_t pos = 0;
  while (pos + 12 <= notes.size()) {
    uint32_t namesz = load<uint32_t>(notes, pos), descsz = load<uint32_t>(notes, pos + 4);
    uint32_t type = load<uint32_t>(notes, pos + 8);
    // The kernel pads the note area with zeros after the last note (crash_notes are
    // per-CPU buffers with a terminating empty note).
    if (namesz == 0 && descsz == 0 && type == 0) break;
    size_t left = notes.size() - pos - 12;
    if (namesz > left || pad4(namesz) > left || descsz > left - pad4(namesz)) {
      scan.cut_short = true;
      problem("ELF note at byte " + std::to_string(pos) + " claims " + std::to_string(namesz) + "+" +
              std::to_string(descsz) + " bytes, past the end of the " + std::to_string(notes.size()) +
              "-byte note area: the notes from there on (CPU registers, VMCOREINFO) are unreadable");
      break;
    }
    std::string_view name(reinterpret_cast<const char*>(notes.data() + pos + 12), namesz);
    while (!name.empty() && name.back() == '\0') name.remove_suffix(1);
    auto desc = notes.subspan(pos + 12 + pad4(namesz), descsz);
    bool core = name == "CORE";
    if (name == "VMCOREINFO") {
      if (!scan.vmcoreinfo) {
        scan.vmcoreinfo = std::string(reinterpret_cast<const char*>(desc.data()), desc.size());
        scan.vmcoreinfo_offset = static_cast<uint64_t>(desc.data() - notes.data());
      }
    } else if (type == kNtPrstatus || (core && descsz == kPrstatusSize)) {
      // A CPU note, or one whose type was damaged but whose name and size still say it is.
      PrStatusNote n;
      n.offset = pos;
      size_t index = scan.prstatus.size();
      std::string what = "register note " + std::to_string(index) + " (byte " + std::to_string(pos) + ")";
      if (descsz != kPrstatusSize) {
        n.problem = what + ": " + std::to_string(descsz) + " bytes, not " + std::to_string(kPrstatusSize);
      } else if (type != kNtPrstatus) {
        n.problem = what + ": note type " + std::to_string(type) + ", not NT_PRSTATUS";
      } else {
        n.pid = load<int32_t>(desc, kPrPidOffset);
        CpuRegisters regs;
        for (size_t i = 0; i < CpuRegisters::count; i++) regs.regs[i] = load<uint64_t>(desc, kPrRegOffset + 8 * i);
        regs.note_pid = n.pid;
        uint64_t rip = regs.get(CpuRegisters::rip), rsp = regs.get(CpuRegisters::rsp);
        if (!canonical(rip) || !canonical(rsp))
          n.problem = what + ": rip " + hex_text(rip) + " rsp " + hex_text(rsp) + " is not an address an x86-64 CPU can hold";
        else
          n.regs = regs;
        if (!core && n.regs) n.problem = what + ": note name is not CORE (registers kept)";
      }
      if (!n.problem.empty()) problem(n.problem);
      scan.prstatus.push_back(std::move(n));
    } else if (name == "QEMU" && type == 0 && descsz >= kQemuStateMin) {
      qemu_states.push_back(desc);
    }
    pos += 12 + pad4(namesz) + pad4(descsz);
  }
  scan.walked = pos;
  if (!scan.cut_short) cross_check_qemu_states(scan, qemu_states);
  return scan;
}

namespace {

bool name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

// The keys the kernel writes (kernel/vmcore_info.c and the arch code): NAME with
// letters, digits, '_' and '-' (OSRELEASE, BUILD-ID, KERNELOFFSET), or NAME(ARG) with
// ARG a C identifier, or two joined by one '.' (SYMBOL(init_uts_ns), OFFSET(list_head.next)).
// libkdumpfile 0.5.1 turns a key into a path of attributes: other characters (a '.' at
// either end of ARG, two in a row, '/', '(' inside it) crashed it inside kdump_open
// (tests/fixtures/damaged/fuzz-vmcoreinfo-key.kdump).
bool vmcoreinfo_key_sane(std::string_view key) {
  size_t open = key.find('(');
  std::string_view name = key.substr(0, open);
  if (name.empty()) return false;
  for (char c : name)
    if (!name_char(c) && c != '-') return false;
  if (open == std::string_view::npos) return true;
  if (key.back() != ')') return false;
  std::string_view arg = key.substr(open + 1, key.size() - open - 2);
  size_t dot = arg.find('.');
  auto identifier = [](std::string_view id) {
    if (id.empty()) return false;
    for (char c : id)
      if (!name_char(c)) return false;
    return true;
  };
  if (dot == std::string_view::npos) return identifier(arg);
  return identifier(arg.substr(0, dot)) && identifier(arg.substr(dot + 1));
}

bool vmcoreinfo_line_whole(std::string_view line) {
  for (char c : line)
    if (c < 0x20 || c >= 0x7f) return false;
  size_t eq = line.find('=');
  return eq != std::string_view::npos && eq != 0 && vmcoreinfo_key_sane(line.substr(0, eq));
}

// Calls f(offset, line number, line) for each non-empty line of at most kMaxVmcoreinfo
// bytes of VMCOREINFO, whose note's descsz includes the terminating NUL and padding.
template <class F>
void for_each_vmcoreinfo_line(std::string_view text, F f) {
  text = text.substr(0, kMaxVmcoreinfo);
  while (!text.empty() && text.back() == '\0') text.remove_suffix(1);
  size_t line_no = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    line_no++;
    if (end > start) f(start, line_no, text.substr(start, end - start));
    start = end + 1;
  }
}

}  // namespace

std::optional<std::vector<unsigned char>> blank_damaged_vmcoreinfo_lines(std::span<const std::byte> bytes) {
  std::vector<unsigned char> out(reinterpret_cast<const unsigned char*>(bytes.data()),
                                 reinterpret_cast<const unsigned char*>(bytes.data()) + bytes.size());
  bool changed = false;
  for_each_vmcoreinfo_line(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                           [&](size_t at, size_t, std::string_view line) {
                             if (vmcoreinfo_line_whole(line)) return;
                             std::fill_n(out.begin() + static_cast<long>(at), line.size(), '\n');
                             changed = true;
                           });
  if (!changed) return std::nullopt;
  return out;
}

VmcoreinfoScan parse_vmcoreinfo(std::string_view text) {
  VmcoreinfoScan scan;
  if (text.size() > kMaxVmcoreinfo)
    scan.problems.push_back("VMCOREINFO is " + std::to_string(text.size()) + " bytes: only the first " +
                            std::to_string(kMaxVmcoreinfo) + " read");
  size_t bad = 0;
  std::string first_bad;
  for_each_vmcoreinfo_line(text, [&](size_t, size_t line_no, std::string_view line) {
    if (!vmcoreinfo_line_whole(line)) {
      if (bad++ == 0) first_bad = "line " + std::to_string(line_no);
      return;
    }
    size_t eq = line.find('=');
    scan.entries.emplace(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
  });
  if (bad)
    scan.problems.push_back("VMCOREINFO has " + std::to_string(bad) + " damaged line" + (bad == 1 ? "" : "s") +
                            " (not a kernel KEY=VALUE line in printable ASCII; first: " + first_bad + "), left out");
  return scan;
}

}  // namespace kstuck
