// SPDX-License-Identifier: GPL-2.0
// The NMI record reader against synthetic buffers (every corner of the format) and the
// released v1 fixture; the kallsyms symbolizer and the identical-stack summary.
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "analysis/kallsyms_table.h"
#include "analysis/nmi_records.h"
#include "analysis/nmi_report.h"
#include "nmi_dump/uapi/nmi_dump_record.h"

namespace kstuck {
namespace {

// Writes buffers the way kstuck.ko lays them out, with knobs to break them.
class BufferBuilder {
 public:
  BufferBuilder(uint32_t nr_slots, uint32_t nr_cpus, uint32_t cpu_rec_size = sizeof(nmi_dump_cpu))
      : nr_slots_(nr_slots), nr_cpus_(nr_cpus), cpu_rec_size_(cpu_rec_size) {
    header_size_ = 128;
    slot_size_ = (sizeof(nmi_dump_snapshot) + nr_cpus * cpu_rec_size + 63) / 64 * 64;
    bytes_.assign(header_size_ + size_t{nr_slots} * slot_size_, std::byte{0});
    nmi_dump_buffer_header h{};
    h.magic = NMI_DUMP_MAGIC;
    h.major = NMI_DUMP_FORMAT_MAJOR;
    h.minor = NMI_DUMP_FORMAT_MINOR;
    h.header_size = header_size_;
    h.slot_size = slot_size_;
    h.nr_slots = nr_slots;
    h.nr_cpu_records = nr_cpus;
    h.max_frames = NMI_DUMP_MAX_FRAMES;
    h.buffer_size = bytes_.size();
    h.self_kaddr = 0xffffc90000123000ULL;
    std::memcpy(bytes_.data(), &h, sizeof(h));
  }

  nmi_dump_buffer_header& header() { return *reinterpret_cast<nmi_dump_buffer_header*>(bytes_.data()); }
  std::byte* slot(uint32_t i) { return bytes_.data() + header_size_ + size_t{i} * slot_size_; }

  // A complete snapshot: every CPU answered with a 3-frame kernel stack.
  void add_snapshot(uint64_t seq, uint32_t trigger = NMI_DUMP_TRIGGER_ON_DEMAND) {
    std::byte* s = slot(static_cast<uint32_t>(seq % nr_slots_));
    nmi_dump_snapshot snap{};
    snap.rec = {NMI_DUMP_REC_SNAPSHOT, sizeof(snap)};
    snap.seq = seq;
    snap.trigger = trigger;
    snap.state = NMI_DUMP_STATE_COMPLETE;
    snap.initiator_cpu = 0;
    snap.nr_cpu_records = nr_cpus_;
    snap.nr_requested = nr_cpus_;
    snap.nr_answered = nr_cpus_;
    snap.start_ns = 1000 * seq;
    snap.end_ns = 1000 * seq + 500;
    snap.realtime_ns = 1764040000000000000ULL;
    snap.timeout_ms = 1000;
    snap.stalled_cpu = 0xffffffffu;
    std::memcpy(s, &snap, sizeof(snap));
    for (uint32_t c = 0; c < nr_cpus_; c++) {
      nmi_dump_cpu r{};
      r.rec = {NMI_DUMP_REC_CPU, cpu_rec_size_};
      r.cpu = c;
      r.status = NMI_DUMP_CPU_REQUESTED | NMI_DUMP_CPU_ANSWERED;
      r.timestamp_ns = snap.start_ns + 10 * c;
      r.context = c == 1 ? 0 : NMI_DUMP_CTX_IRQS_ON;
      r.pid = 100 + c;
      r.tgid = 100 + c;
      std::snprintf(reinterpret_cast<char*>(r.comm), sizeof(r.comm), "task%u", c);
      r.regs[NMI_DUMP_REG_RIP] = 0xffffffff81000010ULL + c;
      r.nr_frames = 3;
      r.frames[0] = r.regs[NMI_DUMP_REG_RIP];
      r.frames[1] = 0xffffffff81000105ULL;
      r.frames[2] = 0xffffffff81000205ULL;
      std::memcpy(cpu_rec(s, c), &r, sizeof(r));
    }
  }

  std::byte* cpu_rec(std::byte* s, uint32_t c) { return s + sizeof(nmi_dump_snapshot) + size_t{c} * cpu_rec_size_; }
  std::span<const std::byte> span() const { return bytes_; }
  std::vector<std::byte>& bytes() { return bytes_; }

 private:
  uint32_t nr_slots_, nr_cpus_, cpu_rec_size_, header_size_, slot_size_;
  std::vector<std::byte> bytes_;
};

TEST(NmiRecords, ParsesSnapshotsOldestFirst) {
  BufferBuilder b(4, 2);
  for (uint64_t seq = 0; seq < 6; seq++) b.add_snapshot(seq);  // 0 and 1 overwritten by 4 and 5
  b.header().write_seq = 6;
  auto h = parse_nmi_history(b.span());
  ASSERT_TRUE(h) << h.error().describe();
  EXPECT_TRUE(h->warnings.empty());
  ASSERT_EQ(h->snapshots.size(), 4u);
  EXPECT_EQ(h->snapshots.front().seq, 2u);
  EXPECT_EQ(h->snapshots.back().seq, 5u);
  EXPECT_EQ(h->info.write_seq, 6u);
  const auto* s = h->find(5);
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->complete());
  EXPECT_FALSE(s->stalled_cpu.has_value());
  ASSERT_EQ(s->cpus.size(), 2u);
  const auto* c1 = s->cpu(1);
  ASSERT_NE(c1, nullptr);
  EXPECT_TRUE(c1->answered());
  EXPECT_FALSE(c1->irqs_enabled());
  EXPECT_TRUE(s->cpu(0)->irqs_enabled());
  EXPECT_EQ(c1->comm, "task1");
  EXPECT_EQ(c1->pid, 101u);
  ASSERT_EQ(c1->frames.size(), 3u);
  EXPECT_EQ(c1->frames[0], 0xffffffff81000011ULL);
  EXPECT_EQ(c1->regs[CpuRegisters::rip], 0xffffffff81000011ULL);
}

TEST(NmiRecords, RejectsWrongMagic) {
  BufferBuilder b(1, 1);
  b.header().magic = 0x1122334455667788ULL;
  auto h = parse_nmi_history(b.span());
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().kind(), ErrorKind::Format);
  EXPECT_NE(h.error().message().find("not an NMI record buffer"), std::string::npos) << h.error().message();
}

TEST(NmiRecords, RejectsUnknownMajor) {
  BufferBuilder b(1, 1);
  b.header().major = NMI_DUMP_FORMAT_MAJOR + 1;
  b.header().minor = 3;
  auto h = parse_nmi_history(b.span());
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().kind(), ErrorKind::Format);
  EXPECT_NE(h.error().message().find("format 2.3 is not supported"), std::string::npos) << h.error().message();
}

TEST(NmiRecords, RejectsInconsistentSizes) {
  BufferBuilder b(2, 1);
  b.header().buffer_size += 8;
  EXPECT_FALSE(parse_nmi_history(b.span()));
  BufferBuilder c(2, 1);
  c.header().slot_size = 12;  // not a multiple of 8 and too small
  EXPECT_FALSE(parse_nmi_history(c.span()));
  BufferBuilder d(2, 1);
  d.header().nr_slots = 0;
  EXPECT_FALSE(parse_nmi_history(d.span()));
  EXPECT_FALSE(parse_nmi_history(std::span<const std::byte>(d.bytes().data(), 40)));
}

TEST(NmiRecords, NewerMinorBiggerRecordsAndUnknownTypesAreSkipped) {
  // A future writer: minor 7, CPU records 16 bytes longer, and an unknown record type.
  constexpr uint32_t kBigger = sizeof(nmi_dump_cpu) + 16;
  BufferBuilder b(1, 3, kBigger);
  b.header().minor = 7;
  b.add_snapshot(0);
  // Turn CPU 1's record into an unknown type: the reader must step over it by size.
  nmi_dump_record unknown{0x77, kBigger};
  std::memcpy(b.cpu_rec(b.slot(0), 1), &unknown, sizeof(unknown));
  auto h = parse_nmi_history(b.span());
  ASSERT_TRUE(h) << h.error().describe();
  EXPECT_EQ(h->info.minor, 7);
  ASSERT_EQ(h->snapshots.size(), 1u);
  const auto& s = h->snapshots[0];
  ASSERT_EQ(s.cpus.size(), 2u);
  EXPECT_EQ(s.cpus[0].cpu, 0u);
  EXPECT_EQ(s.cpus[1].cpu, 2u);
  EXPECT_EQ(s.cpus[1].comm, "task2");
  EXPECT_EQ(s.cpus[1].frames.size(), 3u);
}

TEST(NmiRecords, Format11PinnedSlotCountersAndStoppedCpus) {
  // 1.1: slot 0 keeps snapshot 1 (the first hang snapshot); 2..4 rotate through slots 1-2.
  BufferBuilder b(3, 2);
  b.header().pinned_slots = 1;
  b.header().unknown_nmis = 200;
  b.header().unknown_captured = 10;
  b.header().unknown_ratelimited = 189;
  b.header().unknown_busy = 1;
  b.add_snapshot(3);  // slot 0 (3 % 3): stands for the pinned snapshot
  b.add_snapshot(4);  // slot 1
  b.add_snapshot(2);  // slot 2
  nmi_dump_cpu rec{};
  std::memcpy(&rec, b.cpu_rec(b.slot(0), 1), sizeof(rec));
  rec.status |= NMI_DUMP_CPU_STOPPED;
  std::memcpy(b.cpu_rec(b.slot(0), 1), &rec, sizeof(rec));
  auto h = parse_nmi_history(b.span());
  ASSERT_TRUE(h) << h.error().describe();
  EXPECT_EQ(h->info.pinned_slots, 1u);
  EXPECT_EQ(h->info.unknown_nmis, 200u);
  EXPECT_EQ(h->info.unknown_captured, 10u);
  EXPECT_EQ(h->info.unknown_ratelimited, 189u);
  EXPECT_EQ(h->info.unknown_busy, 1u);
  EXPECT_TRUE(h->warnings.empty()) << h->warnings[0];  // no "not in its slot" with pinning
  ASSERT_EQ(h->snapshots.size(), 3u);
  EXPECT_NE(nmi_status_names(h->find(3)->cpus[1].status).find("stopped-by-panic"), std::string::npos);
  // A 1.0 writer's header has none of it, whatever lies in its padding.
  BufferBuilder old(2, 1);
  old.header().minor = 0;
  old.header().pinned_slots = 1;
  old.header().unknown_nmis = 5;
  auto o = parse_nmi_history(old.span());
  ASSERT_TRUE(o) << o.error().describe();
  EXPECT_EQ(o->info.pinned_slots, 0u);
  EXPECT_EQ(o->info.unknown_nmis, 0u);
}

TEST(NmiRecords, DamagedRecordsBecomeWarnings) {
  BufferBuilder b(3, 2);
  b.add_snapshot(0);
  b.add_snapshot(1);
  b.add_snapshot(2);
  // Slot 0: CPU 1 record with an impossible size. Slot 1: nr_frames beyond capacity.
  nmi_dump_record bad{NMI_DUMP_REC_CPU, 4};
  std::memcpy(b.cpu_rec(b.slot(0), 1), &bad, sizeof(bad));
  uint32_t huge = 100000;
  std::memcpy(b.cpu_rec(b.slot(1), 0) + offsetof(nmi_dump_cpu, nr_frames), &huge, sizeof(huge));
  // Slot 2 does not start with a snapshot.
  nmi_dump_record notsnap{NMI_DUMP_REC_CPU, sizeof(nmi_dump_snapshot)};
  std::memcpy(b.slot(2), &notsnap, sizeof(notsnap));
  auto h = parse_nmi_history(b.span());
  ASSERT_TRUE(h) << h.error().describe();
  ASSERT_EQ(h->snapshots.size(), 2u);
  EXPECT_EQ(h->snapshots[0].cpus.size(), 1u);  // CPU 1 dropped with the rest of slot 0
  EXPECT_EQ(h->snapshots[1].cpus[0].frames.size(), size_t{NMI_DUMP_MAX_FRAMES});
  EXPECT_EQ(h->warnings.size(), 3u);
}

TEST(NmiRecords, TruncatedBufferKeepsWholeSlots) {
  BufferBuilder b(4, 2);
  for (uint64_t seq = 0; seq < 4; seq++) b.add_snapshot(seq);
  auto all = b.span();
  auto h = parse_nmi_history(all.first(all.size() - 100));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->snapshots.size(), 3u);
  ASSERT_FALSE(h->warnings.empty());
  EXPECT_NE(h->warnings[0].find("truncated"), std::string::npos);
}

TEST(NmiRecords, EmptyAndInProgressSlots) {
  BufferBuilder b(3, 1);
  b.add_snapshot(0);
  b.add_snapshot(1);
  reinterpret_cast<nmi_dump_snapshot*>(b.slot(1))->state = NMI_DUMP_STATE_CAPTURING;
  auto h = parse_nmi_history(b.span());
  ASSERT_TRUE(h);
  ASSERT_EQ(h->snapshots.size(), 2u);  // slot 2 never used
  EXPECT_TRUE(h->snapshots[0].complete());
  EXPECT_FALSE(h->snapshots[1].complete());
}

TEST(NmiRecords, FindsHeadersAtPageOffsets) {
  BufferBuilder b(2, 2);
  std::vector<std::byte> memory(3 * 4096, std::byte{0xaa});
  // The magic alone, off a page boundary and without a valid header, is ignored.
  uint64_t magic = NMI_DUMP_MAGIC;
  std::memcpy(memory.data() + 100, &magic, sizeof(magic));
  std::memcpy(memory.data() + 4096, &magic, sizeof(magic));
  memory.resize(2 * 4096 + b.bytes().size());
  std::memcpy(memory.data() + 2 * 4096, b.bytes().data(), b.bytes().size());
  auto found = find_nmi_headers(memory);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0], 2u * 4096);
}

TEST(NmiRecords, Names) {
  EXPECT_STREQ(nmi_trigger_name(NMI_DUMP_TRIGGER_WATCHDOG), "watchdog");
  EXPECT_STREQ(nmi_trigger_name(99), "unknown-trigger");
  EXPECT_EQ(nmi_context_names(NMI_DUMP_CTX_HARDIRQ | NMI_DUMP_CTX_IDLE), "kernel,irqs-off,hardirq,idle");
  EXPECT_EQ(nmi_context_names(NMI_DUMP_CTX_USER | NMI_DUMP_CTX_IRQS_ON), "user,irqs-on");
  EXPECT_EQ(nmi_status_names(NMI_DUMP_CPU_REQUESTED | NMI_DUMP_CPU_TIMED_OUT), "requested,timed-out");
}

const char* kKallsyms =
    "ffffffff81000000 T _stext\n"
    "ffffffff81000000 T startup_64\n"
    "ffffffff81000100 t helper_fn\n"
    "ffffffff81000180 T other_fn\n"
    "ffffffff81000200 D some_data\n"
    "ffffffff81000300 T last_fn\n"
    "ffffffffc0001000 t kstuck_scenario_irqoff_spin\t[kstuck_scenario]\n"
    "ffffffffc0001080 t kstuck_scenario_spinner\t[kstuck_scenario]\n"
    "0000000000000000 T hidden_fn\n"
    "garbage line\n";

TEST(KallsymsTable, FormatsFunctionOffsetSizeModule) {
  auto t = KallsymsTable::parse(kKallsyms);
  EXPECT_EQ(t.size(), 7u);
  EXPECT_EQ(t.format(0xffffffff8100011cULL), "helper_fn+0x1c/0x80");
  EXPECT_EQ(t.format(0xffffffffc000102cULL), "kstuck_scenario_irqoff_spin+0x2c/0x80 [kstuck_scenario]");
  // A return address right after a call that ends helper_fn belongs to helper_fn.
  EXPECT_EQ(t.format(0xffffffff81000180ULL, true), "helper_fn+0x80/0x80");
  EXPECT_EQ(t.format(0xffffffff81000180ULL, false), "other_fn+0x0/0x180");
  EXPECT_EQ(t.format(0x1234), "0x1234");
  EXPECT_EQ(t.address_of("last_fn"), 0xffffffff81000300ULL);
  EXPECT_FALSE(t.address_of("hidden_fn"));
}

class TableNamer : public FrameNamer {
 public:
  explicit TableNamer(const KallsymsTable& t) : t_(t) {}
  std::string format(uint64_t a, bool r) override { return t_.format(a, r); }
  std::string function(uint64_t a, bool r) override {
    auto s = t_.lookup(r ? a - 1 : a);
    return s ? s->name : "";
  }
  std::optional<std::string> source(uint64_t, bool) override { return std::nullopt; }

 private:
  const KallsymsTable& t_;
};

TEST(NmiReport, GroupsIdenticalStacksIgnoringOffsets) {
  auto table = KallsymsTable::parse(kKallsyms);
  TableNamer namer(table);
  NmiSnapshot s;
  auto cpu = [](uint32_t n, std::vector<uint64_t> frames) {
    NmiCpu c;
    c.cpu = n;
    c.status = NMI_DUMP_CPU_REQUESTED | NMI_DUMP_CPU_ANSWERED;
    c.frames = std::move(frames);
    return c;
  };
  s.cpus.push_back(cpu(0, {0xffffffff81000110ULL, 0xffffffff81000190ULL}));
  s.cpus.push_back(cpu(1, {0xffffffff81000120ULL, 0xffffffff81000195ULL}));  // same functions
  s.cpus.push_back(cpu(2, {0xffffffffc0001010ULL, 0xffffffffc0001090ULL}));
  NmiCpu silent;
  silent.cpu = 3;
  silent.status = NMI_DUMP_CPU_REQUESTED | NMI_DUMP_CPU_TIMED_OUT;
  s.cpus.push_back(silent);
  auto groups = group_stacks(s, namer);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].cpus, (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(groups[0].functions, (std::vector<std::string>{"helper_fn", "other_fn"}));
  EXPECT_EQ(groups[1].cpus, (std::vector<uint32_t>{2}));
  EXPECT_EQ(groups[1].functions[0], "kstuck_scenario_irqoff_spin");

  NmiHistory h;
  s.nr_requested = 4;
  s.nr_answered = 3;
  auto text = render_nmi_text(h, {&s}, namer, {});
  EXPECT_NE(text.find("NOT ANSWERED: CPUs 3"), std::string::npos) << text;
  EXPECT_NE(text.find("CPUs 0-1: helper_fn < other_fn"), std::string::npos) << text;
  EXPECT_NE(text.find("#0  kstuck_scenario_irqoff_spin+0x10/0x80 [kstuck_scenario]"), std::string::npos) << text;
}

// The released v1.0 format, captured in the QEMU guest while CPU 3 spun with IRQs off
// and CPU 2 waited in smp_call_function_single: kept forever, must always parse.
TEST(NmiRecords, ReleasedV1Fixture) {
  std::ifstream in(KSTUCK_FIXTURES "/nmi_dump_v1.bin", std::ios::binary);
  ASSERT_TRUE(in) << "missing fixture " KSTUCK_FIXTURES "/nmi_dump_v1.bin";
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto h = parse_nmi_history(std::as_bytes(std::span(raw.data(), raw.size())));
  ASSERT_TRUE(h) << h.error().describe();
  EXPECT_TRUE(h->warnings.empty());
  EXPECT_EQ(h->info.major, 1);
  EXPECT_EQ(h->info.minor, 0);
  EXPECT_EQ(h->info.nr_cpu_records, 4u);
  ASSERT_FALSE(h->snapshots.empty());
  const auto& s = h->snapshots.back();
  EXPECT_TRUE(s.complete());
  EXPECT_EQ(s.trigger, uint32_t{NMI_DUMP_TRIGGER_ON_DEMAND});
  EXPECT_EQ(s.nr_answered, 4u);
  const auto* spinner = s.cpu(3);
  ASSERT_NE(spinner, nullptr);
  ASSERT_TRUE(spinner->answered());
  EXPECT_FALSE(spinner->irqs_enabled());
  EXPECT_EQ(spinner->comm, "kstuck_spin/3");
  EXPECT_GE(spinner->frames.size(), 3u);
  // The symbols of that boot (its /proc/kallsyms lines for the functions involved).
  std::ifstream ks(KSTUCK_FIXTURES "/nmi_dump_v1.kallsyms");
  ASSERT_TRUE(ks);
  std::string kt((std::istreambuf_iterator<char>(ks)), std::istreambuf_iterator<char>());
  auto table = KallsymsTable::parse(kt);
  TableNamer namer(table);
  bool spin = false, xcall = false;
  for (size_t i = 0; i < spinner->frames.size(); i++)
    spin |= namer.function(spinner->frames[i], nmi_frame_is_return_address(*spinner, i)) ==
            "kstuck_scenario_irqoff_spin";
  const auto* waiter = s.cpu(2);
  ASSERT_NE(waiter, nullptr);
  for (size_t i = 0; i < waiter->frames.size(); i++)
    xcall |= namer.function(waiter->frames[i], nmi_frame_is_return_address(*waiter, i)) == "smp_call_function_single";
  EXPECT_TRUE(spin);
  EXPECT_TRUE(xcall);
}

}  // namespace
}  // namespace kstuck
