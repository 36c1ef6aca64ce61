// SPDX-License-Identifier: GPL-2.0
// DumpKallsyms: decodes kallsyms_names/token_table/token_index/offsets as
// kernel/kallsyms.c's kallsyms_expand_symbol() and kallsyms_sym_address() do.
#include "analysis/kdump_target/dump_kallsyms.h"

#include <algorithm>
#include <optional>
#include <system_error>
#include <thread>
#include <cstdio>
#include <cstring>

namespace kstuck {
namespace {

// Bounds on hostile bytes: Debian's 6.1 has ~117,000 symbols and 2.6 MB of names.
constexpr uint32_t kMaxSyms = 4u << 20;
constexpr size_t kChunk = 256 * 1024;  // large enough for DumpFile to read it in parallel
constexpr size_t kMaxToken = 256;
constexpr size_t kMaxNameBytes = 64u << 20;
// The stream is no longer than the names it decodes to: a kernel's tokens are a byte or
// more each.
constexpr size_t kMaxNamesStream = kMaxNameBytes;
// Names are decoded in parallel, a run of symbols per thread.
constexpr unsigned kMaxDecodeThreads = 4;
constexpr uint32_t kMinSymbolsPerPart = 4096;
// KSYM_NAME_LEN is 512 since Linux commit b8a94bfb3395 ("kallsyms: increase maximum kernel
// symbol length to 512") (in v6.1), with the type letter; 128 before.
constexpr size_t kMaxSymbolName = 1024;

// A gap this large between two symbols is not one symbol (per-CPU symbols sit far below
// the kernel, data sections are far apart): the symbol gets no size (drgn caps the same).
constexpr uint64_t kMaxSymbolSize = 0x10000;

// FNV-1a: names are short and the index needs no more than spread.
uint32_t name_hash(std::string_view name) {
  uint32_t h = 2166136261u;
  for (char c : name) h = (h ^ uint8_t(c)) * 16777619u;
  return h;
}

// The names stream read whole, a chunk at a time as its symbols are counted: each
// symbol's entry is a length and that many token ids, so where the n-th symbol starts is
// known only after reading every length before it.
class NamesStream {
 public:
  NamesStream(const DumpKallsyms::ReadFn& read, uint64_t start) : read_(read), start_(start) {}

  // Makes bytes [0, upto) of the stream available.
  Result<void> need(size_t upto) {
    while (bytes_.size() < upto) {
      if (bytes_.size() + kChunk > kMaxNamesStream)
        return fail(ErrorKind::Format, "kallsyms_names runs past " + std::to_string(kMaxNamesStream >> 20) + " MiB");
      if (auto r = refill(); !r) return r;
    }
    return {};
  }
  // Only below what need() made available.
  uint8_t at(size_t i) const { return static_cast<uint8_t>(bytes_[i]); }

 private:
  Result<void> refill() {
    uint64_t next = start_ + bytes_.size();
    size_t had = bytes_.size();
    bytes_.resize(had + kChunk);
    // The stream may end close to an unreadable page: read up to it (the fault's
    // address), or byte-sized when the fault does not say where.
    auto whole = read_(next, std::span(bytes_).subspan(had));
    if (whole) return {};
    uint64_t upto = whole.error().address().value_or(next);
    size_t got = upto > next && upto - next < kChunk ? upto - next : 1;
    if (!read_(next, std::span(bytes_).subspan(had, got))) {
      got = 1;
      if (auto one = read_(next, std::span(bytes_).subspan(had, 1)); !one) {
        bytes_.resize(had);
        return one;
      }
    }
    bytes_.resize(had + got);
    return {};
  }

  const DumpKallsyms::ReadFn& read_;
  uint64_t start_;
  std::vector<std::byte> bytes_;
};

// Symbols [first, end) decoded from their entries in the stream (starting at byte `from`),
// into a blob of this part's own. Parts run in threads of their own.
struct NamesPart {
  uint32_t first = 0;
  uint32_t end = 0;
  size_t from = 0;
  std::string blob;
  std::optional<Error> error;  // the first, by symbol index
};

void decode_part(NamesPart& part, const NamesStream& stream, const char* token_bytes, const uint16_t* token_index,
                 const uint16_t* token_len, size_t max_blob, std::vector<DumpKallsyms::Sym>& syms,
                 std::vector<uint32_t>& name_at, std::vector<uint32_t>& name_len, std::vector<uint32_t>& hashes) {
  // The blob grows by hand (sized ahead, `used` of it filled): decoding 150,000 names
  // token by token through std::string appends cost a tenth of a no-vmlinux run.
  size_t used = 0;
  size_t at = part.from;
  part.blob.resize(std::min(max_blob, size_t{part.end - part.first} * 24));  // 6.1's names average under 20 bytes
  for (uint32_t i = part.first; i < part.end; i++) {
    // Since Linux commit 73bbb94466fd ("kallsyms: support "big" kernel symbols") (in
    // v6.1) a length with bit 7 set continues in the next byte; before, no length had it.
    // The lengths were all read (and bounded by the stream) when the parts were cut.
    uint32_t n = stream.at(at++);
    if (n & 0x80) n = (n & 0x7f) | (uint32_t{stream.at(at++)} << 7);
    // Decoded straight into the blob: the type letter, then the name, one token at a
    // time, each bounded by the kernel's longest name.
    size_t start = used;
    for (uint32_t j = 0; j < n; j++) {
      uint8_t t = stream.at(at++);
      size_t len = token_len[t];
      if (used - start + len > kMaxSymbolName) {
        part.error = Error(ErrorKind::Format, "kallsyms symbol " + std::to_string(i) + " is longer than " +
                                                  std::to_string(kMaxSymbolName) + " bytes");
        return;
      }
      if (used + len > part.blob.size()) {
        if (used + len > max_blob) {
          part.error = Error(ErrorKind::Format, "kallsyms names exceed " + std::to_string(kMaxNameBytes >> 20) + " MiB");
          return;
        }
        part.blob.resize(std::min(max_blob, std::max(part.blob.size() + part.blob.size() / 4, used + len + kMaxSymbolName)));
      }
      // Tokens are a few bytes: a plain loop, not a memcpy call per token.
      const char* from = token_bytes + token_index[t];
      char* to = part.blob.data() + used;
      for (size_t b = 0; b < len; b++) to[b] = from[b];
      used += len;
    }
    if (used == start) {
      part.error = Error(ErrorKind::Format, "kallsyms symbol " + std::to_string(i) + " has no name");
      return;
    }
    syms[i].type = part.blob[start];
    // The name's place in the blob for now; a view once the blob stops growing.
    name_at[i] = static_cast<uint32_t>(start + 1);
    name_len[i] = static_cast<uint32_t>(used - start - 1);
    // Hashed here, in this part's thread, while the name is in the cache (the by-name index).
    hashes[i] = name_hash(std::string_view(part.blob.data() + start + 1, used - start - 1));
  }
  // No shrink_to_fit(): copying 2 MB into fresh pages cost more (page faults) than the
  // slack it would return.
  part.blob.resize(used);
}

bool is_global(char type) { return type >= 'A' && type <= 'Z'; }


// The names stream cut into runs of symbols: (first symbol, its byte in the stream).
// A stream that cannot be read whole (or says nothing) ends at `readable` symbols, with
// the reason: the names before it still decode, and their errors come first.
struct NamesCut {
  NamesStream stream;
  std::vector<std::pair<uint32_t, size_t>> cuts;
  uint32_t readable = 0;
  std::optional<Error> error;
};

// Reads the names stream and cuts it into up to `parts` runs of symbols, at symbol
// boundaries found by reading every length.
NamesCut cut_names(const KallsymsLocation& where, const DumpKallsyms::ReadFn& read, uint32_t num, unsigned parts) {
  if (parts == 0) parts = std::clamp(std::thread::hardware_concurrency(), 1u, kMaxDecodeThreads);
  // Too few symbols are not worth a thread.
  parts = std::max(1u, std::min(parts, num / kMinSymbolsPerPart));
  NamesCut out{NamesStream(read, where.names), {}, 0, std::nullopt};
  auto stop = [&out](uint32_t i, Error e) {
    out.readable = i;
    out.error = std::move(e);
    return std::move(out);
  };
  size_t at = 0;
  for (uint32_t i = 0; i < num; i++) {
    if (uint64_t{i} * parts >= uint64_t{num} * out.cuts.size()) out.cuts.emplace_back(i, at);
    if (auto r = out.stream.need(at + 1); !r) return stop(i, r.error().with_context("kallsyms_names"));
    uint32_t n = out.stream.at(at++);
    if (n & 0x80) {
      if (auto r = out.stream.need(at + 1); !r) return stop(i, r.error().with_context("kallsyms_names"));
      n = (n & 0x7f) | (uint32_t{out.stream.at(at++)} << 7);
    }
    if (n == 0) return stop(i, Error(ErrorKind::Format, "kallsyms symbol " + std::to_string(i) + " has no name"));
    // More tokens than the longest name has bytes: not read on (a hostile length would
    // have the whole 64 MiB read before any name is decoded).
    if (n > kMaxSymbolName)
      return stop(i, Error(ErrorKind::Format, "kallsyms symbol " + std::to_string(i) + " is longer than " +
                                                  std::to_string(kMaxSymbolName) + " bytes (" + std::to_string(n) +
                                                  " tokens)"));
    if (auto r = out.stream.need(at + n); !r) return stop(i, r.error().with_context("kallsyms_names"));
    at += n;
  }
  out.readable = num;
  return out;
}

}  // namespace

Result<std::unique_ptr<DumpKallsyms>> DumpKallsyms::load(const KallsymsLocation& where, const ReadFn& read,
                                                        unsigned decode_threads) {
  auto ctx = [](const char* what, const Error& e) { return tl::unexpected(e.with_context(what)); };
  uint32_t num = 0;
  if (auto r = read(where.num_syms, std::as_writable_bytes(std::span(&num, 1))); !r) return ctx("kallsyms_num_syms", r.error());
  if (num == 0 || num > kMaxSyms)
    return fail(ErrorKind::Format, "kallsyms_num_syms " + std::to_string(num) + " is implausible");
  uint64_t base = 0;
  if (where.relative_base) {
    if (auto r = read(where.relative_base, std::as_writable_bytes(std::span(&base, 1))); !r)
      return ctx("kallsyms_relative_base", r.error());
  }

  uint16_t token_index[256];
  if (auto r = read(where.token_index, std::as_writable_bytes(std::span(token_index))); !r)
    return ctx("kallsyms_token_index", r.error());
  uint16_t max_index = *std::max_element(std::begin(token_index), std::end(token_index));
  // Tokens are stored one after another: all but the last end before max_index; the last
  // one (at max_index) ends at the first NUL after it, read a few bytes at a time.
  std::vector<char> token_bytes(size_t{max_index});
  if (auto r = read(where.token_table, std::as_writable_bytes(std::span(token_bytes))); !r)
    return ctx("kallsyms_token_table", r.error());
  for (size_t i = 0; i < kMaxToken; i++) {
    char c = 0;
    if (auto r = read(where.token_table + token_bytes.size(), std::as_writable_bytes(std::span(&c, 1))); !r)
      return ctx("kallsyms_token_table", r.error());
    token_bytes.push_back(c);
    if (c == 0) break;
  }
  size_t readable = token_bytes.size();
  uint16_t token_len[256];
  for (int i = 0; i < 256; i++) {
    const char* start = token_bytes.data() + token_index[i];
    const char* end = static_cast<const char*>(std::memchr(start, 0, readable - token_index[i]));
    if (!end) return fail(ErrorKind::Format, "kallsyms token " + std::to_string(i) + " is not terminated");
    token_len[i] = static_cast<uint16_t>(end - start);
  }

  std::vector<int32_t> offsets(num);
  if (auto r = read(where.offsets, std::as_writable_bytes(std::span(offsets))); !r) return ctx("kallsyms_offsets", r.error());
  // With CONFIG_KALLSYMS_ABSOLUTE_PERCPU (x86-64 SMP until Linux commit 01157ddc58dc
  // ("kallsyms: Remove KALLSYMS_ABSOLUTE_PERCPU") (in v6.15)) a non-negative offset is an
  // absolute value (a per-CPU offset) and a negative one is base - 1 - offset. Without it
  // every offset is an unsigned distance from base; kernel text is far below 2 GiB from
  // _text, so no offset is negative then.
  // Kernels without kallsyms_relative_base (newer than 6.15, which already dropped
  // ABSOLUTE_PERCPU) store place-relative offsets: entry i is the symbol's address minus
  // &kallsyms_offsets[i] (seen on Debian's 7.2 and 7.3; VMCOREINFO's _stext checks it).
  bool absolute_percpu =
      where.relative_base && std::any_of(offsets.begin(), offsets.end(), [](int32_t o) { return o < 0; });

  std::unique_ptr<DumpKallsyms> k(new DumpKallsyms());
  k->syms_.resize(num);
  std::vector<uint32_t> name_at(num), name_len(num), hashes(num);
  NamesCut cut = cut_names(where, read, num, decode_threads);
  // Every part decodes into its own blob, the first here, the others in threads of their
  // own: decoding is a fifth of a no-vmlinux run, and the parts touch disjoint symbols.
  std::vector<NamesPart> decoded;
  for (size_t p = 0; p < cut.cuts.size() && cut.cuts[p].first < cut.readable; p++) {
    NamesPart& part = decoded.emplace_back();
    part.first = cut.cuts[p].first;
    part.from = cut.cuts[p].second;
    part.end = p + 1 < cut.cuts.size() ? std::min(cut.cuts[p + 1].first, cut.readable) : cut.readable;
  }
  size_t max_blob = kMaxNameBytes / std::max<size_t>(decoded.size(), 1);
  auto decode = [&](NamesPart& part) {
    decode_part(part, cut.stream, token_bytes.data(), token_index, token_len, max_blob, k->syms_, name_at, name_len, hashes);
  };
  std::vector<std::thread> helpers;
  for (size_t p = 1; p < decoded.size(); p++) {
    try {
      helpers.emplace_back(decode, std::ref(decoded[p]));
    } catch (const std::system_error&) {
      decode(decoded[p]);  // no thread to be had: decoded here, in turn
    }
  }
  if (!decoded.empty()) decode(decoded[0]);
  for (auto& t : helpers) t.join();
  for (const NamesPart& part : decoded)
    if (part.error) return tl::unexpected(*part.error);
  if (cut.error) return tl::unexpected(*cut.error);
  // Views are taken once the blobs are in place: moving a short string moves its bytes.
  k->names_.reserve(decoded.size());
  for (NamesPart& part : decoded) {
    const std::string& blob = k->names_.emplace_back(std::move(part.blob));
    for (uint32_t i = part.first; i < part.end; i++) k->syms_[i].name = std::string_view(blob).substr(name_at[i], name_len[i]);
  }

  // VMCOREINFO's _stext checks the reading (drgn checks it the same way): a kernel whose
  // offsets mean something else is refused rather than misread.
  auto address_of = [&](uint32_t i) {
    int32_t off = offsets[i];
    if (absolute_percpu)
      return off >= 0 ? static_cast<uint64_t>(off) : base - 1 - static_cast<uint64_t>(static_cast<int64_t>(off));
    if (!where.relative_base) return where.offsets + 4 * uint64_t{i} + static_cast<uint64_t>(static_cast<int64_t>(off));
    return base + static_cast<uint32_t>(off);
  };
  uint32_t stext = num;
  for (uint32_t i = 0; i < num && where.stext; i++)
    if (k->syms_[i].name == "_stext") {
      stext = i;
      break;
    }
  if (stext < num && address_of(stext) != where.stext) {
    char buf[96];
    std::snprintf(buf, sizeof(buf), "kallsyms puts _stext at 0x%llx, VMCOREINFO at 0x%llx",
                  static_cast<unsigned long long>(address_of(stext)), static_cast<unsigned long long>(where.stext));
    return fail(ErrorKind::Format, std::string(buf) + ": the tables are not understood");
  }
  for (uint32_t i = 0; i < num; i++) {
    Sym& s = k->syms_[i];
    s.absolute = absolute_percpu && offsets[i] >= 0;
    s.address = address_of(i);
    // Absolute symbols (a, A) and anything below the kernel half are not code or data
    // an address lookup should name.
    if (s.type == 'a' || s.type == 'A' || s.address < 0xffff800000000000ULL) s.absolute = true;
  }

  for (uint32_t i = 0; i < k->syms_.size(); i++)
    if (!k->syms_[i].absolute) k->by_address_.push_back(i);
  // The table is sorted by address already; a hostile one is sorted here (stable: it
  // must not break the binary search), keeping the first of aliases, as the kernel does.
  auto by_address = [&k](uint32_t a, uint32_t b) { return k->syms_[a].address < k->syms_[b].address; };
  if (!std::is_sorted(k->by_address_.begin(), k->by_address_.end(), by_address))
    std::stable_sort(k->by_address_.begin(), k->by_address_.end(), by_address);
  k->by_address_.erase(std::unique(k->by_address_.begin(), k->by_address_.end(),
                                   [&k](uint32_t a, uint32_t b) { return k->syms_[a].address == k->syms_[b].address; }),
                       k->by_address_.end());
  // Sizes as kallsyms_lookup_size_offset() computes them: to the next higher address.
  for (size_t i = 0; i + 1 < k->by_address_.size(); i++) {
    Sym& s = k->syms_[k->by_address_[i]];
    uint64_t gap = k->syms_[k->by_address_[i + 1]].address - s.address;
    s.size = gap <= kMaxSymbolSize ? static_cast<uint32_t>(gap) : 0;
  }
  for (Sym& s : k->syms_) {
    if (s.size || s.absolute) continue;
    // Aliases share their first symbol's size.
    if (const Sym* first = k->containing(s.address); first && first->address == s.address) s.size = first->size;
  }

  // By name: a hash table laid out flat by a counting sort, in two linear passes (a sort
  // of 150,000 keys cost 7% of a no-vmlinux run; a node-based hash map costs MBs). Each
  // bucket keeps table order, which find() relies on among equal names.
  uint32_t bits = 1;
  while ((size_t{1} << bits) < k->syms_.size()) bits++;
  k->bucket_mask_ = (uint32_t{1} << bits) - 1;
  k->bucket_start_.assign((size_t{1} << bits) + 1, 0);
  std::vector<uint32_t>& bucket = hashes;
  for (uint32_t i = 0; i < k->syms_.size(); i++) {
    bucket[i] &= k->bucket_mask_;
    k->bucket_start_[bucket[i] + 1]++;
  }
  for (size_t b = 1; b < k->bucket_start_.size(); b++) k->bucket_start_[b] += k->bucket_start_[b - 1];
  std::vector<uint32_t> fill(k->bucket_start_.begin(), k->bucket_start_.end() - 1);
  k->by_name_.resize(k->syms_.size());
  for (uint32_t i = 0; i < k->syms_.size(); i++) k->by_name_[fill[bucket[i]]++] = i;
  return k;
}

const DumpKallsyms::Sym* DumpKallsyms::find(std::string_view name) const {
  if (bucket_start_.empty()) return nullptr;
  uint32_t b = name_hash(name) & bucket_mask_;
  // Among equal names a global comes first, then the lowest address (table order, which
  // each bucket keeps).
  const Sym* best = nullptr;
  for (uint32_t j = bucket_start_[b]; j < bucket_start_[b + 1]; ++j) {
    const Sym& s = syms_[by_name_[j]];
    if (s.name != name) continue;
    if (is_global(s.type)) return &s;
    if (!best) best = &s;
  }
  return best;
}

const DumpKallsyms::Sym* DumpKallsyms::containing(uint64_t address) const {
  auto it = std::upper_bound(by_address_.begin(), by_address_.end(), address,
                             [this](uint64_t a, uint32_t i) { return a < syms_[i].address; });
  if (it == by_address_.begin()) return nullptr;
  const Sym& s = syms_[*(it - 1)];
  // Without a size (the last symbol, one before a large gap) only its own address is its.
  if (s.size ? address - s.address >= s.size : address != s.address) return nullptr;
  return &s;
}

}  // namespace kstuck
