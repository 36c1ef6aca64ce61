// SPDX-License-Identifier: GPL-2.0
// find_kallsyms: locates kallsyms_token_index in the kernel image's read-only data and
// walks back from it to the other kallsyms tables.
//
// Why a scan: VMCOREINFO names the kallsyms tables only since Linux commit 5fd8fea935a1
// ("vmcoreinfo: include kallsyms symbols") (in v6.0); a 5.10 dump has SYMBOL(_stext)
// and SYMBOL(init_uts_ns) but no SYMBOL(kallsyms_*). drgn's contributors find the
// tables of such kernels the same way.
//
// What is scanned for: scripts/kallsyms.c (v5.10 .. v6.1) emits into .rodata, in this
// order, each label aligned by ALGN (.balign 8 on 64-bit) so the gaps are zero bytes:
//   kallsyms_offsets        s32[num]                (KALLSYMS_BASE_RELATIVE)
//   kallsyms_relative_base  u64
//   kallsyms_num_syms       u32 (then 4 bytes of padding)
//   kallsyms_names          per symbol: a length byte (two since v6.1), token ids
//   kallsyms_markers        the names stream offset of every 256th symbol: u32 on
//                           Debian's 5.10 (kernels of 5.x emitted PTR, 8 bytes: both tried)
//   kallsyms_token_table    256 NUL-terminated strings
//   kallsyms_token_index    u16[256], token_index[i] = offset of token i
// (v6.2 put kallsyms_seqs_of_names between markers and token_table; those kernels have
// the VMCOREINFO entries, so this scan does not look for it.)
//
// The scan reads [_stext, init_uts_ns) a MiB at a time from the top down (token_index
// is the last table, so it is the first met) for an 8-aligned u16[256] that starts at 0
// and grows by 1..KSYM_NAME_LEN+1 per entry; then checks, backwards:
//   1. the token table ending right before it (up to 7 bytes of zero padding), each
//      token printable and ending in a NUL exactly where the next index entry says;
//   2. the markers ending right before the token table: strictly decreasing words back
//      to the one that is 0 (markers[0]), the array 8-aligned;
//   3. a num_syms (ceil(num/256) == number of markers) with the names stream after it
//      whose length-prefixed entries reach every marker's offset and end, aligned, at
//      the markers;
//   4. relative_base and offsets before num_syms, as the alignment puts them;
// then decodes the tables (DumpKallsyms::load) and accepts them only when the decoded
// _stext is VMCOREINFO's _stext. Everything read is hostile: every walk is bounded, a
// candidate that fails any check is dropped and the scan goes on, a bounded number of
// times, and the names walks of the whole scan share one budget of steps.
#include "analysis/kdump_target/kallsyms_scan.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "analysis/hex_text.h"

namespace kstuck {
namespace {

constexpr uint64_t kMaxScan = 1ull << 30;  // x86-64's KERNEL_IMAGE_SIZE is at most 1 GiB
constexpr size_t kScanChunk = 1u << 20;
constexpr size_t kPage = 4096;
constexpr size_t kIndexBytes = 512;        // u16[256]
constexpr uint32_t kMaxTokenLen = 512;     // KSYM_NAME_LEN: 128 before v6.1, 512 since
constexpr uint32_t kMaxSyms = 4u << 20;    // as DumpKallsyms::load
constexpr uint32_t kMaxMarkers = kMaxSyms / 256;
constexpr uint32_t kMaxNameEntry = 2 + kMaxTokenLen;  // a length (1-2 bytes), then up to KSYM_NAME_LEN tokens
constexpr int kMaxCandidates = 64;         // token_index look-alikes followed further
constexpr int kMaxNameWalks = 16;          // full names walks in the whole scan
constexpr uint64_t kMaxWalkSteps = 32u << 20;  // names entries stepped over in the whole scan
constexpr int kMaxLoads = 4;               // candidates decoded in full

uint64_t align8(uint64_t v) { return (v + 7) & ~uint64_t{7}; }

// Random access to the dump through a few cached 64 KiB blocks; a page that cannot be
// read makes every access touching it fail (it is not taken as zeros).
class Bytes {
 public:
  explicit Bytes(const DumpKallsyms::ReadFn& read) : read_(read) {}

  bool get(uint64_t a, void* out, size_t n) {
    if (n > std::numeric_limits<uint64_t>::max() - a) return false;
    auto* o = static_cast<std::byte*>(out);
    while (n) {
      uint64_t base = a & ~uint64_t{kBlock - 1};
      const Block& b = block(base);
      size_t off = static_cast<size_t>(a - base);
      size_t take = std::min(n, kBlock - off);
      for (size_t pg = off / kPage; pg <= (off + take - 1) / kPage; pg++)
        if (!b.readable[pg]) return false;
      std::memcpy(o, b.bytes.data() + off, take);
      o += take;
      a += take;
      n -= take;
    }
    return true;
  }
  template <typename T>
  std::optional<T> value(uint64_t a) {
    T v{};
    if (!get(a, &v, sizeof(v))) return std::nullopt;
    return v;
  }

 private:
  static constexpr size_t kBlock = 64 * 1024;
  struct Block {
    uint64_t base = 1;  // never a block's base (those are 64 KiB-aligned)
    std::vector<std::byte> bytes;
    std::array<bool, kBlock / kPage> readable{};
  };
  const Block& block(uint64_t base) {
    for (const Block& b : blocks_)
      if (b.base == base) return b;
    Block& b = blocks_[next_++ % blocks_.size()];
    b.base = base;
    b.bytes.resize(kBlock);
    bool all = static_cast<bool>(read_(base, b.bytes));
    for (size_t pg = 0; pg < b.readable.size(); pg++)
      b.readable[pg] = all || static_cast<bool>(read_(base + pg * kPage, std::span(b.bytes).subspan(pg * kPage, kPage)));
    return b;
  }
  const DumpKallsyms::ReadFn& read_;
  std::array<Block, 4> blocks_;
  unsigned next_ = 0;
};

// [lo, hi) into buf, a page that cannot be read as zeros (zeros are no token index).
void read_chunk(const DumpKallsyms::ReadFn& read, uint64_t lo, uint64_t hi, std::vector<std::byte>& buf) {
  buf.resize(static_cast<size_t>(hi - lo));
  if (read(lo, buf)) return;
  for (uint64_t a = lo; a < hi;) {
    uint64_t next = std::min(hi, (a & ~uint64_t{kPage - 1}) + kPage);
    auto part = std::span(buf).subspan(static_cast<size_t>(a - lo), static_cast<size_t>(next - a));
    if (!read(a, part)) std::fill(part.begin(), part.end(), std::byte{0});
    a = next;
  }
}

bool looks_like_token_index(const uint16_t (&idx)[256]) {
  if (idx[0] != 0) return false;
  for (int i = 1; i < 256; i++) {
    int d = int{idx[i]} - int{idx[i - 1]};
    if (d < 1 || d > static_cast<int>(kMaxTokenLen) + 1) return false;
  }
  return true;
}

bool printable(std::byte b) { return b > std::byte{0x20} && b < std::byte{0x7f}; }

// How far the most promising candidate got, for the refusal.
struct Progress {
  int stage = 0;
  std::string why = "no kallsyms_token_index (an 8-aligned u16[256] from 0, increasing) in the range";
  void reached(int s, std::string w) {
    if (s < stage) return;
    stage = s;
    why = std::move(w);
  }
};

class Follower {
 public:
  Follower(const KallsymsScan& scan, const DumpKallsyms::ReadFn& read, Bytes& bytes, Progress& progress)
      : scan_(scan), read_(read), bytes_(bytes), progress_(progress) {}

  // The tables that end with the token index at p, decoded and checked, or nullptr.
  std::unique_ptr<DumpKallsyms> follow(uint64_t p, const uint16_t (&idx)[256], KallsymsLocation& where) {
    std::string at = "the kallsyms_token_index look-alike at " + hex_text(p);
    progress_.reached(1, at + ": no token table ends right before it");
    for (uint64_t t : token_tables(p, idx)) {
      progress_.reached(2, at + ": no kallsyms_markers end right before its token table at " + hex_text(t));
      for (const auto& markers : marker_arrays(t)) {
        progress_.reached(3, at + ": no kallsyms_num_syms and kallsyms_names before its markers at " + hex_text(markers.start));
        auto names = names_before(markers);
        if (!names) continue;
        auto [n, num] = *names;
        if (n - 16 - scan_.start < align8(4 * uint64_t{num})) continue;
        where = KallsymsLocation{};
        where.names = n;
        where.token_table = t;
        where.token_index = p;
        where.num_syms = n - 8;
        where.relative_base = n - 16;
        where.offsets = n - 16 - align8(4 * uint64_t{num});
        where.stext = scan_.stext;
        if (loads_ >= kMaxLoads) return nullptr;
        loads_++;
        auto k = DumpKallsyms::load(where, read_);
        if (!k) {
          progress_.reached(4, at + ": its tables do not decode: " + k.error().describe());
          continue;
        }
        const auto* stext = (*k)->find("_stext");
        if (!stext || stext->address != scan_.stext) {
          progress_.reached(4, at + ": its tables decode, but " +
                                   (stext ? "put _stext at " + hex_text(stext->address) : std::string("name no _stext")) +
                                   ", VMCOREINFO at " + hex_text(scan_.stext));
          continue;
        }
        return std::move(*k);
      }
    }
    return nullptr;
  }

 private:
  struct Markers {
    uint64_t start = 0;
    std::vector<uint64_t> values;  // markers[0] (always 0) first
  };

  // 8-aligned starts t of a token table whose tokens end where idx says, the last one
  // followed by at most 7 zero bytes up to p.
  std::vector<uint64_t> token_tables(uint64_t p, const uint16_t (&idx)[256]) {
    std::vector<uint64_t> out;
    uint64_t last = idx[255];
    uint64_t span = last + kMaxTokenLen + 16;  // the table's greatest extent below p
    if (p - scan_.start < last + 1) return out;
    uint64_t from = p - std::min(span, p - scan_.start);
    std::vector<std::byte> b(static_cast<size_t>(p - from));
    if (!bytes_.get(from, b.data(), b.size())) {
      // The table's lowest possible bytes may be unreadable; the table itself is higher.
      from = p - (last + 1);
      b.resize(static_cast<size_t>(p - from));
      if (!bytes_.get(from, b.data(), b.size())) return out;
    }
    for (uint64_t t = (p - last - 1) & ~uint64_t{7}; t >= from && p - t <= span; t -= 8) {
      if (tokens_end_at(b, from, t, p, idx)) out.push_back(t);
      if (out.size() >= 4 || t < 8) break;
    }
    return out;
  }

  static bool tokens_end_at(const std::vector<std::byte>& b, uint64_t from, uint64_t t, uint64_t p, const uint16_t (&idx)[256]) {
    auto at = [&](uint64_t a) { return b[static_cast<size_t>(a - from)]; };
    for (int i = 0; i < 256; i++) {
      uint64_t s = t + idx[i];
      uint64_t e = i < 255 ? t + idx[i + 1] - 1 : p;  // the NUL's place; for the last, a bound
      uint64_t a = s;
      while (a < e && printable(at(a))) a++;
      if (a >= p || at(a) != std::byte{0}) return false;
      if (i < 255 && a != e) return false;
      if (i == 255) {
        // Only alignment padding (zeros) between the last NUL and the index.
        if (p - (a + 1) >= 8) return false;
        for (uint64_t z = a + 1; z < p; z++)
          if (at(z) != std::byte{0}) return false;
      }
    }
    return true;
  }

  // Marker arrays ending at t (u32 or u64 entries; u32 with 4 bytes of padding too).
  std::vector<Markers> marker_arrays(uint64_t t) {
    std::vector<Markers> out;
    const std::pair<unsigned, unsigned> shapes[] = {{4, 0}, {4, 4}, {8, 0}};  // entry size, padding
    for (auto [w, pad] : shapes) {
      if (t - scan_.start < pad + w) continue;
      if (pad && bytes_.value<uint32_t>(t - 4) != 0u) continue;
      Markers m;
      uint64_t a = t - pad;
      uint64_t prev = std::numeric_limits<uint64_t>::max();
      bool ok = false;
      while (m.values.size() < kMaxMarkers && a - scan_.start >= w) {
        a -= w;
        std::optional<uint64_t> v = w == 4 ? std::optional<uint64_t>(bytes_.value<uint32_t>(a))
                                           : bytes_.value<uint64_t>(a);
        if (!v || *v >= prev) break;
        m.values.push_back(*v);
        prev = *v;
        if (*v == 0) {
          ok = true;
          break;
        }
      }
      if (!ok || a % 8 != 0) continue;
      std::reverse(m.values.begin(), m.values.end());
      m.start = a;
      out.push_back(std::move(m));
    }
    return out;
  }

  // Reads one names entry's length at n + pos; the entry's size, or 0.
  uint32_t entry_size(uint64_t n, uint64_t pos) {
    auto len = bytes_.value<uint8_t>(n + pos);
    if (!len) return 0;
    uint32_t size = 1 + *len;
    if (*len & 0x80) {
      // Since Linux commit 73bbb94466fd ("kallsyms: support "big" kernel symbols") (in v6.1).
      auto hi = bytes_.value<uint8_t>(n + pos + 1);
      if (!hi) return 0;
      size = 2 + ((*len & 0x7fu) | uint32_t{*hi} << 7);
    }
    return *len ? size : 0;
  }

  // Walks entries [first, first + count) from stream offset pos; the offset after them,
  // or nothing when an entry is empty, unreadable, runs past limit, or a marker
  // disagrees.
  std::optional<uint64_t> walk(uint64_t n, uint32_t first, uint32_t count, uint64_t pos, uint64_t limit,
                               const Markers& m) {
    for (uint32_t i = first; i < first + count; i++) {
      if (steps_++ >= kMaxWalkSteps) return std::nullopt;
      if (i % 256 == 0 && (i / 256 >= m.values.size() || m.values[i / 256] != pos)) return std::nullopt;
      uint32_t size = entry_size(n, pos);
      if (!size || size > kMaxNameEntry || size > limit - pos) return std::nullopt;
      pos += size;
    }
    return pos;
  }

  // The start of kallsyms_names (num_syms 8 bytes before it) whose entries match the
  // markers and end, aligned, at them; and num_syms.
  std::optional<std::pair<uint64_t, uint32_t>> names_before(const Markers& m) {
    uint64_t k = m.values.size();
    uint64_t last = m.values.back();  // the stream offset of symbol 256 * (k - 1)
    uint32_t lo = static_cast<uint32_t>(256 * (k - 1) + 1), hi = static_cast<uint32_t>(256 * k);
    if (m.start - scan_.start < last + 2 + 16) return std::nullopt;
    uint64_t top = (m.start - last - 2) & ~uint64_t{7};  // the highest start: one 2-byte entry after the last marker
    uint64_t reach = 256ull * kMaxNameEntry + 8;
    for (uint64_t n = top; n >= scan_.start + 16 && top - n <= reach; n -= 8) {
      auto num = bytes_.value<uint32_t>(n - 8);
      if (!num || *num < lo || *num > hi || bytes_.value<uint32_t>(n - 4) != 0u) continue;
      uint64_t limit = m.start - n;
      // The last 256 first (cheap), then the whole stream.
      auto end = walk(n, static_cast<uint32_t>(256 * (k - 1)), *num - static_cast<uint32_t>(256 * (k - 1)), last, limit, m);
      if (!end || align8(n + *end) != m.start) continue;
      if (++walks_ > kMaxNameWalks) return std::nullopt;
      auto whole = walk(n, 0, *num, 0, limit, m);
      if (whole && *whole == *end) return std::pair(n, *num);
    }
    return std::nullopt;
  }

  const KallsymsScan& scan_;
  const DumpKallsyms::ReadFn& read_;
  Bytes& bytes_;
  Progress& progress_;
  int loads_ = 0;
  int walks_ = 0;
  uint64_t steps_ = 0;
};

}  // namespace

Result<KallsymsFound> find_kallsyms(const KallsymsScan& scan, const DumpKallsyms::ReadFn& read) {
  if (scan.end <= scan.start || scan.end - scan.start > kMaxScan)
    return fail(ErrorKind::Invalid, "implausible kallsyms scan range " + hex_text(scan.start) + ".." + hex_text(scan.end));
  uint64_t floor = align8(scan.start);
  Bytes bytes(read);
  Progress progress;
  Follower follower(scan, read, bytes, progress);
  std::vector<std::byte> buf;
  uint64_t scanned = 0;
  int candidates = 0;
  // Chunks overlap by 504 bytes so that an index across a boundary is seen whole.
  for (uint64_t hi = scan.end & ~uint64_t{7}; hi >= floor && hi - floor >= kIndexBytes;) {
    uint64_t lo = hi - floor > kScanChunk ? hi - kScanChunk : floor;
    read_chunk(read, lo, hi, buf);
    scanned += hi - lo;
    for (uint64_t p = hi - kIndexBytes;; p -= 8) {
      uint16_t idx[256];
      std::memcpy(idx, buf.data() + (p - lo), sizeof(idx));
      if (looks_like_token_index(idx)) {
        if (++candidates > kMaxCandidates)
          return fail(ErrorKind::NotFound, "gave up after " + std::to_string(kMaxCandidates) +
                                               " kallsyms_token_index look-alikes below " + hex_text(scan.end) +
                                               ", none followed by the other tables; the furthest: " + progress.why);
        KallsymsFound found;
        if (auto k = follower.follow(p, idx, found.where)) {
          found.kallsyms = std::move(k);
          found.bytes_scanned = scanned;
          return found;
        }
      }
      if (p - lo < 8) break;
    }
    if (lo == floor) break;
    hi = lo + kIndexBytes - 8;
  }
  return fail(ErrorKind::NotFound, progress.why + " (scanned " + hex_text(scan.start) + ".." + hex_text(scan.end) + ")");
}

}  // namespace kstuck
