// SPDX-License-Identifier: GPL-2.0
// DumpFile: the bytes of a vmcore through libkdumpfile (any format it or we can read).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "analysis/error.h"
#include "analysis/kdump_target/compressed_pages.h"
#include "analysis/target.h"

struct _kdump_ctx;
struct _kdump_bmp;
struct _addrxlat_ctx;
struct _addrxlat_sys;

namespace kstuck {

// One open dump. Owns the file descriptors (and the reassembled temporary file for a
// flattened stream) and the libkdumpfile context; not thread-safe, like libkdumpfile
// (its large reads use a second thread of their own, dump_file_parallel_read.cpp).
class DumpFile {
 public:
  ~DumpFile();
  DumpFile(const DumpFile&) = delete;
  DumpFile& operator=(const DumpFile&) = delete;

  static Result<std::unique_ptr<DumpFile>> open(const std::string& path);

  // Kernel virtual read; Fault with the first unreadable address on a filtered page,
  // a page beyond a truncated file or an unmapped address.
  Result<void> read(uint64_t kvaddr, std::span<std::byte> out);
  Result<void> read_phys(uint64_t paddr, std::span<std::byte> out);

  std::optional<std::string> vmcoreinfo(std::string_view key) const;
  const std::string& vmcoreinfo_raw() const { return vmcoreinfo_raw_; }

  // Reads that failed on damage (corrupt page data, a truncated file, a page table read
  // through them), one line per cause with its count and first failure; excluded pages
  // and unmapped addresses are not damage. Grows as the analysis reads.
  std::vector<std::string> read_problems() const;
  // How often a failed read inside libkdumpfile made kstuck open the dump again.
  int reopens() const { return reopens_; }
  // Large reads done by two contexts in two threads (dump_file_parallel_read.cpp).
  int parallel_reads() const { return parallel_reads_; }
  // Pages of large reads read straight from the file (compressed_pages.h), and whether
  // that is still done (it stops for good when a page disagrees with libkdumpfile).
  uint64_t direct_pages() const { return direct_pages_; }
  bool direct_reads_on() const { return direct_ && !direct_off_; }
  // Every page through libkdumpfile from now on (tests: its reading is the reference).
  void disable_direct_reads() { direct_off_ = true; }

  int cpu_count() const { return cpu_count_; }
  // The registers of the index-th register note (for QEMU: vCPU index; for a real
  // kdump: the index among the CPUs that saved a note, in CPU order). NotFound past the
  // last note; Format for a note libkdumpfile could not read registers from.
  Result<CpuRegisters> cpu_registers(int index) const;

  // libkdumpfile's format name ("diskdump", "elf", ...), plus "flattened " when we
  // reassembled it, and its description ("Compressed KDUMP").
  const std::string& format() const { return format_; }
  const std::string& description() const { return description_; }
  // Work-arounds applied while opening (QEMU's empty utsname, truncation, ...).
  const std::vector<std::string>& notes() const { return notes_; }

 private:
  DumpFile() = default;
  Result<void> open_context(int fd, bool arch_unknown);
  Result<void> load_cpu_registers();
  void disarm_failed_context();
  Result<int> patched_copy(int fd, const std::vector<std::pair<uint64_t, std::vector<unsigned char>>>& patches);
  void use_own_notes(const std::vector<std::byte>& area);
  void note_damage(int status, const Error& e);
  // dump_file_read.cpp: the context and the reads that keep libkdumpfile's cache whole.
  Result<void> configure_context(_kdump_ctx* ctx, uint64_t cache_entries) const;
  Result<void> new_context();
  void release_context();
  void reopen_context();
  void refuse_descriptors(const std::vector<uint64_t>& bad, const std::vector<uint64_t>& past_eof);
  Result<void> read_page(uint64_t paddr, std::span<std::byte> out, uint64_t shown);
  // In the file, not refused, not failed before: a read the library will not fail
  // unless the page's data is corrupt.
  bool page_readable(uint64_t pfn) const;
  // The physical address of a kernel virtual one; a failure is noted as read() would.
  Result<uint64_t> kernel_phys(uint64_t va);
  // dump_file_parallel_read.cpp: a large read split between this context and a second
  // one in another thread, and its outcome; nullopt: not done that way (the caller reads
  // it page by page).
  static constexpr size_t kParallelReadBytes = 128 * 1024;
  std::optional<Result<void>> read_in_parallel(uint64_t kvaddr, std::span<std::byte> out);
  struct Piece {
    uint64_t paddr;
    std::span<std::byte> out;
    uint64_t va;
  };
  // dump_file_direct_read.cpp: the pieces read straight from the file in threads;
  // nullopt: not done that way.
  std::optional<Result<void>> read_direct(const std::vector<Piece>& pieces);
  // The n-th page the dump holds is page frame pfn (the rank of its bit in pagemap_).
  std::optional<uint64_t> dumped_index(uint64_t pfn);
  // A readable page read straight from the file, kept in a small cache of such pages;
  // null: for libkdumpfile to read (not a zlib or stored page, damaged, or turned off).
  const std::byte* direct_page(uint64_t pfn);
  // The first page read straight from the file, against libkdumpfile's reading of it:
  // false (and turned off for good) when they differ.
  bool direct_agrees(uint64_t pfn, std::span<const std::byte> page);
  void release_helper();
  Result<void> read_unguarded(int space, uint64_t addr, std::span<std::byte> out);
  std::string unreadable_message() const;

  struct Damage {
    uint64_t count = 0;
    uint64_t first_address = 0;
    std::string first_message;
  };
  std::map<std::string, Damage, std::less<>> damage_;

  _kdump_ctx* ctx_ = nullptr;  // null after a failed reopen: nothing more is read
  int ctx_fd_ = -1;             // what libkdumpfile reads (fd_, or the private copy)
  bool arch_unknown_ = false;
  _kdump_bmp* pagemap_ = nullptr;  // pages the file holds; null: reads unguarded
  uint64_t max_pfn_ = 0;
  _addrxlat_ctx* axctx_ = nullptr;
  _addrxlat_sys* axsys_ = nullptr;
  std::vector<std::pair<uint64_t, bool>> refused_;  // (pfn, past the end of the file), sorted
  std::map<uint64_t, std::pair<int, std::string>> failed_pages_;  // pfn -> (kdump_status, why)
  int reopens_ = 0;
  _kdump_ctx* helper_ctx_ = nullptr;  // the second context of read_in_parallel, used by its thread only
  int helper_fd_ = -1;
  bool helper_off_ = false;  // it failed once (open or a read): large reads stay serial
  int parallel_reads_ = 0;
  std::unique_ptr<CompressedPages> direct_;  // kdump-compressed files only
  bool direct_checked_ = false;  // its first page was compared with libkdumpfile's
  bool direct_off_ = false;
  uint64_t direct_pages_ = 0;
  std::vector<uint64_t> rank_;  // set bits of pagemap_ below each kRankBlock-th pfn, as far as known
  std::unique_ptr<PageInflater> inflater_;  // this thread's, for direct_page()
  std::unique_ptr<std::byte[]> page_cache_;  // kDirectCachePages pages, slot = pfn % kDirectCachePages
  std::vector<uint64_t> page_cache_pfn_;     // each slot's pfn, or UINT64_MAX
  int fd_ = -1;   // the file given
  int tmp_fd_ = -1;  // the reassembled flattened stream, or the copy with damaged descriptors hidden
  std::string format_;
  std::string description_;
  std::string vmcoreinfo_raw_;
  std::map<std::string, std::string, std::less<>> vmcoreinfo_;
  std::vector<std::optional<CpuRegisters>> cpu_regs_;
  int cpu_count_ = 0;
  std::vector<std::string> notes_;
};

}  // namespace kstuck
