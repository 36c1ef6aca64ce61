// SPDX-License-Identifier: GPL-2.0
// DumpFile's reads: the libkdumpfile context, and the guard that keeps its page cache
// whole.
//
// libkdumpfile 0.5.1 (Debian 12) breaks its page cache when a page read fails: the
// failed entry goes back through cache_discard(), and a later read of another page
// writes through a null data pointer (SIGSEGV) or hands zlib a bad buffer
// ("Decompresion failed: error -2", a present page reported corrupt). A valid
// makedumpfile -d 31 dump shows it within a few thousand reads that mix present and
// excluded pages (tests/unit/dump_page_guard_test.cpp). So no read may fail inside
// the library where kstuck can tell beforehand:
// - excluded pages read as zeroes in the library (file.zero_excluded), and kstuck
//   answers "excluded" itself from the file's page map;
// - kernel virtual addresses are translated here first, so the page map is checked
//   for the physical page a read lands on;
// - pages whose descriptor is damaged or points past the end of a truncated file are
//   refused here (header_check found them).
// A read that still fails in the library (corrupt page data) leaves the cache suspect:
// the context is opened again, a bounded number of times.
#include <libkdumpfile/kdumpfile.h>

#include <algorithm>
#include <cstring>

#include "analysis/hex_text.h"
#include "analysis/kdump_target/dump_file.h"

namespace kstuck {
namespace {

constexpr uint64_t kPageSize = 4096;
// Damaged pages that may each cost a reopen (each page once); a dump damaged further
// than this is reported as unreadable from there on.
constexpr int kMaxReopens = 256;
constexpr kdump_num_t kPageCacheEntries = 256;
constexpr kdump_num_t kReopenedCacheEntries = 16;

// What a failed kdump_read() says, without the address; clears the library's error.
std::string failure_reason(_kdump_ctx* ctx, kdump_status s) {
  const char* err = kdump_get_err(ctx);
  std::string why;
  switch (s) {
    case KDUMP_ERR_NODATA: why = "page excluded from dump"; break;
    case KDUMP_ERR_ADDRXLAT: why = "address not mapped"; break;
    case KDUMP_ERR_EOF: why = "page beyond the end of a truncated dump"; break;
    case KDUMP_ERR_CORRUPT: why = "corrupt page data"; break;
    default: why = kdump_strerror(s); break;
  }
  if (err && *err) why += std::string(" (") + err + ")";
  kdump_clear_err(ctx);
  return why;
}

Result<void> read_failure(const std::string& why, uint64_t shown) {
  return fail(ErrorKind::Fault, "read " + hex_text(shown) + ": " + why, shown);
}

}  // namespace

Result<void> DumpFile::configure_context(_kdump_ctx* ctx, uint64_t cache_entries) const {
  if (arch_unknown_ && kdump_set_string_attr(ctx, KDUMP_ATTR_ARCH_NAME, KDUMP_ARCH_X86_64) != KDUMP_OK)
    return fail(ErrorKind::Format, std::string("libkdumpfile: cannot set the architecture: ") + kdump_get_err(ctx));
  // read(2), never mmap(2): a page descriptor pointing past the end of a truncated file
  // then fails one read instead of raising SIGBUS on the mapped tail.
  if (kdump_set_number_attr(ctx, KDUMP_ATTR_FILE_MMAP_POLICY, KDUMP_MMAP_NEVER) != KDUMP_OK)
    return fail(ErrorKind::Format, std::string("libkdumpfile: cannot turn mmap off: ") + kdump_get_err(ctx));
  // A library without the attribute keeps its own cache size.
  kdump_set_number_attr(ctx, "cache.size", cache_entries);
  // Before the open: libkdumpfile reads memory while it opens (the kernel's page tables,
  // VMCOREINFO's symbols), and an excluded page must not fail there either.
  kdump_set_number_attr(ctx, KDUMP_ATTR_ZERO_EXCLUDED, 1);
  return {};
}

Result<void> DumpFile::new_context() {
  ctx_ = kdump_new();
  if (!ctx_) return fail(ErrorKind::Os, "libkdumpfile: out of memory");
  // 256 cached pages instead of libkdumpfile's 1024: the analyses read each page a few
  // times at most, and the smaller cache cut 4 MB of peak RSS (bench/analyze, 6.1 dev
  // dump: 38.4 -> 35.0 MB) at the same CPU time.
  // A context opened again (after a failed read: a damaged dump) gets a small cache: a
  // fresh 1 MB one each time made the fuzzer's damaged inputs mostly page faults.
  if (auto c = configure_context(ctx_, reopens_ ? kReopenedCacheEntries : kPageCacheEntries); !c) return c;
  kdump_status s = kdump_open_fd(ctx_, ctx_fd_);
  if (s != KDUMP_OK) {
    const char* err = kdump_get_err(ctx_);
    std::string why = err ? err : kdump_strerror(s);
    disarm_failed_context();
    if (s == KDUMP_ERR_NOTIMPL) return fail(ErrorKind::Format, "not a vmcore (no known dump format): " + why);
    return fail(ErrorKind::Format, "cannot open the dump: " + why);
  }
  // Without the OS type addrxlat cannot build the kernel's page-table translation
  // ("Cannot determine 5-level paging").
  if (kdump_set_string_attr(ctx_, KDUMP_ATTR_OSTYPE, "linux") != KDUMP_OK && reopens_ == 0)
    notes_.push_back(std::string("cannot set OS type linux: ") + kdump_get_err(ctx_));

  kdump_attr_t attr;
  kdump_num_t max_pfn = 0;
  if (kdump_get_attr(ctx_, KDUMP_ATTR_FILE_PAGEMAP, &attr) == KDUMP_OK && attr.type == KDUMP_BITMAP &&
      kdump_get_number_attr(ctx_, "max_pfn", &max_pfn) == KDUMP_OK) {
    pagemap_ = attr.val.bitmap;
    kdump_bmp_incref(pagemap_);
    max_pfn_ = max_pfn;
    // None without VMCOREINFO's page-table symbols: kernel virtual reads then fail here
    // (read()), as they would in the library.
    if (kdump_get_addrxlat(ctx_, &axctx_, &axsys_) != KDUMP_OK) {
      axctx_ = nullptr;
      axsys_ = nullptr;
    }
  } else {
    // Without a page map every failed read is a suspect cache (reopen_context()).
    kdump_set_number_attr(ctx_, KDUMP_ATTR_ZERO_EXCLUDED, 0);
  }
  kdump_clear_err(ctx_);
  return {};
}

void DumpFile::release_context() {
  if (axctx_) addrxlat_ctx_decref(axctx_);
  if (axsys_) addrxlat_sys_decref(axsys_);
  if (pagemap_) kdump_bmp_decref(pagemap_);
  axctx_ = nullptr;
  axsys_ = nullptr;
  pagemap_ = nullptr;
  if (ctx_) kdump_free(ctx_);
  ctx_ = nullptr;
}

void DumpFile::reopen_context() {
  release_context();
  if (reopens_ >= kMaxReopens) return;
  reopens_++;
  if (!new_context()) release_context();
}

// The n-th dumped page is the n-th set bit of the page map (kdump-compressed: the
// descriptor table follows the bitmap of dumped pages).
void DumpFile::refuse_descriptors(const std::vector<uint64_t>& bad, const std::vector<uint64_t>& past_eof) {
  if (!pagemap_ || (bad.empty() && past_eof.empty())) return;
  std::vector<std::pair<uint64_t, bool>> wanted;  // (descriptor index, past the end)
  for (uint64_t i : bad) wanted.emplace_back(i, false);
  for (uint64_t i : past_eof) wanted.emplace_back(i, true);
  std::sort(wanted.begin(), wanted.end());
  kdump_addr_t pfn = 0;
  uint64_t index = 0;
  for (const auto& [want, eof] : wanted) {
    while (true) {
      kdump_addr_t at = pfn;
      if (kdump_bmp_find_set(pagemap_, &at) != KDUMP_OK || at >= max_pfn_) return;
      if (index == want) {
        refused_.push_back({at, eof});
        pfn = at + 1;
        index++;
        break;
      }
      pfn = at + 1;
      index++;
    }
  }
}

Result<void> DumpFile::read(uint64_t kvaddr, std::span<std::byte> out) {
  if (!ctx_) return fail(ErrorKind::Fault, unreadable_message(), kvaddr);
  if (!pagemap_) return read_unguarded(KDUMP_KVADDR, kvaddr, out);
  if (!axctx_) {
    auto e = Error(ErrorKind::Fault, "read " + hex_text(kvaddr) + ": address not mapped (no kernel page-table "
                   "translation: VMCOREINFO lacks what libkdumpfile needs for it)", kvaddr);
    note_damage(KDUMP_ERR_ADDRXLAT, e);
    return tl::unexpected(e);
  }
  if (out.size() >= kParallelReadBytes)
    if (auto parallel = read_in_parallel(kvaddr, out)) return *parallel;
  size_t done = 0;
  while (done < out.size()) {
    uint64_t va = kvaddr + done;
    size_t n = std::min<uint64_t>(out.size() - done, kPageSize - (va & (kPageSize - 1)));
    auto pa = kernel_phys(va);
    if (!pa) return tl::unexpected(pa.error());
    auto r = read_page(*pa, out.subspan(done, n), va);
    if (!r) return r;
    done += n;
  }
  return {};
}

Result<uint64_t> DumpFile::kernel_phys(uint64_t va) {
  addrxlat_fulladdr_t fa;
  fa.addr = va;
  fa.as = ADDRXLAT_KVADDR;
  addrxlat_status st = addrxlat_fulladdr_conv(&fa, ADDRXLAT_KPHYSADDR, axctx_, axsys_);
  if (st == ADDRXLAT_OK) return fa.addr;
  const char* err = addrxlat_ctx_get_err(axctx_);
  std::string why = std::string("address not mapped (") + (err ? err : "no translation") + ")";
  addrxlat_ctx_clear_err(axctx_);
  auto e = Error(ErrorKind::Fault, "read " + hex_text(va) + ": " + why, va);
  note_damage(KDUMP_ERR_ADDRXLAT, e);
  // Not present or no translation: nothing was read. Anything else failed a page-table
  // read inside the library, whose cache is then suspect: no second try through it.
  if (st != ADDRXLAT_ERR_NOTPRESENT && st != ADDRXLAT_ERR_NOMETH && st != ADDRXLAT_ERR_INVALID) reopen_context();
  return tl::unexpected(e);
}

Result<void> DumpFile::read_phys(uint64_t paddr, std::span<std::byte> out) {
  if (!ctx_) return fail(ErrorKind::Fault, unreadable_message(), paddr);
  if (!pagemap_) return read_unguarded(KDUMP_KPHYSADDR, paddr, out);
  size_t done = 0;
  while (done < out.size()) {
    uint64_t pa = paddr + done;
    size_t n = std::min<uint64_t>(out.size() - done, kPageSize - (pa & (kPageSize - 1)));
    auto r = read_page(pa, out.subspan(done, n), pa);
    if (!r) return r;
    done += n;
  }
  return {};
}

bool DumpFile::page_readable(uint64_t pfn) const {
  unsigned char bit = 0;
  if (pfn >= max_pfn_ || kdump_bmp_get_bits(pagemap_, pfn, pfn, &bit) != KDUMP_OK || !(bit & 1)) return false;
  auto it = std::lower_bound(refused_.begin(), refused_.end(), std::pair<uint64_t, bool>{pfn, false});
  return (it == refused_.end() || it->first != pfn) && !failed_pages_.contains(pfn);
}

// One physical page (or part of one); `shown` is the address the caller asked for.
Result<void> DumpFile::read_page(uint64_t paddr, std::span<std::byte> out, uint64_t shown) {
  uint64_t pfn = paddr / kPageSize;
  unsigned char bit = 0;
  if (pfn >= max_pfn_ || kdump_bmp_get_bits(pagemap_, pfn, pfn, &bit) != KDUMP_OK || !(bit & 1))
    return fail(ErrorKind::Fault, "read " + hex_text(shown) + ": page excluded from dump", shown);
  auto it = std::lower_bound(refused_.begin(), refused_.end(), std::pair<uint64_t, bool>{pfn, false});
  if (it != refused_.end() && it->first == pfn) {
    auto e = it->second ? Error(ErrorKind::Fault, "read " + hex_text(shown) + ": page beyond the end of a truncated dump", shown)
                        : Error(ErrorKind::Fault, "read " + hex_text(shown) + ": corrupt page data (damaged page descriptor)", shown);
    note_damage(it->second ? KDUMP_ERR_EOF : KDUMP_ERR_CORRUPT, e);
    return tl::unexpected(e);
  }
  if (auto failed = failed_pages_.find(pfn); failed != failed_pages_.end()) {
    auto e = Error(ErrorKind::Fault, "read " + hex_text(shown) + ": " + failed->second.second, shown);
    note_damage(failed->second.first, e);
    return tl::unexpected(e);
  }
  if (const std::byte* page = direct_page(pfn)) {
    std::memcpy(out.data(), page + (paddr & (kPageSize - 1)), out.size());
    return {};
  }
  size_t len = out.size();
  kdump_status s = kdump_read(ctx_, KDUMP_KPHYSADDR, paddr, out.data(), &len);
  if (s == KDUMP_OK) return {};
  std::string why = failure_reason(ctx_, s);
  auto r = read_failure(why, shown);
  note_damage(s, r.error());
  // No kernel-physical to machine mapping (a dump without usable VMCOREINFO): no page
  // was read, the cache is whole.
  if (s == KDUMP_ERR_ADDRXLAT) return r;
  // Answered from here on: one reopen per damaged page, however often it is read.
  failed_pages_[pfn] = {s, std::move(why)};
  reopen_context();
  return r;
}

Result<void> DumpFile::read_unguarded(int space, uint64_t addr, std::span<std::byte> out) {
  size_t len = out.size();
  kdump_status s = kdump_read(ctx_, static_cast<kdump_addrspace_t>(space), addr, out.data(), &len);
  if (s == KDUMP_OK) return {};
  auto r = read_failure(failure_reason(ctx_, s), addr + len);
  note_damage(s, r.error());
  // A physical address without a kernel-physical mapping read no page.
  if (!(space == KDUMP_KPHYSADDR && s == KDUMP_ERR_ADDRXLAT)) reopen_context();
  return r;
}

std::string DumpFile::unreadable_message() const {
  return "the dump is no longer read: " + std::to_string(reopens_) +
         " page reads failed inside libkdumpfile (corrupt pages), and each left its page cache suspect";
}

// An excluded page (makedumpfile -d) or an address nothing maps is the dump as it was
// meant to be; data that is there but cannot be read is damage, and every report that
// read through it must say so.
void DumpFile::note_damage(int status, const Error& e) {
  const char* cause = nullptr;
  std::string_view msg = e.message();
  switch (status) {
    case KDUMP_OK:
    case KDUMP_ERR_NODATA: return;
    case KDUMP_ERR_ADDRXLAT:
      // A page-table page that is itself corrupt or cut off fails the translation.
      if (msg.find("orrupt") == std::string_view::npos && msg.find("ecompress") == std::string_view::npos &&
          msg.find("EOF") == std::string_view::npos && msg.find("Wrong") == std::string_view::npos &&
          msg.find("Cannot read page data") == std::string_view::npos)
        return;
      cause = "page-table reads through damaged pages";
      break;
    case KDUMP_ERR_EOF: cause = "reads past the end of the truncated file"; break;
    case KDUMP_ERR_CORRUPT: cause = "reads of corrupt page data"; break;
    default: cause = "reads that failed"; break;
  }
  auto& d = damage_[cause];
  if (d.count++ == 0) {
    d.first_address = e.address().value_or(0);
    d.first_message = std::string(msg);
  }
}

std::vector<std::string> DumpFile::read_problems() const {
  std::vector<std::string> out;
  for (const auto& [cause, d] : damage_)
    out.push_back(std::to_string(d.count) + " " + cause + " (first: " + d.first_message + "): the items read there are missing or incomplete");
  if (!ctx_) out.push_back(unreadable_message());
  return out;
}

}  // namespace kstuck
