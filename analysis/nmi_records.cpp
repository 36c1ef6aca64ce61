// SPDX-License-Identifier: GPL-2.0
// The NMI snapshot history reader: bounds-checked walk of the record buffer.
#include "analysis/nmi_records.h"

#include <algorithm>
#include <cstring>

#include "analysis/hex_text.h"
#include "nmi_dump/uapi/nmi_dump_record.h"

namespace kstuck {

// The other side of the module's BUILD_BUG_ONs: the v1 layout, byte for byte.
static_assert(sizeof(nmi_dump_buffer_header) == NMI_DUMP_BUFFER_HEADER_SIZE);
static_assert(sizeof(nmi_dump_snapshot) == NMI_DUMP_SNAPSHOT_SIZE);
static_assert(sizeof(nmi_dump_cpu) == NMI_DUMP_CPU_SIZE);
static_assert(offsetof(nmi_dump_cpu, regs) == 72);
static_assert(offsetof(nmi_dump_cpu, frames) == 240);
static_assert(offsetof(nmi_dump_snapshot, stall_ns) == 72);
static_assert(offsetof(nmi_dump_buffer_header, write_seq) == 40);
static_assert(offsetof(nmi_dump_buffer_header, pinned_slots) == NMI_DUMP_BUFFER_HEADER_SIZE_1_0);
static_assert(NMI_DUMP_NR_REGS == 21);

namespace {

constexpr uint32_t kMaxSlots = 1u << 20;
constexpr uint32_t kMaxCpus = 1u << 16;

// Copies a record that may be shorter (older minor) or longer (newer minor) than the
// struct this reader knows: missing fields stay zero, extra bytes are ignored.
template <typename T>
T copy_record(std::span<const std::byte> bytes) {
  T value{};
  std::memcpy(&value, bytes.data(), std::min(bytes.size(), sizeof(T)));
  return value;
}

NmiCpu convert_cpu(const nmi_dump_cpu& r, uint32_t max_frames, std::vector<std::string>& warnings,
                   uint64_t seq) {
  NmiCpu c;
  c.cpu = r.cpu;
  c.status = r.status;
  if (!c.answered()) return c;
  c.timestamp_ns = r.timestamp_ns;
  c.context = r.context;
  c.preempt_count = r.preempt_count;
  c.pid = r.pid;
  c.tgid = r.tgid;
  c.comm.assign(reinterpret_cast<const char*>(r.comm), strnlen(reinterpret_cast<const char*>(r.comm),
                                                                  sizeof(r.comm)));
  c.task_kaddr = r.task_kaddr;
  c.stack_flags = r.stack_flags;
  std::copy(std::begin(r.regs), std::end(r.regs), c.regs.begin());
  uint32_t n = r.nr_frames;
  uint32_t cap = std::min<uint32_t>(max_frames, NMI_DUMP_MAX_FRAMES);
  if (n > cap) {
    warnings.push_back("snapshot " + std::to_string(seq) + ": cpu " + std::to_string(r.cpu) + ": nr_frames " +
                       std::to_string(n) + " exceeds " + std::to_string(cap) + ", clamped");
    n = cap;
  }
  c.frames.assign(r.frames, r.frames + n);
  return c;
}

// Walks one slot's records; returns nothing for an empty or unusable slot.
std::optional<NmiSnapshot> parse_slot(std::span<const std::byte> slot, uint32_t index, const NmiBufferInfo& info,
                                      std::vector<std::string>& warnings) {
  auto where = [&](size_t off) { return "slot " + std::to_string(index) + " offset " + std::to_string(off) + ": "; };
  std::optional<NmiSnapshot> snap;
  size_t off = 0;
  // Each record is at least 8 bytes, so this loop ends within slot.size() / 8 steps.
  while (off + sizeof(nmi_dump_record) <= slot.size()) {
    auto rec = copy_record<nmi_dump_record>(slot.subspan(off, sizeof(nmi_dump_record)));
    if (rec.type == NMI_DUMP_REC_END) break;
    if (rec.size < sizeof(nmi_dump_record) || rec.size % 8 != 0 || rec.size > slot.size() - off) {
      warnings.push_back(where(off) + "bad record size " + std::to_string(rec.size) + ", rest of slot skipped");
      break;
    }
    auto body = slot.subspan(off, rec.size);
    if (!snap) {
      if (rec.type != NMI_DUMP_REC_SNAPSHOT) {
        warnings.push_back(where(off) + "slot does not start with a snapshot record (type " +
                           std::to_string(rec.type) + "), skipped");
        return std::nullopt;
      }
      if (rec.size < NMI_DUMP_SNAPSHOT_SIZE) {
        warnings.push_back(where(off) + "snapshot record too short (" + std::to_string(rec.size) + ")");
        return std::nullopt;
      }
      auto s = copy_record<nmi_dump_snapshot>(body);
      if (s.state == NMI_DUMP_STATE_EMPTY) return std::nullopt;
      snap.emplace();
      snap->seq = s.seq;
      snap->trigger = s.trigger;
      snap->state = s.state;
      snap->initiator_cpu = s.initiator_cpu;
      snap->nr_requested = s.nr_requested;
      snap->nr_answered = s.nr_answered;
      snap->start_ns = s.start_ns;
      snap->end_ns = s.end_ns;
      snap->realtime_ns = s.realtime_ns;
      snap->timeout_ms = s.timeout_ms;
      if (s.stalled_cpu != 0xffffffffu) snap->stalled_cpu = s.stalled_cpu;
      snap->stall_ns = s.stall_ns;
      // 1.1's pinned slots keep their snapshot: the others rotate by their own count.
      if (info.nr_slots && info.pinned_slots == 0 && s.seq % info.nr_slots != index)
        warnings.push_back(where(off) + "snapshot " + std::to_string(s.seq) + " is not in its slot");
    } else if (rec.type == NMI_DUMP_REC_CPU) {
      if (rec.size < NMI_DUMP_CPU_SIZE) {
        warnings.push_back(where(off) + "cpu record too short (" + std::to_string(rec.size) + "), skipped");
      } else if (snap->cpus.size() >= kMaxCpus) {
        warnings.push_back(where(off) + "too many cpu records, rest skipped");
        break;
      } else {
        snap->cpus.push_back(convert_cpu(copy_record<nmi_dump_cpu>(body), info.max_frames, warnings, snap->seq));
      }
    }
    // Any other type comes from a newer minor version: skipped by its size.
    off += rec.size;
  }
  return snap;
}

}  // namespace

bool NmiCpu::answered() const { return status & NMI_DUMP_CPU_ANSWERED; }
bool NmiCpu::irqs_enabled() const { return context & NMI_DUMP_CTX_IRQS_ON; }
bool NmiCpu::user_mode() const { return context & NMI_DUMP_CTX_USER; }

bool NmiSnapshot::complete() const { return state == NMI_DUMP_STATE_COMPLETE; }

const NmiCpu* NmiSnapshot::cpu(uint32_t n) const {
  for (const auto& c : cpus)
    if (c.cpu == n) return &c;
  return nullptr;
}

const NmiSnapshot* NmiHistory::find(uint64_t seq) const {
  for (const auto& s : snapshots)
    if (s.seq == seq) return &s;
  return nullptr;
}

Result<NmiBufferInfo> parse_nmi_header(std::span<const std::byte> bytes) {
  if (bytes.size() < NMI_DUMP_BUFFER_HEADER_SIZE_1_0)
    return fail(ErrorKind::Format, "NMI record buffer: " + std::to_string(bytes.size()) +
                                       " bytes, shorter than its header (" +
                                       std::to_string(NMI_DUMP_BUFFER_HEADER_SIZE_1_0) + ")");
  // A 1.0 header is shorter: the 1.1 fields then read as zero.
  auto h = copy_record<nmi_dump_buffer_header>(bytes);
  if (h.magic != NMI_DUMP_MAGIC)
    return fail(ErrorKind::Format, "not an NMI record buffer: magic " + hex_text(h.magic) + ", expected " +
                                       hex_text(NMI_DUMP_MAGIC) + " (\"" NMI_DUMP_MAGIC_BYTES "\")");
  if (h.major != NMI_DUMP_FORMAT_MAJOR)
    return fail(ErrorKind::Format, "NMI record format " + std::to_string(h.major) + "." + std::to_string(h.minor) +
                                       " is not supported (this reader knows major " +
                                       std::to_string(NMI_DUMP_FORMAT_MAJOR) + ")");
  NmiBufferInfo info;
  info.major = h.major;
  info.minor = h.minor;
  info.header_size = h.header_size;
  info.slot_size = h.slot_size;
  info.nr_slots = h.nr_slots;
  info.nr_cpu_records = h.nr_cpu_records;
  info.max_frames = h.max_frames;
  info.buffer_size = h.buffer_size;
  info.write_seq = h.write_seq;
  info.self_kaddr = h.self_kaddr;
  info.load_realtime_ns = h.load_realtime_ns;
  info.load_mono_ns = h.load_mono_ns;
  if (h.minor >= 1 && h.header_size >= NMI_DUMP_BUFFER_HEADER_SIZE) {
    info.pinned_slots = h.pinned_slots;
    info.unknown_nmis = h.unknown_nmis;
    info.unknown_captured = h.unknown_captured;
    info.unknown_ratelimited = h.unknown_ratelimited;
    info.unknown_busy = h.unknown_busy;
  }
  if (info.pinned_slots >= h.nr_slots && h.nr_slots) info.pinned_slots = 0;  // hostile: rotate all
  if (h.header_size < NMI_DUMP_BUFFER_HEADER_SIZE_1_0 || h.header_size % 8 != 0)
    return fail(ErrorKind::Format, "NMI record buffer: bad header_size " + std::to_string(h.header_size));
  if (h.slot_size < NMI_DUMP_SNAPSHOT_SIZE || h.slot_size % 8 != 0)
    return fail(ErrorKind::Format, "NMI record buffer: bad slot_size " + std::to_string(h.slot_size));
  if (h.nr_slots == 0 || h.nr_slots > kMaxSlots)
    return fail(ErrorKind::Format, "NMI record buffer: bad nr_slots " + std::to_string(h.nr_slots));
  if (h.nr_cpu_records > kMaxCpus)
    return fail(ErrorKind::Format, "NMI record buffer: bad nr_cpu_records " + std::to_string(h.nr_cpu_records));
  // Both factors are bounded above, so this cannot overflow 64 bits.
  uint64_t expected = uint64_t{h.header_size} + uint64_t{h.nr_slots} * h.slot_size;
  if (h.buffer_size != expected)
    return fail(ErrorKind::Format, "NMI record buffer: buffer_size " + std::to_string(h.buffer_size) +
                                       " != header_size + nr_slots * slot_size (" + std::to_string(expected) + ")");
  return info;
}

Result<NmiHistory> parse_nmi_history(std::span<const std::byte> bytes) {
  auto info = parse_nmi_header(bytes);
  if (!info) return tl::unexpected(info.error());
  NmiHistory history;
  history.info = *info;
  if (bytes.size() < info->buffer_size)
    history.warnings.push_back("buffer truncated: " + std::to_string(bytes.size()) + " of " +
                               std::to_string(info->buffer_size) + " bytes; later slots skipped");
  for (uint32_t i = 0; i < info->nr_slots; i++) {
    uint64_t start = uint64_t{info->header_size} + uint64_t{i} * info->slot_size;
    if (start + info->slot_size > bytes.size()) break;
    auto snap = parse_slot(bytes.subspan(start, info->slot_size), i, *info, history.warnings);
    if (snap) history.snapshots.push_back(std::move(*snap));
  }
  std::sort(history.snapshots.begin(), history.snapshots.end(),
            [](const NmiSnapshot& a, const NmiSnapshot& b) { return a.seq < b.seq; });
  return history;
}

std::vector<size_t> find_nmi_headers(std::span<const std::byte> bytes, size_t align) {
  std::vector<size_t> found;
  if (align == 0) align = 8;
  for (size_t off = 0; off + NMI_DUMP_BUFFER_HEADER_SIZE_1_0 <= bytes.size(); off += align) {
    uint64_t magic;
    std::memcpy(&magic, bytes.data() + off, sizeof(magic));
    if (magic == NMI_DUMP_MAGIC && parse_nmi_header(bytes.subspan(off))) found.push_back(off);
  }
  return found;
}

const char* nmi_trigger_name(uint32_t trigger) {
  switch (trigger) {
    case NMI_DUMP_TRIGGER_ON_DEMAND: return "on-demand";
    case NMI_DUMP_TRIGGER_UNKNOWN_NMI: return "unknown-nmi";
    case NMI_DUMP_TRIGGER_PANIC: return "panic";
    case NMI_DUMP_TRIGGER_WATCHDOG: return "watchdog";
    default: return "unknown-trigger";
  }
}

namespace {
std::string join_bits(uint32_t value, std::initializer_list<std::pair<uint32_t, const char*>> names) {
  std::string out;
  for (const auto& [bit, name] : names) {
    if (!(value & bit)) continue;
    if (!out.empty()) out += ',';
    out += name;
    value &= ~bit;
  }
  if (value) {
    if (!out.empty()) out += ',';
    out += hex_text(value);
  }
  return out;
}
}  // namespace

std::string nmi_context_names(uint32_t context) {
  std::string out = (context & NMI_DUMP_CTX_USER) ? "user" : "kernel";
  out += (context & NMI_DUMP_CTX_IRQS_ON) ? ",irqs-on" : ",irqs-off";
  auto rest = join_bits(context & ~(NMI_DUMP_CTX_USER | NMI_DUMP_CTX_IRQS_ON),
                        {{NMI_DUMP_CTX_HARDIRQ, "hardirq"},
                         {NMI_DUMP_CTX_SOFTIRQ, "softirq"},
                         {NMI_DUMP_CTX_BH_OFF, "bh-off"},
                         {NMI_DUMP_CTX_NMI, "nmi"},
                         {NMI_DUMP_CTX_IDLE, "idle"},
                         {NMI_DUMP_CTX_NO_REGS, "no-regs"}});
  if (!rest.empty()) out += "," + rest;
  return out;
}

std::string nmi_status_names(uint32_t status) {
  return join_bits(status, {{NMI_DUMP_CPU_REQUESTED, "requested"},
                            {NMI_DUMP_CPU_ANSWERED, "answered"},
                            {NMI_DUMP_CPU_SELF, "self"},
                            {NMI_DUMP_CPU_OFFLINE, "offline"},
                            {NMI_DUMP_CPU_TIMED_OUT, "timed-out"},
                            {NMI_DUMP_CPU_STOPPED, "stopped-by-panic"}});
}

}  // namespace kstuck
