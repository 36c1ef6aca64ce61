// SPDX-License-Identifier: GPL-2.0
// DumpKallsyms: decodes kallsyms_names/token_table/token_index/offsets as
// kernel/kallsyms.c's kallsyms_expand_symbol() and kallsyms_sym_address() do.
#include "analysis/kdump_target/dump_kallsyms.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace kstuck {
namespace {

// Bounds on hostile bytes: Debian's 6.1 has ~117,000 symbols and 2.6 MB of names.
constexpr uint32_t kMaxSyms = 4u << 20;
constexpr size_t kChunk = 256 * 1024;  // large enough for DumpFile to read it in parallel
constexpr size_t kMaxToken = 256;
constexpr size_t kMaxNameBytes = 64u << 20;
// KSYM_NAME_LEN is 512 since Linux commit b8a94bfb3395 ("kallsyms: increase maximum kernel
// symbol length to 512") (in v6.1), with the type letter; 128 before.
constexpr size_t kMaxSymbolName = 1024;

// A gap this large between two symbols is not one symbol (per-CPU symbols sit far below
// the kernel, data sections are far apart): the symbol gets no size (drgn caps the same).
constexpr uint64_t kMaxSymbolSize = 0x10000;

// Sequential reads of the names stream, a chunk at a time.
class StreamReader {
 public:
  StreamReader(const DumpKallsyms::ReadFn& read, uint64_t start) : read_(read), next_(start) {}
  // A quarter of a no-vmlinux run decodes names here, a byte at a time: the buffered case
  // stays small enough to inline.
  Result<uint8_t> byte() {
    if (pos_ < buf_.size()) [[likely]]
      return static_cast<uint8_t>(buf_[pos_++]);
    return refill();
  }

 private:
  [[gnu::noinline]] Result<uint8_t> refill() {
    buf_.resize(kChunk);
    auto r = read_(next_, buf_);
    if (!r) {
      // The stream may end close to an unreadable page: read up to it (the fault's
      // address), or byte-sized when the fault does not say where.
      uint64_t upto = r.error().address().value_or(next_);
      buf_.resize(upto > next_ && upto - next_ < kChunk ? upto - next_ : 1);
      if (auto again = read_(next_, buf_); !again) {
        buf_.resize(1);
        auto one = read_(next_, buf_);
        if (!one) return tl::unexpected(one.error());
      }
    }
    next_ += buf_.size();
    pos_ = 0;
    return static_cast<uint8_t>(buf_[pos_++]);
  }

  const DumpKallsyms::ReadFn& read_;
  uint64_t next_;
  std::vector<std::byte> buf_;
  size_t pos_ = 0;
};

bool is_global(char type) { return type >= 'A' && type <= 'Z'; }

// FNV-1a: names are short and the index needs no more than spread.
uint32_t name_hash(std::string_view name) {
  uint32_t h = 2166136261u;
  for (char c : name) h = (h ^ uint8_t(c)) * 16777619u;
  return h;
}

}  // namespace

Result<std::unique_ptr<DumpKallsyms>> DumpKallsyms::load(const KallsymsLocation& where, const ReadFn& read) {
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
  k->syms_.reserve(num);
  std::vector<uint32_t> name_at, name_len;
  name_at.reserve(num);
  name_len.reserve(num);
  StreamReader names(read, where.names);
  // The blob grows by hand (names_ is sized ahead, `used` of it filled): decoding 150,000
  // names token by token through std::string appends cost a tenth of a no-vmlinux run.
  size_t used = 0;
  k->names_.resize(std::min(kMaxNameBytes, size_t{num} * 24));  // 6.1's names average under 20 bytes
  for (uint32_t i = 0; i < num; i++) {
    auto len = names.byte();
    if (!len) return ctx("kallsyms_names", len.error());
    uint32_t n = *len;
    // Since Linux commit 73bbb94466fd ("kallsyms: support "big" kernel symbols") (in
    // v6.1) a length with bit 7 set continues in the next byte; before, no length had it.
    if (n & 0x80) {
      auto hi = names.byte();
      if (!hi) return ctx("kallsyms_names", hi.error());
      n = (n & 0x7f) | (uint32_t{*hi} << 7);
    }
    // Decoded straight into the blob: the type letter, then the name, one token at a
    // time, each bounded by the kernel's longest name.
    size_t start = used;
    for (uint32_t j = 0; j < n; j++) {
      auto t = names.byte();
      if (!t) return ctx("kallsyms_names", t.error());
      size_t len = token_len[*t];
      if (used - start + len > kMaxSymbolName)
        return fail(ErrorKind::Format, "kallsyms symbol " + std::to_string(i) + " is longer than " +
                                           std::to_string(kMaxSymbolName) + " bytes");
      if (used + len > k->names_.size()) {
        if (used + len > kMaxNameBytes) return fail(ErrorKind::Format, "kallsyms names exceed 64 MiB");
        k->names_.resize(std::min(kMaxNameBytes, std::max(k->names_.size() + k->names_.size() / 4, used + len + kMaxSymbolName)));
      }
      // Tokens are a few bytes: a plain loop, not a memcpy call per token.
      const char* from = token_bytes.data() + token_index[*t];
      char* to = k->names_.data() + used;
      for (size_t b = 0; b < len; b++) to[b] = from[b];
      used += len;
    }
    if (used == start) return fail(ErrorKind::Format, "kallsyms symbol " + std::to_string(i) + " has no name");
    Sym s;
    s.type = k->names_[start];
    // The name's place in the blob for now; a view once the blob stops growing.
    name_at.push_back(static_cast<uint32_t>(start + 1));
    name_len.push_back(static_cast<uint32_t>(used - start - 1));
    k->syms_.push_back(s);
  }
  // No shrink_to_fit(): copying 2 MB into fresh pages cost more (page faults) than the
  // slack it would return.
  k->names_.resize(used);
  for (uint32_t i = 0; i < num; i++) k->syms_[i].name = std::string_view(k->names_).substr(name_at[i], name_len[i]);

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
  std::vector<uint32_t> bucket(k->syms_.size());
  for (uint32_t i = 0; i < k->syms_.size(); i++) {
    bucket[i] = name_hash(k->syms_[i].name) & k->bucket_mask_;
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
