// SPDX-License-Identifier: GPL-2.0
// DumpFile's large reads (the kernel's BTF, its kallsyms tables), split between the
// context and a second libkdumpfile context in a second thread.
//
// Inflating pages is half of a no-vmlinux `analyze` on a compressed dump, and most of it
// happens in a few reads of hundreds of pages. libkdumpfile contexts are not
// thread-safe, but two contexts over two open file descriptions share nothing: the
// second thread reads the back half with its own. Only pages the guard has already
// found readable go to it (page_readable()); whatever it fails on is read again here,
// page by page, so damage is handled and reported the one way read_page() does.
#include <fcntl.h>
#include <libkdumpfile/kdumpfile.h>
#include <unistd.h>

#include <string>
#include <system_error>
#include <thread>

#include "analysis/kdump_target/dump_file.h"

namespace kstuck {
namespace {

constexpr uint64_t kPageSize = 4096;
// Its reads are long runs of pages read once: a small cache does.
constexpr uint64_t kHelperCacheEntries = 16;

struct Piece {
  uint64_t paddr;
  std::span<std::byte> out;
  uint64_t va;
};

}  // namespace

void DumpFile::release_helper() {
  if (helper_ctx_) kdump_free(helper_ctx_);
  helper_ctx_ = nullptr;
  if (helper_fd_ >= 0) ::close(helper_fd_);
  helper_fd_ = -1;
}

bool DumpFile::read_in_parallel(uint64_t kvaddr, std::span<std::byte> out) {
  if (helper_off_ || !ctx_ || !pagemap_ || !axctx_) return false;
  // Every piece translated and found readable first; anything else is read the usual
  // way, which says what is wrong where.
  std::vector<Piece> pieces;
  for (size_t done = 0; done < out.size();) {
    uint64_t va = kvaddr + done;
    size_t n = std::min<uint64_t>(out.size() - done, kPageSize - (va & (kPageSize - 1)));
    addrxlat_fulladdr_t fa;
    fa.addr = va;
    fa.as = ADDRXLAT_KVADDR;
    if (addrxlat_fulladdr_conv(&fa, ADDRXLAT_KPHYSADDR, axctx_, axsys_) != ADDRXLAT_OK) {
      addrxlat_ctx_clear_err(axctx_);
      return false;
    }
    if (!page_readable(fa.addr / kPageSize)) return false;
    pieces.push_back({fa.addr, out.subspan(done, n), va});
    done += n;
  }
  if (!helper_ctx_) {
    // Its own open file description (not a dup()): no shared file offset.
    helper_fd_ = ::open(("/proc/self/fd/" + std::to_string(ctx_fd_)).c_str(), O_RDONLY | O_CLOEXEC);
    helper_ctx_ = helper_fd_ >= 0 ? kdump_new() : nullptr;
    bool ok = helper_ctx_ && configure_context(helper_ctx_, kHelperCacheEntries) &&
              kdump_open_fd(helper_ctx_, helper_fd_) == KDUMP_OK &&
              kdump_set_string_attr(helper_ctx_, KDUMP_ATTR_OSTYPE, "linux") == KDUMP_OK;
    if (!ok) {
      release_helper();
      helper_off_ = true;
      return false;
    }
  }
  parallel_reads_++;
  size_t half = pieces.size() / 2;
  size_t helper_failed_at = pieces.size();  // the first piece the helper could not read
  auto helper_reads = [&] {
    for (size_t i = half; i < pieces.size(); ++i) {
      size_t len = pieces[i].out.size();
      if (kdump_read(helper_ctx_, KDUMP_KPHYSADDR, pieces[i].paddr, pieces[i].out.data(), &len) != KDUMP_OK) {
        helper_failed_at = i;
        return;
      }
    }
  };
  std::thread helper;
  try {
    helper = std::thread(helper_reads);
  } catch (const std::system_error&) {
    helper_off_ = true;  // no threads here: serial from now on
    return false;
  }
  Result<void> front;
  for (size_t i = 0; i < half && front; ++i) front = read_page(pieces[i].paddr, pieces[i].out, pieces[i].va);
  helper.join();
  if (!front) return false;  // read_page() noted the damage; the serial read reports it
  if (helper_failed_at < pieces.size()) {
    // Its cache may be broken as the main context's would be (dump_file_read.cpp).
    release_helper();
    helper_off_ = true;
    for (size_t i = helper_failed_at; i < pieces.size(); ++i)
      if (!read_page(pieces[i].paddr, pieces[i].out, pieces[i].va)) return false;
  }
  return true;
}

}  // namespace kstuck
