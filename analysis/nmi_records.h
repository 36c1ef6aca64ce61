// SPDX-License-Identifier: GPL-2.0
// The NMI snapshot history reader: bytes of a kstuck.ko record buffer -> snapshots.
//
// Pure: no I/O. The live CLI gets the bytes from KSTUCK_IOC_NMI_READ; a dump reader
// finds the buffer through the module symbol "nmi_dump_buffer" (a pointer to the
// header; "nmi_dump_buffer_size" is its length) or by scanning page-aligned memory for
// NMI_DUMP_MAGIC, reads parse_nmi_header() first to learn buffer_size, then reads that
// many bytes and calls parse_nmi_history(). Every byte is treated as hostile.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "analysis/error.h"

namespace kstuck {

// One CPU of a snapshot (struct nmi_dump_cpu). Fields other than cpu/status are
// meaningful only when answered().
struct NmiCpu {
  uint32_t cpu = 0;
  uint32_t status = 0;         // NMI_DUMP_CPU_* bits
  uint64_t timestamp_ns = 0;   // CLOCK_MONOTONIC
  uint32_t context = 0;        // NMI_DUMP_CTX_* bits
  uint32_t preempt_count = 0;  // of the interrupted context
  uint32_t pid = 0;
  uint32_t tgid = 0;
  std::string comm;
  uint64_t task_kaddr = 0;
  uint32_t stack_flags = 0;    // NMI_DUMP_STACK_* bits
  std::array<uint64_t, 21> regs{};  // pt_regs order (CpuRegisters::Index)
  std::vector<uint64_t> frames;     // innermost first; frames[0] is the interrupted rip

  bool answered() const;
  bool irqs_enabled() const;
  bool user_mode() const;
};

// One capture (struct nmi_dump_snapshot and its CPU records).
struct NmiSnapshot {
  uint64_t seq = 0;
  uint32_t trigger = 0;  // NMI_DUMP_TRIGGER_*
  uint32_t state = 0;    // NMI_DUMP_STATE_*
  uint32_t initiator_cpu = 0;
  uint32_t nr_requested = 0;
  uint32_t nr_answered = 0;
  uint64_t start_ns = 0;     // CLOCK_MONOTONIC
  uint64_t end_ns = 0;       // CLOCK_MONOTONIC
  uint64_t realtime_ns = 0;  // CLOCK_REALTIME
  uint32_t timeout_ms = 0;
  std::optional<uint32_t> stalled_cpu;  // watchdog captures only
  uint64_t stall_ns = 0;
  std::vector<NmiCpu> cpus;  // by CPU number, every record of the slot

  bool complete() const;
  const NmiCpu* cpu(uint32_t n) const;
};

// The buffer header (struct nmi_dump_buffer_header).
struct NmiBufferInfo {
  uint16_t major = 0;
  uint16_t minor = 0;
  uint32_t header_size = 0;
  uint32_t slot_size = 0;
  uint32_t nr_slots = 0;
  uint32_t nr_cpu_records = 0;
  uint32_t max_frames = 0;
  uint64_t buffer_size = 0;
  uint64_t write_seq = 0;
  uint64_t self_kaddr = 0;
  uint64_t load_realtime_ns = 0;
  uint64_t load_mono_ns = 0;
  // Format 1.1 (zero from a 1.0 writer):
  uint32_t pinned_slots = 0;          // leading slots that keep their first snapshot
  uint64_t unknown_nmis = 0;          // external/unknown NMIs seen by kstuck.ko
  uint64_t unknown_captured = 0;      // of them, captured
  uint64_t unknown_ratelimited = 0;   // of them, skipped by the rate limit
  uint64_t unknown_busy = 0;          // of them, skipped: a capture was in flight
};

struct NmiHistory {
  NmiBufferInfo info;
  std::vector<NmiSnapshot> snapshots;  // ascending seq: the newest is last
  std::vector<std::string> warnings;   // damaged slots or records that were skipped

  const NmiSnapshot* find(uint64_t seq) const;
};

// Validates the header alone (magic, major, sizes); needs the first 72 bytes (112 for
// the 1.1 fields).
Result<NmiBufferInfo> parse_nmi_header(std::span<const std::byte> bytes);
// The whole buffer. Wrong magic or an unknown major fails with ErrorKind::Format;
// unknown record types are skipped; a damaged slot becomes a warning, not a failure.
Result<NmiHistory> parse_nmi_history(std::span<const std::byte> bytes);

// Offsets (multiples of align) in bytes where a plausible buffer header starts.
std::vector<size_t> find_nmi_headers(std::span<const std::byte> bytes, size_t align = 4096);

const char* nmi_trigger_name(uint32_t trigger);    // "on-demand", "unknown-nmi", ...
std::string nmi_context_names(uint32_t context);   // "kernel,irqs-off,hardirq"
std::string nmi_status_names(uint32_t status);     // "requested,answered"

}  // namespace kstuck
