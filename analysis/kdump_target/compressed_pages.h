// SPDX-License-Identifier: GPL-2.0
// The pages of a kdump-compressed dump read straight from the file and inflated with
// libdeflate, for DumpFile's large reads (the kernel's BTF, its kallsyms tables).
//
// libkdumpfile inflates with zlib's streaming inflate(), a page at a time: that was half
// of a no-vmlinux `analyze`. libdeflate inflates the same pages in half the time (8.7
// against 17.3 us a page of BTF, bench host), and a page needs nothing libkdumpfile
// keeps: its descriptor says where its data is and how it is stored. Only zlib pages and
// stored (uncompressed) ones are read here; anything else, or anything that does not
// come out as exactly one page, is left to libkdumpfile, which says what is wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

struct libdeflate_decompressor;

namespace kstuck {

// One thread's inflater (libdeflate's state is not shared between threads).
class PageInflater {
 public:
  PageInflater();
  ~PageInflater();
  PageInflater(const PageInflater&) = delete;
  PageInflater& operator=(const PageInflater&) = delete;
  explicit operator bool() const { return d_ != nullptr; }
  libdeflate_decompressor* get() const { return d_; }

 private:
  libdeflate_decompressor* d_;
};

class CompressedPages {
 public:
  // fd: the file as libkdumpfile reads it; the descriptor table (24 bytes a dumped page,
  // in page frame order) at `descriptors`, `count` of them; pages of `page_size` bytes.
  CompressedPages(int fd, uint64_t descriptors, uint64_t count, uint64_t file_size, uint32_t page_size)
      : fd_(fd), descriptors_(descriptors), count_(count), file_size_(file_size), page_size_(page_size) {}

  // The dumped pages indexes[i] (the n-th page the dump holds) into pages[i] (whole
  // pages). ok[i] says which came out; the others are for libkdumpfile to read.
  // Thread-safe: pread() and the caller's own inflater.
  void read(std::span<const uint64_t> indexes, std::span<const std::span<std::byte>> pages, std::span<bool> ok,
            PageInflater& inflater) const;
  uint32_t page_size() const { return page_size_; }

 private:
  bool read_one(uint64_t offset, uint32_t size, uint32_t flags, std::span<std::byte> page, std::vector<std::byte>& data,
                PageInflater& inflater) const;

  int fd_;
  uint64_t descriptors_;
  uint64_t count_;
  uint64_t file_size_;
  uint32_t page_size_;
};

}  // namespace kstuck
