// SPDX-License-Identifier: GPL-2.0
// check_dump_headers: kdump-compressed and ELF core headers against the file's size.
#include "analysis/kdump_target/header_check.h"

#include <elf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

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

Result<size_t> pread_some(int fd, void* buf, size_t size, uint64_t off) {
  ssize_t n;
  do {
    n = ::pread(fd, buf, size, static_cast<off_t>(off));
  } while (n < 0 && errno == EINTR);
  if (n < 0) return fail(ErrorKind::Os, std::string("read: ") + std::strerror(errno));
  return static_cast<size_t>(n);
}

Error bad(const std::string& what) { return Error(ErrorKind::Format, "corrupt dump header: " + what); }

// disk_dump_header (makedumpfile diskdump_mod.h, x86-64 layout) and kdump_sub_header.
Result<std::vector<std::string>> check_diskdump(int fd, uint64_t file_size) {
  unsigned char h[464];
  auto n = pread_some(fd, h, sizeof(h), 0);
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
  uint64_t bs = static_cast<uint64_t>(block_size);
  if (nr_cpus < 0 || static_cast<uint64_t>(nr_cpus) > kMaxCpus)
    return tl::unexpected(bad("CPU count " + std::to_string(nr_cpus)));
  if (sub_hdr_size < 0 || static_cast<uint64_t>(sub_hdr_size) > file_size / bs)
    return tl::unexpected(bad("sub-header size " + std::to_string(sub_hdr_size) + " blocks"));
  uint64_t bitmap_end = (1 + static_cast<uint64_t>(sub_hdr_size) + bitmap_blocks) * bs;
  if (bitmap_blocks == 0 || bitmap_end > file_size)
    return tl::unexpected(bad(std::to_string(bitmap_blocks) + " bitmap blocks do not fit in the " +
                              std::to_string(file_size) + "-byte file (truncated?)"));
  if (version >= 6 && sub_hdr_size > 0) {
    unsigned char s[104];
    auto m = pread_some(fd, s, sizeof(s), bs);
    if (!m) return tl::unexpected(m.error());
    if (*m < sizeof(s)) return tl::unexpected(bad("kdump sub-header is cut short"));
    uint64_t mapnr64 = get<uint64_t>(s, 96);
    if (mapnr64) max_mapnr = mapnr64;
    // Notes and VMCOREINFO are read whole into memory.
    for (auto [off_at, size_at, what] : {std::tuple{32, 40, "VMCOREINFO"}, std::tuple{48, 56, "ELF notes"}}) {
      uint64_t off = get<uint64_t>(s, off_at), size = get<uint64_t>(s, size_at);
      if (size == 0) continue;
      if (size > kMaxNoteBytes || off > file_size || size > file_size - off)
        return tl::unexpected(bad(std::string(what) + " at " + std::to_string(off) + " size " + std::to_string(size)));
    }
  }
  // Each of the two bitmaps has a bit per page frame.
  if (max_mapnr > (bitmap_blocks * bs * 8))
    return tl::unexpected(bad("max_mapnr " + std::to_string(max_mapnr) + " exceeds the bitmaps"));

  // A truncated file keeps its headers but loses page data, which libkdumpfile then
  // reports as corrupt pages: say so once. The second bitmap (dumped pages) counts the
  // page descriptors; the last descriptor says where the data should end.
  std::vector<std::string> notes;
  uint64_t half = bitmap_blocks * bs / 2, dumped = 0;
  uint64_t bitmap2 = (1 + static_cast<uint64_t>(sub_hdr_size)) * bs + half;
  std::vector<unsigned char> buf(1 << 16);
  for (uint64_t done = 0; done < half;) {
    size_t chunk = static_cast<size_t>(std::min<uint64_t>(buf.size(), half - done));
    auto m = pread_some(fd, buf.data(), chunk, bitmap2 + done);
    if (!m) return tl::unexpected(m.error());
    if (*m < chunk) break;
    for (size_t i = 0; i < chunk; i++) dumped += static_cast<uint64_t>(__builtin_popcount(buf[i]));
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
    auto m = pread_some(fd, d.data(), d.size(), descs_end - d.size());
    if (!m) return tl::unexpected(m.error());
    for (uint64_t i = 0; i + kDescSize <= *m; i += kDescSize)
      data_end = std::max(data_end, get<uint64_t>(d.data(), i) + get<uint32_t>(d.data(), i + 8));
  }
  if (data_end > file_size)
    notes.push_back("dump truncated: the file ends at byte " + std::to_string(file_size) + " but its pages extend to " +
                    std::to_string(data_end) + "; reads of the missing pages fail");
  return notes;
}

Result<std::vector<std::string>> check_elf(int fd, uint64_t file_size) {
  Elf64_Ehdr eh;
  auto n = pread_some(fd, &eh, sizeof(eh), 0);
  if (!n) return tl::unexpected(n.error());
  if (*n < sizeof(eh)) return tl::unexpected(bad("ELF header is cut short"));
  if (eh.e_ident[EI_CLASS] != ELFCLASS64) return std::vector<std::string>{};  // not ours to judge; libkdumpfile decides
  if (eh.e_type != ET_CORE) return tl::unexpected(Error(ErrorKind::Format, "not a vmcore: an ELF file, but not a core dump"));
  uint64_t phnum = eh.e_phnum;
  if (phnum == PN_XNUM) {  // the real count is in section header 0's sh_info
    Elf64_Shdr sh0;
    auto m = pread_some(fd, &sh0, sizeof(sh0), eh.e_shoff);
    if (!m) return tl::unexpected(m.error());
    if (eh.e_shoff == 0 || *m < sizeof(sh0)) return tl::unexpected(bad("extended program header count unreadable"));
    phnum = sh0.sh_info;
  }
  if (eh.e_phentsize != sizeof(Elf64_Phdr) || phnum == 0) return tl::unexpected(bad("no program headers"));
  if (eh.e_phoff > file_size || phnum > (file_size - eh.e_phoff) / sizeof(Elf64_Phdr))
    return tl::unexpected(bad(std::to_string(phnum) + " program headers do not fit in the file"));
  std::vector<std::string> notes;
  uint64_t cut = 0;
  Elf64_Phdr ph;
  for (uint64_t i = 0; i < phnum; i++) {
    auto m = pread_some(fd, &ph, sizeof(ph), eh.e_phoff + i * sizeof(ph));
    if (!m) return tl::unexpected(m.error());
    if (*m < sizeof(ph)) return tl::unexpected(bad("program header cut short"));
    bool fits = ph.p_offset <= file_size && ph.p_filesz <= file_size - ph.p_offset;
    if (ph.p_type == PT_NOTE && (!fits || ph.p_filesz > kMaxNoteBytes))
      return tl::unexpected(bad("note segment at " + std::to_string(ph.p_offset) + " size " + std::to_string(ph.p_filesz)));
    if (ph.p_type == PT_LOAD && !fits) cut++;
  }
  if (cut) notes.push_back(std::to_string(cut) + " memory segments extend beyond the end of the file (truncated dump)");
  return notes;
}

}  // namespace

Result<std::vector<std::string>> check_dump_headers(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail(ErrorKind::Os, std::string("stat: ") + std::strerror(errno));
  uint64_t size = static_cast<uint64_t>(st.st_size);
  char magic[8] = {};
  auto n = pread_some(fd, magic, sizeof(magic), 0);
  if (!n) return tl::unexpected(n.error());
  if (*n == sizeof(magic) && (std::memcmp(magic, "KDUMP   ", 8) == 0 || std::memcmp(magic, "DISKDUMP", 8) == 0))
    return check_diskdump(fd, size);
  if (*n >= 4 && std::memcmp(magic, ELFMAG, SELFMAG) == 0) return check_elf(fd, size);
  return std::vector<std::string>{};
}

}  // namespace kstuck
