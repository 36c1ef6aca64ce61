// SPDX-License-Identifier: GPL-2.0
// ORC entry formats: one case per generation (V1 <=6.2, V2 6.3, V3 6.4-7.0, V4 7.1+), how the
// format is decided (type info, .orc_header hash, the table itself), and "unknown" reported.
#include "analysis/kernel/orc.h"

#include <gtest/gtest.h>

#include <cstring>

#include "analysis/kernel/symbolizer.h"
#include "analysis/kernel/unwind.h"
#include "tests/unit/fake_kernel.h"
#include "tests/unit/orc_fixture.h"

namespace kstuck {
namespace {

using test::OrcSpec2;
using test::OrcTarget;
using Bits = OrcFormatFacts::Bits;

OrcEntry decode(std::array<std::byte, 6> raw, OrcFormat f) { return decode_orc(std::span<const std::byte, 6>(raw), f); }
// An entry with zero offsets and this 16-bit bitfield word.
std::array<std::byte, 6> flags(uint16_t bits) {
  return {std::byte(0), std::byte(0), std::byte(0), std::byte(0), std::byte(bits & 0xff), std::byte(bits >> 8)};
}

OrcFormatFacts facts_for(OrcFormat f) {
  OrcFormatFacts x;
  x.struct_known = true;
  x.sp_reg = Bits{32, 4};
  x.bp_reg = Bits{36, 4};
  switch (f) {
    case OrcFormat::V1: x.type = Bits{40, 2}; x.end = Bits{42, 1}; break;
    case OrcFormat::V2: x.type = Bits{40, 2}; x.signal = Bits{42, 1}; x.end = Bits{43, 1}; break;
    default: x.type = Bits{40, 3}; x.signal = Bits{43, 1}; break;
  }
  return x;
}

// --- decoding, one case per generation -------------------------------------------------

TEST(OrcDecode, V1UpTo62) {
  // sp_reg SP(5), bp_reg PREV_SP(1), type REGS(1), end 0: {8, -16, 0x0115}
  std::array<std::byte, 6> regs = {std::byte(8), std::byte(0), std::byte(0xf0), std::byte(0xff), std::byte(0x15), std::byte(0x01)};
  OrcEntry e = decode(regs, OrcFormat::V1);
  EXPECT_EQ(e.sp_offset, 8);
  EXPECT_EQ(e.bp_offset, -16);
  EXPECT_EQ(e.sp_reg, kOrcRegSp);
  EXPECT_EQ(e.bp_reg, kOrcRegPrevSp);
  EXPECT_EQ(e.type, OrcType::Regs);
  EXPECT_TRUE(e.signal);  // no bit: a REGS frame is a signal frame, as the kernel took it
  // sp_reg UNDEFINED with end (bit 10) is the end of the stack, without it undefined.
  EXPECT_EQ(decode(flags(uint16_t(0x04 << 8 | 0x00)), OrcFormat::V1).type, OrcType::EndOfStack);
  EXPECT_EQ(decode(flags(uint16_t(0x00 << 8 | 0x00)), OrcFormat::V1).type, OrcType::Undefined);
  OrcEntry call = decode(flags(0x0015), OrcFormat::V1);
  EXPECT_EQ(call.type, OrcType::Call);
  EXPECT_FALSE(call.signal);
}

TEST(OrcDecode, V2In63HasBothSignalAndEnd) {
  // 6.3: type:2 at bit 8, signal bit 10, end bit 11. REGS with signal: 0x0515. The 6.4
  // layout would read type 5 (unknown) and no signal: the bug this format fixes.
  std::array<std::byte, 6> regs = flags(0x0515);
  OrcEntry e = decode(regs, OrcFormat::V2);
  EXPECT_EQ(e.type, OrcType::Regs);
  EXPECT_TRUE(e.signal);
  EXPECT_EQ(decode(regs, OrcFormat::V3).type, OrcType::Unknown);
  // A REGS entry without the signal bit (a regs frame whose ip is a return address).
  EXPECT_FALSE(decode(flags(uint16_t(0x01 << 8 | 0x15)), OrcFormat::V2).signal);
  // End of stack: sp_reg UNDEFINED and end at bit 11 (not 10).
  EXPECT_EQ(decode(flags(uint16_t(0x08 << 8 | 0x00)), OrcFormat::V2).type, OrcType::EndOfStack);
  EXPECT_EQ(decode(flags(uint16_t(0x04 << 8 | 0x00)), OrcFormat::V2).type, OrcType::Undefined);
  EXPECT_EQ(decode(flags(uint16_t(0x00 << 8 | 0x15)), OrcFormat::V2).type, OrcType::Call);
}

TEST(OrcDecode, V3From64HasThreeTypeBits) {
  // type 2 is CALL, 1 END_OF_STACK, 0 UNDEFINED; signal bit 11.
  OrcEntry n = decode(flags(0x0a05), OrcFormat::V3);
  EXPECT_EQ(n.type, OrcType::Call);
  EXPECT_EQ(n.sp_reg, kOrcRegSp);
  EXPECT_TRUE(n.signal);
  EXPECT_EQ(decode(flags(uint16_t(0x01 << 8 | 0x00)), OrcFormat::V3).type, OrcType::EndOfStack);
  EXPECT_EQ(decode(flags(uint16_t(0x00 << 8 | 0x05)), OrcFormat::V3).type, OrcType::Undefined);
  EXPECT_EQ(decode(flags(uint16_t(0x04 << 8 | 0x05)), OrcFormat::V3).type, OrcType::RegsPartial);
  EXPECT_EQ(decode(flags(uint16_t(0x07 << 8 | 0x05)), OrcFormat::V3).type, OrcType::Unknown);
}

TEST(OrcDecode, V4From71RenumbersRegisters) {
  // 7.3's most common entry: CFA = SP(3) + 16, BP saved at PREV_SP(8) - 16, CALL.
  // Read with the original numbering this is "DI-based, BP base register 8".
  std::array<std::byte, 6> raw = {std::byte(16), std::byte(0), std::byte(0xf0), std::byte(0xff), std::byte(0x83), std::byte(0x02)};
  OrcEntry e = decode(raw, OrcFormat::V4);
  EXPECT_EQ(e.sp_reg, kOrcRegSp);
  EXPECT_EQ(e.bp_reg, kOrcRegPrevSp);
  EXPECT_EQ(e.type, OrcType::Call);
  EXPECT_EQ(decode(raw, OrcFormat::V3).bp_reg, kOrcRegBpIndirect);
  const std::pair<uint8_t, uint8_t> v4[] = {{0, kOrcRegUndefined}, {1, kOrcRegAx},     {2, kOrcRegDx},
                                            {3, kOrcRegSp},        {4, kOrcRegBp},     {5, kOrcRegDi},
                                            {6, kOrcRegR10},       {7, kOrcRegR13},    {8, kOrcRegPrevSp},
                                            {9, kOrcRegSpIndirect}, {10, kOrcRegBpIndirect}, {11, kOrcRegUnknown}};
  for (auto [raw_reg, ours] : v4) {
    OrcEntry r = decode(flags(uint16_t(0x02 << 8 | raw_reg)), OrcFormat::V4);
    EXPECT_EQ(r.sp_reg, ours) << int(raw_reg);
    EXPECT_EQ(r.raw_sp_reg, raw_reg);
  }
}

TEST(OrcDecode, EncoderRoundTripsEveryGeneration) {
  for (OrcFormat f : {OrcFormat::V1, OrcFormat::V2, OrcFormat::V3, OrcFormat::V4}) {
    for (OrcType type : {OrcType::Call, OrcType::Regs, OrcType::RegsPartial, OrcType::EndOfStack, OrcType::Undefined}) {
      OrcSpec2 s{24, kOrcRegBp, kOrcRegPrevSp, type, type != OrcType::Call, -16};
      OrcEntry e = decode(test::encode_orc(s, f), f);
      EXPECT_EQ(e.type, type) << orc_format_name(f);
      if (type == OrcType::EndOfStack || type == OrcType::Undefined) continue;
      EXPECT_EQ(e.sp_reg, kOrcRegBp) << orc_format_name(f);
      EXPECT_EQ(e.bp_reg, kOrcRegPrevSp) << orc_format_name(f);
      EXPECT_EQ(e.signal, type != OrcType::Call) << orc_format_name(f);
    }
  }
}

// --- one table, raw as the kernel keeps it ------------------------------------------------

// A table at kTable whose slot i covers ips[i] (int32 offsets relative to each slot) with
// an entry whose sp_offset is 8 * (i + 1), so a lookup tells which slot it found.
OrcTable table_of(const std::vector<uint64_t>& ips) {
  constexpr uint64_t kTable = 0xffffffff82000000ULL;
  std::vector<std::byte> ip_bytes(4 * ips.size()), entries;
  for (size_t i = 0; i < ips.size(); ++i) {
    int32_t rel = int32_t(int64_t(ips[i] - (kTable + 4 * i)));
    std::memcpy(ip_bytes.data() + 4 * i, &rel, 4);
    auto e = test::encode_orc(OrcSpec2{int16_t(8 * (i + 1)), kOrcRegSp, kOrcRegUndefined, OrcType::Call, false, 0},
                              OrcFormat::V1);
    entries.insert(entries.end(), e.begin(), e.end());
  }
  return OrcTable(std::move(ip_bytes), kTable, std::move(entries), OrcFormat::V1);
}

TEST(OrcTableLookup, RightmostEntryAtOrBelowTheIp) {
  OrcTable t = table_of({0xffffffff81000000ULL, 0xffffffff81000010ULL, 0xffffffff81000020ULL});
  ASSERT_EQ(t.size(), 3u);
  EXPECT_FALSE(t.find(0xffffffff80ffffffULL));
  EXPECT_EQ(t.find(0xffffffff81000000ULL)->sp_offset, 8);
  EXPECT_EQ(t.find(0xffffffff8100000fULL)->sp_offset, 8);
  EXPECT_EQ(t.find(0xffffffff81000010ULL)->sp_offset, 16);
  EXPECT_EQ(t.find(0xffffffff81ffffffULL)->sp_offset, 24);
  EXPECT_EQ(t.ip(2), 0xffffffff81000020ULL);
}

TEST(OrcTableLookup, AnUnsortedTableFromACorruptDumpIsSearchedInIpOrder) {
  OrcTable t = table_of({0xffffffff81000020ULL, 0xffffffff81000000ULL, 0xffffffff81000010ULL});
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t.ip(0), 0xffffffff81000000ULL);
  EXPECT_EQ(t.find(0xffffffff81000004ULL)->sp_offset, 16);  // slot 1
  EXPECT_EQ(t.find(0xffffffff81000014ULL)->sp_offset, 24);  // slot 2
  EXPECT_EQ(t.find(0xffffffff81000024ULL)->sp_offset, 8);   // slot 0
}

TEST(OrcTableLookup, ArraysOfUnequalLengthUseTheShorter) {
  std::vector<std::byte> ip_bytes(4 * 3), entries(6 * 2);
  EXPECT_EQ(OrcTable(ip_bytes, 0, entries, OrcFormat::V1).size(), 2u);
  EXPECT_FALSE(OrcTable().find(0));
}

// --- deciding the format ------------------------------------------------------------------

TEST(OrcFormatDecide, BitsFromTypeInfoDecideV1AndV2) {
  auto d1 = decide_orc_format(facts_for(OrcFormat::V1));
  EXPECT_EQ(d1.format, OrcFormat::V1) << d1.error;
  EXPECT_NE(d1.how.find("end:1"), std::string::npos);
  auto d2 = decide_orc_format(facts_for(OrcFormat::V2));
  EXPECT_EQ(d2.format, OrcFormat::V2) << d2.error;
  // 6.3-stable may carry a backported .orc_header: an unknown hash changes nothing.
  auto f2 = facts_for(OrcFormat::V2);
  f2.header_hash = std::array<uint8_t, 20>{1, 2, 3};
  EXPECT_EQ(decide_orc_format(f2).format, OrcFormat::V2);
}

TEST(OrcFormatDecide, HashTellsV3FromV4) {
  auto f = facts_for(OrcFormat::V3);
  f.header_hash = test::kHash612;
  auto d3 = decide_orc_format(f);
  EXPECT_EQ(d3.format, OrcFormat::V3);
  EXPECT_FALSE(d3.numbering_from_entries);
  EXPECT_NE(d3.how.find("fe5d32bf"), std::string::npos);
  f.header_hash = test::kHash73;
  auto d4 = decide_orc_format(f);
  EXPECT_EQ(d4.format, OrcFormat::V4);
  EXPECT_FALSE(d4.inferred);
  EXPECT_NE(d4.how.find("137c36ad"), std::string::npos);
  // No struct in the type information: a known hash is enough.
  OrcFormatFacts only_hash;
  only_hash.header_hash = test::kHash73;
  EXPECT_EQ(decide_orc_format(only_hash).format, OrcFormat::V4);
}

TEST(OrcFormatDecide, V3BitsWithoutAKnownHashAskForTheTable) {
  auto f = facts_for(OrcFormat::V3);
  auto d = decide_orc_format(f);
  EXPECT_TRUE(d.numbering_from_entries);
  f.header_hash = std::array<uint8_t, 20>{0xaa};
  d = decide_orc_format(f);
  EXPECT_TRUE(d.numbering_from_entries);
  EXPECT_NE(d.how.find("not a hash kstuck knows"), std::string::npos);
}

TEST(OrcFormatDecide, UnknownLayoutsAreReportedWithTheFact) {
  OrcFormatFacts none;
  auto d = decide_orc_format(none);
  EXPECT_EQ(d.format, OrcFormat::Unknown);
  EXPECT_NE(d.error.find("struct orc_entry is not in the type information"), std::string::npos);
  EXPECT_NE(d.error.find("no .orc_header"), std::string::npos);
  // A fifth layout: type widened to 4 bits.
  auto f = facts_for(OrcFormat::V3);
  f.type = Bits{40, 4};
  d = decide_orc_format(f);
  EXPECT_EQ(d.format, OrcFormat::Unknown);
  EXPECT_NE(d.error.find("type at bit 40:4"), std::string::npos) << d.error;
  // Type info and hash disagree.
  auto g = facts_for(OrcFormat::V2);
  g.header_hash = test::kHash73;
  d = decide_orc_format(g);
  EXPECT_EQ(d.format, OrcFormat::Unknown);
  EXPECT_NE(d.error.find("contradicts"), std::string::npos);
}

TEST(OrcFormatDecide, NumberingInferredFromCallEntries) {
  auto table = [](OrcFormat f, int calls, int regs_entries) {
    std::vector<std::byte> out;
    for (int i = 0; i < calls; ++i) {
      auto e = test::encode_orc({8, kOrcRegSp, kOrcRegUndefined, OrcType::Call}, f);
      out.insert(out.end(), e.begin(), e.end());
    }
    for (int i = 0; i < regs_entries; ++i) {  // entry code: DI-based REGS entries
      auto e = test::encode_orc({0, kOrcRegDi, kOrcRegUndefined, OrcType::Regs}, f);
      out.insert(out.end(), e.begin(), e.end());
    }
    return out;
  };
  std::string why;
  EXPECT_EQ(infer_orc_numbering(table(OrcFormat::V3, 100, 20), why), OrcFormat::V3);
  EXPECT_NE(why.find("original"), std::string::npos);
  EXPECT_EQ(infer_orc_numbering(table(OrcFormat::V4, 100, 20), why), OrcFormat::V4);
  EXPECT_NE(why.find("100 of 100"), std::string::npos) << why;
  EXPECT_EQ(infer_orc_numbering(table(OrcFormat::V4, 3, 0), why), OrcFormat::Unknown);  // too few to tell
  auto mixed = table(OrcFormat::V3, 50, 0);
  auto more = table(OrcFormat::V4, 50, 0);
  mixed.insert(mixed.end(), more.begin(), more.end());
  EXPECT_EQ(infer_orc_numbering(mixed, why), OrcFormat::Unknown);
  EXPECT_NE(why.find("cannot tell"), std::string::npos);
}

// --- the same stack unwound on each generation ----------------------------------------------

constexpr uint64_t kText = 0xffffffff81000000ULL;
constexpr uint64_t kFuncA = kText + 0x1000, kFuncB = kText + 0x2000, kStart = kText + 0x3000,
                   kIrq = kText + 0x4000, kEdge = kText + 0x5000, kForkAsm = kText + 0x6000;

struct Gen : ::testing::TestWithParam<OrcFormat> {
  OrcTarget t;
  test::FakeKernel k{t};
  Fields f{t};
  ModuleSet modules;
  Symbolizer sym{t, modules};
  uint64_t stack = 0;

  void build(OrcFormat fmt, bool declare = true, std::vector<std::pair<uint64_t, OrcSpec2>> extra = {}) {
    if (declare) test::declare_orc_kernel(t, fmt);
    t.map(kText, 0x10000);
    t.add_symbol("_stext", kText);
    t.add_symbol("_etext", kText + 0x10000);
    t.add_symbol("func_a", kFuncA, 0x100);
    t.add_symbol("func_b", kFuncB, 0x100);
    t.add_symbol("thread_start", kStart, 0x100);
    t.add_symbol("irq_entry", kIrq, 0x100);
    t.add_symbol("before_edge", kEdge - 0x100, 0x100);
    t.add_symbol("after_edge", kEdge, 0x100);
    // Frame-pointer style functions (CFA sp+16, rbp at CFA-16); thread_start ends the
    // stack; irq_entry finds full pt_regs at sp. before_edge ends the stack too, so a
    // lookup at after_edge's first byte minus one stops there.
    std::vector<std::pair<uint64_t, OrcSpec2>> e = {
        {kText, {0, kOrcRegUndefined, kOrcRegUndefined, OrcType::Undefined}},
        {kFuncA, {16, kOrcRegSp, kOrcRegPrevSp, OrcType::Call, false, -16}},
        {kFuncB, {16, kOrcRegSp, kOrcRegPrevSp, OrcType::Call, false, -16}},
        {kStart, {0, kOrcRegUndefined, kOrcRegUndefined, OrcType::EndOfStack}},
        {kIrq, {0, kOrcRegSp, kOrcRegUndefined, OrcType::Regs, true}},
        {kEdge - 0x100, {0, kOrcRegUndefined, kOrcRegUndefined, OrcType::EndOfStack}},
        {kEdge, {16, kOrcRegSp, kOrcRegPrevSp, OrcType::Call, false, -16}},
        {kEdge + 0x100, {0, kOrcRegUndefined, kOrcRegUndefined, OrcType::Undefined}},
    };
    e.insert(e.end(), extra.begin(), extra.end());
    std::sort(e.begin(), e.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    test::add_vmlinux_orc(t, fmt, e);
    stack = t.alloc(kThreadSize, kThreadSize);
  }
  StackRanges ranges() { return StackRanges{{{StackKind::Task, stack, stack + kThreadSize}}}; }
  std::vector<std::string> names(const Stack& s) {
    std::vector<std::string> out;
    for (const auto& fr : s.frames) out.push_back(sym.format(fr.ip, !fr.exact_ip));
    return out;
  }
  // inactive_task_frame with ret_addr in func_a; func_a -> func_b -> thread_start.
  uint64_t sleeping() {
    uint64_t frame = stack + 0x3e00;
    t.write_u64(frame + 0x30, kFuncA + 0x10);
    uint64_t sp = frame + 0x38;
    t.write_u64(sp + 8, kFuncB + 0x20);
    sp += 16;
    t.write_u64(sp + 8, kStart + 0x8);
    return frame;
  }
};

TEST_P(Gen, SleepingTaskUnwindsToItsFirstFrame) {
  build(GetParam());
  OrcTables orc(f, modules);
  EXPECT_EQ(orc.format().format, GetParam()) << orc.format().error;
  EXPECT_TRUE(orc.vmlinux_error().empty()) << orc.vmlinux_error();
  Unwinder u(f, orc);
  Stack s = u.from_thread_sp(sleeping(), ranges());
  EXPECT_EQ(s.stop, StopReason::EndOfStack) << s.detail;
  EXPECT_EQ(names(s), (std::vector<std::string>{"func_a+0x10/0x100", "func_b+0x20/0x100", "thread_start+0x8/0x100"}));
}

TEST_P(Gen, RegsFrameFromTheIrqEntry) {
  build(GetParam());
  OrcTables orc(f, modules);
  Unwinder u(f, orc);
  uint64_t frame = sleeping();
  uint64_t irq_stack = t.alloc(kThreadSize, kThreadSize);
  uint64_t regs_at = irq_stack + 0x3000;
  t.write_u64(regs_at + 16 * 8, kFuncB + 0x7);       // interrupted ip (exact)
  t.write_u64(regs_at + 17 * 8, 0x10);               // kernel cs
  t.write_u64(regs_at + 19 * 8, frame + 0x38 + 16);  // sp in func_b's frame
  CpuRegisters regs;
  regs.regs[CpuRegisters::rip] = kIrq + 0x4;
  regs.regs[CpuRegisters::rsp] = regs_at;
  regs.regs[CpuRegisters::cs] = 0x10;
  StackRanges r = ranges();
  r.ranges.push_back({StackKind::Irq, irq_stack, irq_stack + kThreadSize});
  Stack s = u.from_registers(regs, r);
  EXPECT_EQ(s.stop, StopReason::EndOfStack) << s.detail;
  EXPECT_EQ(names(s), (std::vector<std::string>{"irq_entry+0x4/0x100", "func_b+0x7/0x100", "thread_start+0x8/0x100"}));
}

INSTANTIATE_TEST_SUITE_P(Orc, Gen, ::testing::Values(OrcFormat::V1, OrcFormat::V2, OrcFormat::V3, OrcFormat::V4),
                         [](const auto& info) {
                           switch (info.param) {
                             case OrcFormat::V1: return std::string("V1_upto_6_2");
                             case OrcFormat::V2: return std::string("V2_6_3");
                             case OrcFormat::V3: return std::string("V3_6_4");
                             case OrcFormat::V4: return std::string("V4_7_1");
                             default: return std::string("unknown");
                           }
                         });

// The signal bit of a REGS entry decides where the interrupted frame's ORC is looked up:
// at its exact ip (signal 1), or at ip - 1 like a return address (signal 0).
struct SignalBit : Gen {
  Stack interrupted_at_a_function_start(bool signal) {
    build(OrcFormat::V3, true, {{kIrq + 0x80, {0, kOrcRegSp, kOrcRegUndefined, OrcType::Regs, signal}}});
    OrcTables orc(f, modules);
    Unwinder u(f, orc);
    // pt_regs say the CPU was interrupted on after_edge's first instruction.
    uint64_t regs_at = stack + 0x3000;
    uint64_t after_sp = stack + 0x3e00;
    t.write_u64(after_sp + 8, kFuncB + 0x20);
    t.write_u64(after_sp + 16 + 8, kStart + 0x8);
    t.write_u64(regs_at + 16 * 8, kEdge);
    t.write_u64(regs_at + 17 * 8, 0x10);
    t.write_u64(regs_at + 19 * 8, after_sp);
    CpuRegisters regs;
    regs.regs[CpuRegisters::rip] = kIrq + 0x84;
    regs.regs[CpuRegisters::rsp] = regs_at;
    regs.regs[CpuRegisters::cs] = 0x10;
    return u.from_registers(regs, ranges());
  }
};

TEST_F(SignalBit, SetLooksUpTheExactIp) {
  Stack s = interrupted_at_a_function_start(true);
  EXPECT_EQ(s.stop, StopReason::EndOfStack) << s.detail;
  EXPECT_EQ(names(s), (std::vector<std::string>{"irq_entry+0x84/0x100", "after_edge+0x0/0x100", "func_b+0x20/0x100",
                                                "thread_start+0x8/0x100"}));
}

TEST_F(SignalBit, ClearLooksUpIpMinusOneAsTheKernelDoes) {
  // ip - 1 falls in before_edge, whose entry ends the stack.
  Stack s = interrupted_at_a_function_start(false);
  EXPECT_EQ(s.stop, StopReason::EndOfStack) << s.detail;
  EXPECT_EQ(s.frames.size(), 2u);
}

// A never-run task: thread.sp's ret_addr is ret_from_fork_asm (6.5+) or ret_from_fork
// (before), whose first instruction is END_OF_STACK; the byte before belongs to another
// function whose entry would send the unwinder into garbage.
struct NeverRun : Gen {
  Stack unwind(const char* entry_name, bool also_c_ret_from_fork) {
    build(OrcFormat::V3, true,
          {{kForkAsm - 0x10, {16, kOrcRegSp, kOrcRegPrevSp, OrcType::Call, false, -16}},
           {kForkAsm, {0, kOrcRegUndefined, kOrcRegUndefined, OrcType::EndOfStack}},
           {kForkAsm + 0x40, {0, kOrcRegUndefined, kOrcRegUndefined, OrcType::Undefined}}});
    t.add_symbol(entry_name, kForkAsm, 0x40);
    if (also_c_ret_from_fork) t.add_symbol("ret_from_fork", kText + 0x7000, 0x80);  // 6.5+: the C function
    OrcTables orc(f, modules);
    Unwinder u(f, orc);
    uint64_t frame = stack + 0x3f00;
    t.write_u64(frame + 0x30, kForkAsm);
    t.write_u64(frame + 0x38 + 8, kFuncB + 0x20);  // what the entry before would take as a return address
    return u.from_thread_sp(frame, ranges());
  }
};

TEST_F(NeverRun, RetFromForkAsmSince65) {
  Stack s = unwind("ret_from_fork_asm", true);
  EXPECT_EQ(s.stop, StopReason::EndOfStack) << s.detail;
  EXPECT_EQ(s.frames.size(), 1u);
}

TEST_F(NeverRun, RetFromForkBefore65) {
  Stack s = unwind("ret_from_fork", false);
  EXPECT_EQ(s.stop, StopReason::EndOfStack) << s.detail;
  EXPECT_EQ(s.frames.size(), 1u);
}

TEST_F(NeverRun, AnotherReturnAddressIsLookedUpAtIpMinusOne) {
  // The same stack with the symbol unknown: ip - 1 lands in the function before, whose
  // CALL entry reads a return address off an empty stack (zero): not an end of stack.
  Stack s = unwind("some_other_label", false);
  EXPECT_GT(s.frames.size(), 1u);
}

TEST_F(Gen, UnknownFormatStopsEveryUnwindAndSaysWhy) {
  build(OrcFormat::V3, /*declare=*/false);  // no struct orc_entry, no .orc_header
  OrcTables orc(f, modules);
  EXPECT_EQ(orc.format().format, OrcFormat::Unknown);
  EXPECT_NE(orc.vmlinux_error().find("struct orc_entry is not in the type information"), std::string::npos)
      << orc.vmlinux_error();
  Unwinder u(f, orc);
  Stack s = u.from_thread_sp(sleeping(), ranges());
  EXPECT_EQ(s.stop, StopReason::BadOrc);
  EXPECT_EQ(s.frames.size(), 1u);  // the start is known; nothing is guessed beyond it
  EXPECT_NE(s.detail.find("unknown ORC entry format"), std::string::npos) << s.detail;
}

TEST_F(Gen, V3BitsWithoutHashInferTheNumberingAndSaySo) {
  std::vector<std::pair<uint64_t, OrcSpec2>> calls;
  for (int i = 0; i < 40; ++i) calls.push_back({kText + 0x8000 + 0x10 * i, {8, kOrcRegSp, kOrcRegUndefined, OrcType::Call}});
  test::declare_orc_entry(t, OrcFormat::V3);  // 7.1+ bits are the same; no .orc_header
  build(OrcFormat::V4, /*declare=*/false, calls);
  OrcTables orc(f, modules);
  EXPECT_EQ(orc.format().format, OrcFormat::V4) << orc.format().error;
  EXPECT_NE(orc.format().how.find("inferred from the table"), std::string::npos) << orc.format().how;
  EXPECT_TRUE(orc.format().inferred);
  Unwinder u(f, orc);
  EXPECT_EQ(u.from_thread_sp(sleeping(), ranges()).stop, StopReason::EndOfStack);
}

}  // namespace
}  // namespace kstuck
