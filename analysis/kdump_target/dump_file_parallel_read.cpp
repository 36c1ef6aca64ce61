// SPDX-License-Identifier: GPL-2.0
// DumpFile's large reads (the kernel's BTF, its kallsyms tables). A kdump-compressed
// file's pages are read straight from the file (dump_file_direct_read.cpp); other
// formats, and compressions read only by libkdumpfile, are split between the context and
// a second libkdumpfile context in a second thread.
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

#include <optional>
#include <string>
#include <system_error>
#include <thread>

#include "analysis/kdump_target/dump_file.h"

namespace kstuck {
namespace {

constexpr uint64_t kPageSize = 4096;
// Its reads are long runs of pages read once: a small cache does.
constexpr uint64_t kHelperCacheEntries = 16;

}  // namespace

void DumpFile::release_helper() {
  if (helper_ctx_) kdump_free(helper_ctx_);
  helper_ctx_ = nullptr;
  if (helper_fd_ >= 0) ::close(helper_fd_);
  helper_fd_ = -1;
}

std::optional<Result<void>> DumpFile::read_in_parallel(uint64_t kvaddr, std::span<std::byte> out) {
  if (helper_off_ || !ctx_ || !pagemap_ || !axctx_) return std::nullopt;
  // Every piece translated and found readable first. A failed translation is the read's
  // error (kernel_phys() noted it, and reopened the context if the library read a page
  // table and failed); a page the guard would refuse is left to the page-by-page read,
  // which says what is wrong where.
  std::vector<Piece> pieces;
  for (size_t done = 0; done < out.size();) {
    uint64_t va = kvaddr + done;
    size_t n = std::min<uint64_t>(out.size() - done, kPageSize - (va & (kPageSize - 1)));
    auto pa = kernel_phys(va);
    if (!pa) return Result<void>(tl::unexpected(pa.error()));
    if (!page_readable(*pa / kPageSize)) return std::nullopt;
    pieces.push_back({*pa, out.subspan(done, n), va});
    done += n;
  }
  if (auto direct = read_direct(pieces)) return direct;
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
      return std::nullopt;
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
    return std::nullopt;
  }
  Result<void> front;
  for (size_t i = 0; i < half && front; ++i) front = read_page(pieces[i].paddr, pieces[i].out, pieces[i].va);
  helper.join();
  bool helper_failed = helper_failed_at < pieces.size();
  if (helper_failed) {
    // Its cache may be broken as the main context's would be (dump_file_read.cpp).
    release_helper();
    helper_off_ = true;
  }
  if (!front) return front;  // the first failure in address order, noted by read_page()
  if (helper_failed) {
    for (size_t i = helper_failed_at; i < pieces.size(); ++i)
      if (auto r = read_page(pieces[i].paddr, pieces[i].out, pieces[i].va); !r) return r;
  }
  return Result<void>();
}

}  // namespace kstuck
