// SPDX-License-Identifier: GPL-2.0
// DumpKallsyms on synthetic kallsyms tables laid out in a fake memory, encoded the way
// scripts/kallsyms.c encodes them (tokens, "big" lengths, absolute per-CPU offsets).
#include "analysis/kdump_target/dump_kallsyms.h"

#include <cstring>
#include <map>

#include <gtest/gtest.h>

namespace kstuck {
namespace {

constexpr uint64_t kBase = 0xffffffff81000000ULL;  // _text after KASLR

// Sparse memory: a few regions at kernel addresses.
struct Memory {
  std::map<uint64_t, std::vector<std::byte>> regions;
  void put(uint64_t at, const void* data, size_t n) {
    const auto* p = static_cast<const std::byte*>(data);
    regions[at] = std::vector<std::byte>(p, p + n);
  }
  Result<void> read(uint64_t at, std::span<std::byte> out) const {
    for (const auto& [start, bytes] : regions)
      if (at >= start && at - start < bytes.size()) {
        if (out.size() > bytes.size() - (at - start)) return fail(ErrorKind::Fault, "short", start + bytes.size());
        std::memcpy(out.data(), bytes.data() + (at - start), out.size());
        return {};
      }
    return fail(ErrorKind::Fault, "unmapped", at);
  }
};

struct Table {
  // name with its type letter first, and the address (or the per-CPU offset).
  std::vector<std::pair<std::string, uint64_t>> syms;
  bool absolute_percpu = true;
  bool place_relative = false;  // 7.x: no kallsyms_relative_base, offsets from each entry
};

// Tokens: 0x01 = "T_" (type T + "_"), 0x02 = "lock", every other byte itself.
KallsymsLocation lay_out(Memory& m, const Table& t, size_t pad_names = 0) {
  KallsymsLocation where{0xffffffff82000000ULL, 0xffffffff82100000ULL, 0xffffffff82101000ULL,
                         0xffffffff82200000ULL, 0xffffffff82300000ULL, 0xffffffff82301000ULL};
  std::string table;
  uint16_t index[256];
  for (int i = 0; i < 256; i++) {
    index[i] = static_cast<uint16_t>(table.size());
    if (i == 1) table += "T_";
    else if (i == 2) table += "lock";
    else table += static_cast<char>(i ? i : '?');
    table += '\0';
  }
  m.put(where.token_table, table.data(), table.size());
  m.put(where.token_index, index, sizeof(index));
  std::string names;
  std::vector<int32_t> offsets;
  for (const auto& [name, addr] : t.syms) {
    std::string enc;
    for (size_t i = 0; i < name.size();) {
      if (name.compare(i, 2, "T_") == 0) { enc += '\x01'; i += 2; }
      else if (name.compare(i, 4, "lock") == 0) { enc += '\x02'; i += 4; }
      else enc += name[i++];
    }
    if (enc.size() < 0x80) {
      names += static_cast<char>(enc.size());
    } else {
      names += static_cast<char>(0x80 | (enc.size() & 0x7f));
      names += static_cast<char>(enc.size() >> 7);
    }
    names += enc;
    if (t.place_relative)
      offsets.push_back(static_cast<int32_t>(static_cast<int64_t>(addr - (where.offsets + 4 * offsets.size()))));
    else if (t.absolute_percpu)
      offsets.push_back(addr < kBase ? static_cast<int32_t>(addr) : static_cast<int32_t>(-1 - static_cast<int64_t>(addr - kBase)));
    else
      offsets.push_back(static_cast<int32_t>(addr - kBase));
  }
  names.append(pad_names, '\0');
  m.put(where.names, names.data(), names.size());
  m.put(where.offsets, offsets.data(), offsets.size() * 4);
  uint64_t base = kBase;
  m.put(where.relative_base, &base, 8);
  uint32_t num = static_cast<uint32_t>(t.syms.size());
  m.put(where.num_syms, &num, 4);
  return where;
}

Result<std::unique_ptr<DumpKallsyms>> load(const Memory& m, const KallsymsLocation& where) {
  return DumpKallsyms::load(where, [&m](uint64_t a, std::span<std::byte> out) { return m.read(a, out); });
}

Table sample() {
  Table t;
  t.syms = {{"Dfixed_percpu_data", 0x0},
            {"Drunqueues", 0x2f1c0},
            {"T_text", kBase},
            {"T_stext", kBase},  // an alias: the first at an address names it
            {"Tmutex_lock", kBase + 0x100},
            {"tmutex_unlock_slowpath", kBase + 0x180},
            {"T__mutex_lock.constprop.0", kBase + 0x200},
            {"Tschedule", kBase + 0x300},
            {"ddup", kBase + 0x400},  // a local and a global of the same name
            {"Ddup", kBase + 0x500},
            {"Dbig_gap_before", kBase + 0x600},
            {"B_end", kBase + 0x600 + 0x200000}};
  return t;
}

TEST(DumpKallsyms, DecodesNamesAddressesAndSizes) {
  Memory m;
  auto k = load(m, lay_out(m, sample()));
  ASSERT_TRUE(k) << k.error().describe();
  EXPECT_EQ((*k)->count(), 12u);
  const auto* rq = (*k)->find("runqueues");
  ASSERT_NE(rq, nullptr);
  EXPECT_EQ(rq->address, 0x2f1c0u);  // a per-CPU offset, absolute
  EXPECT_TRUE(rq->absolute);
  EXPECT_EQ(rq->type, 'D');
  const auto* ml = (*k)->find("mutex_lock");
  ASSERT_NE(ml, nullptr);
  EXPECT_EQ(ml->address, kBase + 0x100);
  EXPECT_EQ(ml->size, 0x80u);  // to the next symbol, as %pS prints it
  EXPECT_EQ(ml->type, 'T');
  ASSERT_NE((*k)->find("__mutex_lock.constprop.0"), nullptr);
  EXPECT_EQ((*k)->find("dup")->type, 'D');  // the global wins
  EXPECT_EQ((*k)->find("nope"), nullptr);

  // Address lookups: inside a function, at an alias, never a per-CPU offset.
  const auto* in = (*k)->containing(kBase + 0x1a0);
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->name, "mutex_unlock_slowpath");
  EXPECT_EQ(in->type, 't');
  EXPECT_EQ((*k)->containing(kBase + 0x10)->name, "_text");
  EXPECT_EQ((*k)->find("_stext")->size, 0x100u);  // aliases share the size
  EXPECT_EQ((*k)->containing(0x2f1c8), nullptr);
  EXPECT_EQ((*k)->containing(kBase - 1), nullptr);
  // A gap larger than any symbol: no size, only its own address is its.
  EXPECT_EQ((*k)->containing(kBase + 0x600)->name, "big_gap_before");
  EXPECT_EQ((*k)->containing(kBase + 0x700), nullptr);
  EXPECT_EQ((*k)->containing(kBase + 0x600 + 0x200000)->name, "_end");
  EXPECT_EQ((*k)->containing(kBase + 0x600 + 0x200001), nullptr);
}

TEST(DumpKallsyms, RelativeOffsetsWithoutAbsolutePercpu) {
  Table t;
  t.absolute_percpu = false;  // 6.15+: every offset is base-relative
  t.syms = {{"T_text", kBase}, {"Tf", kBase + 0x40}, {"Tg", kBase + 0x90}, {"Dpcpu_var", kBase + 0x1000}};
  Memory m;
  auto k = load(m, lay_out(m, t));
  ASSERT_TRUE(k) << k.error().describe();
  EXPECT_EQ((*k)->find("f")->address, kBase + 0x40);
  EXPECT_EQ((*k)->find("f")->size, 0x50u);
  EXPECT_FALSE((*k)->find("pcpu_var")->absolute);
}

TEST(DumpKallsyms, PlaceRelativeOffsetsWithoutRelativeBase) {
  // 7.x has no kallsyms_relative_base: entry i holds the address minus &offsets[i]
  // (symbols below the table give negative entries).
  Table t;
  t.absolute_percpu = false;
  t.place_relative = true;
  t.syms = {{"T_text", kBase}, {"T_stext", kBase}, {"Tf", kBase + 0x40}, {"Dpcpu_var", kBase + 0x3000000}};
  Memory m;
  KallsymsLocation where = lay_out(m, t);
  where.relative_base = 0;
  auto k = load(m, where);
  ASSERT_TRUE(k) << k.error().describe();
  EXPECT_EQ((*k)->find("f")->address, kBase + 0x40);
  EXPECT_EQ((*k)->find("pcpu_var")->address, kBase + 0x3000000);
  EXPECT_FALSE((*k)->find("pcpu_var")->absolute);
  // VMCOREINFO's _stext checks the reading: agreeing, it loads; disagreeing, it is refused.
  where.stext = kBase;
  EXPECT_TRUE(load(m, where));
  where.stext = kBase + 0x1000;
  EXPECT_EQ(load(m, where).error().kind(), ErrorKind::Format);
  // The same check with a relative base.
  Table b;
  b.absolute_percpu = false;
  b.syms = t.syms;
  KallsymsLocation checked = lay_out(m, b);
  checked.stext = kBase + 0x1000;
  EXPECT_EQ(load(m, checked).error().kind(), ErrorKind::Format);
  checked.stext = kBase;
  EXPECT_TRUE(load(m, checked));
}

TEST(DumpKallsyms, BigSymbolLengths) {
  // Since 6.1 a name of 128+ tokens has a two-byte length.
  Table t;
  std::string longname = "T" + std::string(300, 'x');
  t.syms = {{"T_text", kBase}, {longname, kBase + 0x10}, {"Tafter", kBase + 0x20}};
  Memory m;
  auto k = load(m, lay_out(m, t));
  ASSERT_TRUE(k) << k.error().describe();
  ASSERT_NE((*k)->find(longname.substr(1)), nullptr);
  EXPECT_EQ((*k)->find("after")->address, kBase + 0x20);
}

TEST(DumpKallsyms, HostileTables) {
  Memory m;
  KallsymsLocation where = lay_out(m, sample());
  // An implausible count.
  uint32_t huge = 0xffffffff;
  Memory m2 = m;
  m2.put(where.num_syms, &huge, 4);
  EXPECT_EQ(load(m2, where).error().kind(), ErrorKind::Format);
  uint32_t zero = 0;
  m2.put(where.num_syms, &zero, 4);
  EXPECT_EQ(load(m2, where).error().kind(), ErrorKind::Format);
  // More symbols claimed than the names stream holds: a fault, not a read past it.
  uint32_t more = 5000;
  Memory m3 = m;
  m3.put(where.num_syms, &more, 4);
  std::vector<int32_t> offsets(5000, -1);
  m3.put(where.offsets, offsets.data(), offsets.size() * 4);
  auto short_names = load(m3, where);
  ASSERT_FALSE(short_names);
  EXPECT_EQ(short_names.error().kind(), ErrorKind::Fault) << short_names.error().describe();
  // A token table that is not terminated within the readable bytes.
  Memory m4 = m;
  std::string unterminated(600, 'a');
  m4.put(where.token_table, unterminated.data(), unterminated.size());
  EXPECT_FALSE(load(m4, where));
  // A name of 32,767 tokens of up to 1,000 bytes each (a hostile length and token table)
  // is refused at the kernel's name limit, not grown to gigabytes.
  Memory m5 = m;
  std::string long_tokens;
  uint16_t index[256];
  for (int i = 0; i < 256; i++) {
    index[i] = static_cast<uint16_t>(long_tokens.size());
    long_tokens += std::string(i < 64 ? 1000 : 1, 'a');
    long_tokens += '\0';
  }
  m5.put(where.token_table, long_tokens.data(), long_tokens.size());
  m5.put(where.token_index, index, sizeof(index));
  std::string names = "\xff\xff" + std::string(32767, '\x01');
  m5.put(where.names, names.data(), names.size());
  auto too_long = load(m5, where);
  ASSERT_FALSE(too_long);
  EXPECT_NE(too_long.error().describe().find("longer than"), std::string::npos) << too_long.error().describe();
  // Missing tables.
  Memory empty;
  EXPECT_EQ(load(empty, where).error().kind(), ErrorKind::Fault);
}

// Names decoded in several threads, a run of symbols each, are the names decoded in one,
// and a damaged name is reported as the one thread would: the first by symbol order.
TEST(DumpKallsyms, NamesDecodedInPartsAreTheSame) {
  Table t;
  t.absolute_percpu = false;
  for (int i = 0; i < 20000; i++) {
    std::string name = (i % 3 ? "t" : "T") + std::string("lock_fn_") + std::to_string(i);
    if (i % 997 == 0) name += std::string(200, 'x');  // a "big" length now and then
    t.syms.emplace_back(name, kBase + 0x10 * static_cast<uint64_t>(i));
  }
  Memory m;
  KallsymsLocation where = lay_out(m, t);
  auto read = [&m](uint64_t a, std::span<std::byte> out) { return m.read(a, out); };
  auto one = DumpKallsyms::load(where, read, 1);
  ASSERT_TRUE(one) << one.error().describe();
  for (unsigned threads : {2u, 3u, 4u}) {
    auto parts = DumpKallsyms::load(where, read, threads);
    ASSERT_TRUE(parts) << parts.error().describe();
    ASSERT_EQ((*parts)->count(), (*one)->count());
    for (size_t i = 0; i < (*one)->count(); i++) {
      const auto& a = (*one)->symbols()[i];
      const auto& b = (*parts)->symbols()[i];
      ASSERT_EQ(a.name, b.name) << i;
      ASSERT_EQ(a.type, b.type) << i;
      ASSERT_EQ(a.address, b.address) << i;
      ASSERT_EQ(a.size, b.size) << i;
    }
    EXPECT_EQ((*parts)->find("lock_fn_19999")->address, kBase + 0x10 * 19999);
    EXPECT_EQ((*parts)->find("lock_fn_0" + std::string(200, 'x'))->address, kBase);
  }
  // Two names over the kernel's limit, one in the last part and one in the first: the
  // first is the one reported, however many threads decode.
  Table hostile = t;
  hostile.syms[19000].first = "T" + std::string(1100, 'y');
  hostile.syms[10].first = "T" + std::string(1100, 'y');
  Memory damaged;
  where = lay_out(damaged, hostile);
  for (unsigned threads : {1u, 2u, 4u}) {
    auto bad = DumpKallsyms::load(where, [&damaged](uint64_t a, std::span<std::byte> out) { return damaged.read(a, out); }, threads);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().describe().find("symbol 10 is longer than"), std::string::npos) << threads << ": " << bad.error().describe();
  }
}

}  // namespace
}  // namespace kstuck
