// SPDX-License-Identifier: GPL-2.0
// check_dump_headers: kdump-compressed and ELF core headers against the file's size.
#include "analysis/kdump_target/header_check.h"

#include <elf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <span>

#include "analysis/kdump_target/bit_count.h"
#include "analysis/kdump_target/input_file.h"

namespace kstuck {
namespace {

// Far above any real machine; only hostile headers come near.
constexpr uint64_t kMaxCpus = 8192;
constexpr uint64_t kMaxNoteBytes = 64 << 20;

template <typename T>
T get(const unsigned char* p, size_t off) {
  T v;
  std::memcpy(&v, p + off, sizeof(v));
  return v;
}

Error bad(const std::string& what) { return Error(ErrorKind::Format, "corrupt dump header: " + what); }

constexpr uint32_t kCompressedFlags = 0x1 | 0x2 | 0x4 | 0x20;  // zlib, lzo, snappy, zstd
constexpr uint64_t kMaxCheckedDescriptors = uint64_t{1} << 24;  // 384 MiB of descriptors

// Every page descriptor against the file and the block size: libkdumpfile 0.5.1 reads a
// compressed page's data by the descriptor's size into a block-sized buffer, and follows
// an offset anywhere. A descriptor whose data cannot be a page is listed in bad_descriptors
// (DumpFile then hides it from libkdumpfile); data past the end of a truncated file is
// the truncation note's, read as a failed read.
Result<void> check_descriptors(int fd, uint64_t file_size, uint64_t bs, uint64_t descs, uint64_t dumped,
                               bool truncated, HeaderCheck& out) {
  constexpr uint64_t kDescSize = 24;
  uint64_t count = std::min(dumped, kMaxCheckedDescriptors);
  if (descs > file_size) return {};
  count = std::min(count, (file_size - descs) / kDescSize);
  // Uninitialized and under ASan's 128 KiB size classes: the damaged-dump fuzzer opens
  // thousands of dumps a minute, and a zeroed 192 KiB buffer each was most of its time.
  constexpr size_t kBufSize = kDescSize * 2048;
  auto storage = std::make_unique_for_overwrite<unsigned char[]>(kBufSize);
  std::span<unsigned char> buf(storage.get(), kBufSize);
  uint64_t first_bad = 0, past_eof = 0, first_past_eof = 0, lowest_data = UINT64_MAX;
  std::string first_why;
  for (uint64_t i = 0; i < count;) {
    uint64_t n = std::min<uint64_t>(count - i, buf.size() / kDescSize);
    auto m = pread_full(fd, buf.data(), n * kDescSize, descs + i * kDescSize);
    if (!m) return tl::unexpected(m.error());
    n = *m / kDescSize;
    if (n == 0) break;
    for (uint64_t k = 0; k < n; k++) {
      const unsigned char* d = buf.data() + k * kDescSize;
      uint64_t off = get<uint64_t>(d, 0);
      uint32_t size = get<uint32_t>(d, 8), flags = get<uint32_t>(d, 12);
      std::string why;
      if ((flags & kCompressedFlags) && (size == 0 || size > bs)) {
        why = "compressed size " + std::to_string(size) + " outside 1.." + std::to_string(bs);
      } else if (off >= (uint64_t{1} << 62) || size > (uint64_t{1} << 30)) {
        why = "data at byte " + std::to_string(off) + " size " + std::to_string(size);
      }
      uint64_t at = descs + (i + k) * kDescSize;
      if (why.empty()) {
        lowest_data = std::min(lowest_data, off);
        // Past the end: a truncated file (said once, by the caller) or a wild offset;
        // libkdumpfile's read of it fails cleanly and counts as a damaged read.
        if (off + size > file_size) {
          if (past_eof++ == 0) first_past_eof = at;
          out.past_eof_descriptor_indexes.push_back(i + k);
        }
        continue;
      }
      if (out.bad_descriptors.empty()) {
        first_bad = at;
        first_why = why;
      }
      out.bad_descriptors.push_back(at);
      out.bad_descriptor_indexes.push_back(i + k);
    }
    i += n;
  }
  if (!out.bad_descriptors.empty())
    out.notes.push_back(std::to_string(out.bad_descriptors.size()) + " page descriptor" +
                        (out.bad_descriptors.size() == 1 ? " is" : "s are") + " damaged (first at byte " +
                        std::to_string(first_bad) + ": " + first_why + "): those pages read as corrupt");
  // makedumpfile and QEMU write the page data right after the descriptor table, the
  // lowest page at its end or one uncompressed zero page (makedumpfile -d 1) after it. A
  // flipped bit in the bitmap of dumped pages adds or drops a descriptor: from that page
  // frame on every page would read its neighbour's data, silently. The table's end then
  // misses the data by a descriptor or more.
  uint64_t table_end = descs + count * kDescSize;
  if (count == dumped && lowest_data != UINT64_MAX && lowest_data != table_end && lowest_data != table_end + bs) {
    int64_t miss = static_cast<int64_t>(lowest_data - table_end);
    out.notes.push_back("the bitmap of dumped pages counts " + std::to_string(dumped) +
                        " pages but the page data begins " + std::to_string(miss) +
                        " bytes from the end of their descriptor table (bitmap damaged?): pages may read another "
                        "page's data");
  }
  if (past_eof && !truncated)
    out.notes.push_back(std::to_string(past_eof) + " page descriptor" + (past_eof == 1 ? " points" : "s point") +
                        " past the end of the file though the file is not cut short (first at byte " +
                        std::to_string(first_past_eof) + "): those pages are unreadable");
  if (dumped > count)
    out.notes.push_back("only the first " + std::to_string(count) + " of " + std::to_string(dumped) +
                        " page descriptors were checked against the file");
  return {};
}

// disk_dump_header (makedumpfile diskdump_mod.h, x86-64 layout) and kdump_sub_header.
Result<HeaderCheck> check_diskdump(int fd, uint64_t file_size) {
  HeaderCheck out;
  unsigned char h[464];
  auto n = pread_full(fd, h, sizeof(h), 0);
  if (!n) return tl::unexpected(n.error());
  if (*n < sizeof(h)) return tl::unexpected(bad("kdump header is cut short"));
  int32_t version = get<int32_t>(h, 8);
  int32_t block_size = get<int32_t>(h, 428);
  int32_t sub_hdr_size = get<int32_t>(h, 432);
  uint32_t bitmap_blocks = get<uint32_t>(h, 436);
  uint64_t max_mapnr = get<uint32_t>(h, 440);
  int32_t nr_cpus = get<int32_t>(h, 460);
  if (block_size < 4096 || block_size > (1 << 20) || (block_size & (block_size - 1)))
    return tl::unexpected(bad("block size " + std::to_string(block_size)));
  // makedumpfile writes versions 1 to 6 (0: the old diskdump); libkdumpfile 0.5.1 refuses
  // a negative one and then crashes freeing what its failed open left behind.
  if (version < 0 || version > 64) return tl::unexpected(bad("header version " + std::to_string(version)));
  uint64_t bs = static_cast<uint64_t>(block_size);
  if (nr_cpus < 0 || static_cast<uint64_t>(nr_cpus) > kMaxCpus)
    return tl::unexpected(bad("CPU count " + std::to_string(nr_cpus)));
  if (sub_hdr_size < 0 || static_cast<uint64_t>(sub_hdr_size) > file_size / bs)
    return tl::unexpected(bad("sub-header size " + std::to_string(sub_hdr_size) + " blocks"));
  uint64_t bitmap_end = (1 + static_cast<uint64_t>(sub_hdr_size) + bitmap_blocks) * bs;
  if (bitmap_blocks == 0 || bitmap_end > file_size)
    return tl::unexpected(bad(std::to_string(bitmap_blocks) + " bitmap blocks do not fit in the " +
                              std::to_string(file_size) + "-byte file (truncated?)"));
  // libkdumpfile reads the sub-header's VMCOREINFO from version 3 on and its notes and
  // ERASEINFO from version 4 on, whatever sub_hdr_size says, each whole into memory by
  // the sizes it holds (a version-5 header with a 15 GB note size made it malloc 15 GB).
  if (version >= 3) {
    unsigned char s[104];
    auto m = pread_full(fd, s, sizeof(s), bs);
    if (!m) return tl::unexpected(m.error());
    if (*m < sizeof(s)) return tl::unexpected(bad("kdump sub-header is cut short"));
    if (version >= 6) {
      uint64_t mapnr64 = get<uint64_t>(s, 96);
      if (mapnr64) max_mapnr = mapnr64;
    }
    for (auto [off_at, size_at, what, since] : {std::tuple{32, 40, "VMCOREINFO", 3}, std::tuple{48, 56, "ELF notes", 4},
                                                std::tuple{64, 72, "ERASEINFO", 4}}) {
      uint64_t off = get<uint64_t>(s, off_at), size = get<uint64_t>(s, size_at);
      if (version < since || size == 0) continue;
      if (size > kMaxNoteBytes || off > file_size || size > file_size - off)
        return tl::unexpected(bad(std::string(what) + " at " + std::to_string(off) + " size " + std::to_string(size)));
    }
    uint64_t vi_off = get<uint64_t>(s, 32), vi_size = get<uint64_t>(s, 40);
    if (vi_size > 0) {
      out.vmcoreinfo.resize(static_cast<size_t>(vi_size));
      auto r = pread_full(fd, out.vmcoreinfo.data(), out.vmcoreinfo.size(), vi_off);
      if (r && *r == out.vmcoreinfo.size())
        out.vmcoreinfo_offset = vi_off;
      else
        out.vmcoreinfo.clear();
    }
    // Header version 4 on keeps the ELF notes (CPU registers, VMCOREINFO) after the sub-header.
    uint64_t note_off = get<uint64_t>(s, 48), note_size = get<uint64_t>(s, 56);
    if (version >= 4 && note_size > 0) {
      out.note_area.resize(static_cast<size_t>(note_size));
      auto r = pread_full(fd, out.note_area.data(), out.note_area.size(), note_off);
      if (r && *r == out.note_area.size()) {
        out.note_area_read = true;
        out.note_area_offset = note_off;
        out.note_size_field = bs + 56;
      } else {
        out.note_area.clear();
      }
    }
  }
  out.block_size = static_cast<uint32_t>(bs);
  // libkdumpfile checks the header's 32-bit max_mapnr whatever the sub-header says.
  uint64_t max_mapnr32 = get<uint32_t>(h, 440);
  if (max_mapnr32 > bitmap_blocks * bs * 8)
    return tl::unexpected(bad("max_mapnr " + std::to_string(max_mapnr32) + " exceeds the bitmaps"));
  // Each of the two bitmaps has a bit per page frame.
  if (max_mapnr > (bitmap_blocks * bs * 8))
    return tl::unexpected(bad("max_mapnr " + std::to_string(max_mapnr) + " exceeds the bitmaps"));

  // A truncated file keeps its headers but loses page data, which libkdumpfile then
  // reports as corrupt pages: say so once. The second bitmap (dumped pages) counts the
  // page descriptors; the last descriptor says where the data should end.
  std::vector<std::string>& notes = out.notes;
  uint64_t half = bitmap_blocks * bs / 2, dumped = 0;
  uint64_t bitmap2 = (1 + static_cast<uint64_t>(sub_hdr_size)) * bs + half;
  auto storage = std::make_unique_for_overwrite<unsigned char[]>(1 << 16);
  std::span<unsigned char> buf(storage.get(), 1 << 16);
  for (uint64_t done = 0; done < half;) {
    size_t chunk = static_cast<size_t>(std::min<uint64_t>(buf.size(), half - done));
    auto m = pread_full(fd, buf.data(), chunk, bitmap2 + done);
    if (!m) return tl::unexpected(m.error());
    if (*m < chunk) break;
    dumped += count_set_bits(buf.data(), chunk);
    done += chunk;
  }
  constexpr uint64_t kDescSize = 24;  // page_desc {offset, size, flags, page_flags}
  uint64_t descs = bitmap_end, descs_end = descs + dumped * kDescSize;
  uint64_t data_end = descs_end;
  if (dumped > 0 && descs_end <= file_size) {
    // Data follows descriptor order, except that zero pages share one early copy: the
    // last few hundred descriptors find the end without reading them all.
    uint64_t tail = std::min<uint64_t>(dumped, 512);
    std::vector<unsigned char> d(tail * kDescSize);
    auto m = pread_full(fd, d.data(), d.size(), descs_end - d.size());
    if (!m) return tl::unexpected(m.error());
    for (uint64_t i = 0; i + kDescSize <= *m; i += kDescSize)
      data_end = std::max(data_end, get<uint64_t>(d.data(), i) + get<uint32_t>(d.data(), i + 8));
  }
  if (data_end > file_size)
    notes.push_back("dump truncated: the file ends at byte " + std::to_string(file_size) + " but its pages extend to " +
                    std::to_string(data_end) + "; reads of the missing pages fail");
  if (auto r = check_descriptors(fd, file_size, bs, descs, dumped, data_end > file_size, out); !r)
    return tl::unexpected(r.error());
  out.descriptors_offset = descs;
  out.dumped_pages = dumped;
  return out;
}

Result<HeaderCheck> check_elf(int fd, uint64_t file_size) {
  HeaderCheck out;
  Elf64_Ehdr eh;
  auto n = pread_full(fd, &eh, sizeof(eh), 0);
  if (!n) return tl::unexpected(n.error());
  if (*n < sizeof(eh)) return tl::unexpected(bad("ELF header is cut short"));
  if (eh.e_ident[EI_CLASS] != ELFCLASS64) return out;  // not ours to judge; libkdumpfile decides
  if (eh.e_type != ET_CORE) return tl::unexpected(Error(ErrorKind::Format, "not a vmcore: an ELF file, but not a core dump"));
  uint64_t phnum = eh.e_phnum;
  if (phnum == PN_XNUM) {  // the real count is in section header 0's sh_info
    Elf64_Shdr sh0;
    auto m = pread_full(fd, &sh0, sizeof(sh0), eh.e_shoff);
    if (!m) return tl::unexpected(m.error());
    if (eh.e_shoff == 0 || *m < sizeof(sh0)) return tl::unexpected(bad("extended program header count unreadable"));
    phnum = sh0.sh_info;
  }
  if (eh.e_phentsize != sizeof(Elf64_Phdr) || phnum == 0) return tl::unexpected(bad("no program headers"));
  if (eh.e_phoff > file_size || phnum > (file_size - eh.e_phoff) / sizeof(Elf64_Phdr))
    return tl::unexpected(bad(std::to_string(phnum) + " program headers do not fit in the file"));
  uint64_t cut = 0;
  Elf64_Phdr ph;
  for (uint64_t i = 0; i < phnum; i++) {
    auto m = pread_full(fd, &ph, sizeof(ph), eh.e_phoff + i * sizeof(ph));
    if (!m) return tl::unexpected(m.error());
    if (*m < sizeof(ph)) return tl::unexpected(bad("program header cut short"));
    bool fits = ph.p_offset <= file_size && ph.p_filesz <= file_size - ph.p_offset;
    if (ph.p_type == PT_NOTE && (!fits || ph.p_filesz > kMaxNoteBytes))
      return tl::unexpected(bad("note segment at " + std::to_string(ph.p_offset) + " size " + std::to_string(ph.p_filesz)));
    if (ph.p_type == PT_NOTE && out.note_area.size() + ph.p_filesz <= kMaxNoteBytes) {
      size_t at = out.note_area.size();
      out.note_area.resize(at + static_cast<size_t>(ph.p_filesz));
      auto r = pread_full(fd, out.note_area.data() + at, static_cast<size_t>(ph.p_filesz), ph.p_offset);
      if (!r || *r != ph.p_filesz) return tl::unexpected(bad("note segment at " + std::to_string(ph.p_offset) + " unreadable"));
      out.note_area_read = true;
    }
    if (ph.p_type == PT_LOAD && !fits) cut++;
  }
  if (cut) out.notes.push_back(std::to_string(cut) + " memory segments extend beyond the end of the file (truncated dump)");
  return out;
}

}  // namespace

Result<HeaderCheck> check_dump_headers(int fd) {
  auto file_size = input_file_size(fd);
  if (!file_size) return tl::unexpected(file_size.error());
  uint64_t size = *file_size;
  char magic[8] = {};
  auto n = pread_full(fd, magic, sizeof(magic), 0);
  if (!n) return tl::unexpected(n.error());
  if (*n == sizeof(magic) && (std::memcmp(magic, "KDUMP   ", 8) == 0 || std::memcmp(magic, "DISKDUMP", 8) == 0))
    return check_diskdump(fd, size);
  if (*n >= 4 && std::memcmp(magic, ELFMAG, SELFMAG) == 0) return check_elf(fd, size);
  return HeaderCheck{};
}

}  // namespace kstuck
