// SPDX-License-Identifier: GPL-2.0
// find_kallsyms on synthetic kernel images: the tables laid out as scripts/kallsyms.c
// lays them out before 6.2 (8-aligned, zero padding), among filler bytes, decoys,
// unreadable pages and hostile values.
#include "analysis/kdump_target/kallsyms_scan.h"

#include <chrono>
#include <cstring>
#include <set>

#include <gtest/gtest.h>

namespace kstuck {
namespace {

constexpr uint64_t kStext = 0xffffffff81000000ULL;  // _stext = _text after KASLR

struct Image {
  std::vector<std::byte> bytes;  // from kStext
  std::set<uint64_t> holes;      // unreadable page numbers (relative to kStext)
  uint64_t end() const { return kStext + bytes.size(); }
  Result<void> read(uint64_t at, std::span<std::byte> out) const {
    if (at < kStext || at - kStext > bytes.size() || out.size() > bytes.size() - (at - kStext))
      return fail(ErrorKind::Fault, "unmapped", at);
    uint64_t off = at - kStext;
    for (uint64_t pg = off / 4096; out.size() && pg <= (off + out.size() - 1) / 4096; pg++)
      if (holes.count(pg)) return fail(ErrorKind::Fault, "excluded", kStext + pg * 4096);
    std::memcpy(out.data(), bytes.data() + off, out.size());
    return {};
  }
  DumpKallsyms::ReadFn reader() const {
    return [this](uint64_t a, std::span<std::byte> out) { return read(a, out); };
  }
  uint64_t here() const { return end(); }
  void align8() { bytes.resize((bytes.size() + 7) & ~size_t{7}); }
  uint64_t put(const void* p, size_t n) {
    uint64_t at = here();
    const auto* b = static_cast<const std::byte*>(p);
    bytes.insert(bytes.end(), b, b + n);
    return at;
  }
  template <typename T>
  void poke(uint64_t at, T v) { std::memcpy(bytes.data() + (at - kStext), &v, sizeof(v)); }
  // Pseudo-random bytes (code-like filler), with zero runs now and then.
  void filler(size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) {
      seed = seed * 1103515245u + 12345u;
      bytes.push_back((i / 64) % 7 == 0 ? std::byte{0} : static_cast<std::byte>(seed >> 16));
    }
  }
};

// Token i: the character i when printable, else "T_" (1), "lock" (2) or "q<i>".
std::string token(int i) {
  if (i == 1) return "T_";
  if (i == 2) return "lock";
  if (i > 0x20 && i < 0x7f) return std::string(1, static_cast<char>(i));
  return "q" + std::to_string(i);
}

// A token table and its index, aligned as scripts/kallsyms.c does (alone: a copy, or any
// u16 array that passes the first test). *table_at gets the token table's address.
uint64_t emit_token_index_only(Image& img, uint64_t* table_at = nullptr) {
  img.align8();
  std::string table;
  uint16_t index[256];
  for (int i = 0; i < 256; i++) {
    index[i] = static_cast<uint16_t>(table.size());
    table += token(i);
    table += '\0';
  }
  uint64_t at = img.put(table.data(), table.size());
  if (table_at) *table_at = at;
  img.align8();
  return img.put(index, sizeof(index));
}

struct Layout {
  KallsymsLocation where;
  size_t num = 0;
};

struct Options {
  int marker_bytes = 4;      // 4 (Debian's 5.10) or 8 (PTR)
  size_t nsyms = 700;        // 3 markers: an odd count of u32 leaves 4 bytes of padding
  uint64_t base = kStext;    // what relative_base says (a different one: _stext decodes elsewhere)
};

// The tables as scripts/kallsyms.c emits them, from the current end of the image.
Layout emit_tables(Image& img, const Options& o = {}) {
  std::vector<std::pair<std::string, uint64_t>> syms = {{"Dfixed_percpu_data", 0}, {"Drunqueues", 0x2f1c0},
                                                        {"T_text", kStext}, {"T_stext", kStext}};
  for (size_t i = syms.size(); i < o.nsyms; i++)
    syms.push_back({(i % 5 ? "tfunc_" : "Tmutex_lock_") + std::to_string(i), kStext + 0x40 * i});
  Layout l;
  l.num = syms.size();
  img.align8();
  std::vector<int32_t> offsets;
  for (const auto& [name, addr] : syms)
    offsets.push_back(addr < kStext ? static_cast<int32_t>(addr) : static_cast<int32_t>(-1 - static_cast<int64_t>(addr - o.base)));
  l.where.offsets = img.put(offsets.data(), offsets.size() * 4);
  img.align8();
  l.where.relative_base = img.put(&o.base, 8);
  uint32_t num = static_cast<uint32_t>(syms.size());
  l.where.num_syms = img.put(&num, 4);
  img.align8();
  std::string names;
  std::vector<uint64_t> markers;
  for (size_t i = 0; i < syms.size(); i++) {
    if (i % 256 == 0) markers.push_back(names.size());
    const std::string& name = syms[i].first;
    std::string enc;
    for (size_t c = 0; c < name.size();) {
      if (name.compare(c, 2, "T_") == 0) { enc += '\x01'; c += 2; }
      else if (name.compare(c, 4, "lock") == 0) { enc += '\x02'; c += 4; }
      else enc += name[c++];
    }
    names += static_cast<char>(enc.size());
    names += enc;
  }
  l.where.names = img.put(names.data(), names.size());
  img.align8();
  if (o.marker_bytes == 4) {
    std::vector<uint32_t> m(markers.begin(), markers.end());
    img.put(m.data(), m.size() * 4);
  } else {
    img.put(markers.data(), markers.size() * 8);
  }
  l.where.token_index = emit_token_index_only(img, &l.where.token_table);
  l.where.stext = kStext;
  return l;
}

// Scans up to the image's end (init_uts_ns); the memory behind it is whole pages, as in
// a dump (the last page filled up with zeros).
Result<KallsymsFound> scan(const Image& img) {
  Image paged = img;
  paged.bytes.resize((img.bytes.size() + 4095) & ~size_t{4095});
  return find_kallsyms(KallsymsScan{kStext, img.end(), kStext}, paged.reader());
}

void expect_found(const Result<KallsymsFound>& r, const Layout& l) {
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->where.token_index, l.where.token_index);
  EXPECT_EQ(r->where.token_table, l.where.token_table);
  EXPECT_EQ(r->where.names, l.where.names);
  EXPECT_EQ(r->where.num_syms, l.where.num_syms);
  EXPECT_EQ(r->where.relative_base, l.where.relative_base);
  EXPECT_EQ(r->where.offsets, l.where.offsets);
  ASSERT_NE(r->kallsyms, nullptr);
  EXPECT_EQ(r->kallsyms->count(), l.num);
  const auto* f = r->kallsyms->find("mutex_lock_10");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->address, kStext + 0x40 * 10);
  EXPECT_EQ(r->kallsyms->find("_stext")->address, kStext);
  EXPECT_EQ(r->kallsyms->find("runqueues")->address, 0x2f1c0u);
}

TEST(KallsymsScan, FindsTheTablesAmongFiller) {
  Image img;
  img.filler(300000, 1);  // text
  Layout l = emit_tables(img);
  img.filler(200000, 2);  // the rest of .rodata, .data up to init_uts_ns
  expect_found(scan(img), l);
}

TEST(KallsymsScan, PointerSizedMarkersAndEvenCounts) {
  for (int bytes : {4, 8})
    for (size_t n : {200u, 512u, 513u, 1100u}) {
      Image img;
      img.filler(5000, 3);
      Layout l = emit_tables(img, Options{bytes, n, kStext});
      img.filler(777, 4);
      SCOPED_TRACE(std::to_string(bytes) + "-byte markers, " + std::to_string(n) + " symbols");
      expect_found(scan(img), l);
    }
}

TEST(KallsymsScan, IndexAcrossAChunkBoundary) {
  // The scan reads 1 MiB chunks from the top; an index straddling two is still seen.
  for (uint64_t straddle : {8u, 256u, 504u}) {
    Image img;
    img.filler(100000, 5);
    Layout l = emit_tables(img);
    uint64_t index_end = img.end();
    // The chunk boundary sits at end - 1 MiB: put it `straddle` bytes into the index.
    size_t tail = static_cast<size_t>((l.where.token_index + straddle + (1u << 20)) - index_end);
    img.filler(tail, 6);
    SCOPED_TRACE(straddle);
    expect_found(scan(img), l);
  }
}

TEST(KallsymsScan, SkipsDecoysAboveTheTables) {
  Image img;
  img.filler(50000, 7);
  Layout l = emit_tables(img);
  img.filler(3000, 8);
  // A token table and index alone (no markers, no names before them).
  emit_token_index_only(img);
  img.filler(3000, 9);
  // A strictly increasing u16[256] from 0 with no token table before it.
  img.align8();
  uint16_t ramp[256];
  for (int i = 0; i < 256; i++) ramp[i] = static_cast<uint16_t>(3 * i);
  img.put(ramp, sizeof(ramp));
  img.filler(3000, 10);
  // A whole second set of tables whose _stext decodes elsewhere (another relative base).
  emit_tables(img, Options{4, 300, kStext + 0x1000});
  img.filler(3000, 11);
  expect_found(scan(img), l);
}

TEST(KallsymsScan, RefusesADecoyAlone) {
  Image img;
  img.filler(50000, 12);
  emit_token_index_only(img);
  img.filler(1000, 13);
  auto r = scan(img);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::NotFound);
  EXPECT_NE(r.error().describe().find("no kallsyms_markers"), std::string::npos) << r.error().describe();

  // Tables whose _stext is not VMCOREINFO's: refused, saying so.
  Image other;
  other.filler(20000, 14);
  emit_tables(other, Options{4, 700, kStext + 0x1000});
  other.filler(1000, 15);
  auto wrong = scan(other);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().describe().find("_stext"), std::string::npos) << wrong.error().describe();
}

TEST(KallsymsScan, RefusesTruncatedAndHostileTables) {
  Image good;
  good.filler(40000, 16);
  Layout l = emit_tables(good);
  good.filler(40000, 17);
  expect_found(scan(good), l);  // untouched, it is found: each change below is what breaks it

  // An unreadable page in the middle of the names stream.
  Image holed = good;
  holed.holes.insert((l.where.names - kStext) / 4096 + 1);
  EXPECT_FALSE(scan(holed));
  // The image ends right after the token index's first half.
  Image cut = good;
  cut.bytes.resize(static_cast<size_t>(l.where.token_index + 256 - kStext));
  EXPECT_FALSE(scan(cut));
  // A marker that disagrees with the stream.
  Image marker = good;
  marker.poke<uint32_t>(l.where.token_table - 8, 0x7fffffff);
  EXPECT_FALSE(scan(marker));
  // num_syms larger or smaller than the markers allow, or absurd.
  for (uint32_t num : {uint32_t(l.num + 300), uint32_t(l.num - 200), 0u, 0xffffffffu}) {
    Image bad = good;
    bad.poke<uint32_t>(l.where.num_syms, num);
    EXPECT_FALSE(scan(bad)) << num;
  }
  // A zero-length name.
  Image empty = good;
  empty.poke<uint8_t>(l.where.names, 0);
  EXPECT_FALSE(scan(empty));
  // A token that is not printable.
  Image token = good;
  token.poke<uint8_t>(l.where.token_table + 3, 0x01);
  EXPECT_FALSE(scan(token));
  // Offsets that would start below the scanned range.
  Image low;
  Layout ll = emit_tables(low);
  low.filler(1000, 18);
  EXPECT_FALSE(find_kallsyms(KallsymsScan{ll.where.names, low.end(), kStext}, low.reader()));
  // Implausible ranges.
  EXPECT_EQ(find_kallsyms(KallsymsScan{kStext, kStext, kStext}, good.reader()).error().kind(), ErrorKind::Invalid);
  EXPECT_EQ(find_kallsyms(KallsymsScan{kStext, kStext + (2ull << 30), kStext}, good.reader()).error().kind(),
            ErrorKind::Invalid);
  // Everything unreadable.
  Image none;
  EXPECT_FALSE(find_kallsyms(KallsymsScan{kStext, kStext + (4u << 20), kStext}, none.reader()));
}

TEST(KallsymsScan, BoundedOnManyLookAlikes) {
  // Hundreds of token index look-alikes, each with a token table, none with markers:
  // the scan gives up after a bounded number and in bounded time.
  Image img;
  for (int i = 0; i < 300; i++) {
    img.filler(200, static_cast<uint32_t>(100 + i));
    emit_token_index_only(img);
  }
  auto t0 = std::chrono::steady_clock::now();
  auto r = scan(img);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().describe().find("look-alikes"), std::string::npos) << r.error().describe();
  EXPECT_LT(s, 5.0);

  // 8 MiB of filler with no table: a plain miss, also in bounded time.
  Image big;
  big.filler(8u << 20, 19);
  t0 = std::chrono::steady_clock::now();
  auto miss = scan(big);
  s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_FALSE(miss);
  EXPECT_EQ(miss.error().kind(), ErrorKind::NotFound);
  EXPECT_LT(s, 10.0);
}

}  // namespace
}  // namespace kstuck
