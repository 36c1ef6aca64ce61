// SPDX-License-Identifier: GPL-2.0
// DumpFile: libkdumpfile behind a small RAII class, with the QEMU and flattened quirks.
#include "analysis/kdump_target/dump_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libkdumpfile/kdumpfile.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "analysis/hex_text.h"
#include "analysis/kdump_target/dump_notes.h"
#include "analysis/kdump_target/flattened.h"
#include "analysis/kdump_target/header_check.h"
#include "analysis/kdump_target/input_file.h"

namespace kstuck {
namespace {

// disk_dump_header: signature[8], int header_version, struct new_utsname (6 x 65 bytes:
// sysname, nodename, release, version, machine, domainname).
constexpr size_t kUtsSysnameOffset = 8 + 4;
constexpr size_t kUtsMachineOffset = 8 + 4 + 4 * 65;

// An unlinked temporary file for the reassembled stream; $TMPDIR or /var/tmp (not /tmp,
// which may be RAM: a reassembled dump is as large as the stream).
Result<int> make_temp_file() {
  const char* dir = std::getenv("TMPDIR");
  if (!dir || !*dir) dir = "/var/tmp";
  int fd = ::open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  std::string templ = std::string(dir) + "/kstuck-vmcore-XXXXXX";
  fd = ::mkostemp(templ.data(), O_CLOEXEC);
  if (fd < 0)
    return fail(ErrorKind::Os, "cannot create a temporary file in " + std::string(dir) + ": " + std::strerror(errno));
  ::unlink(templ.c_str());
  return fd;
}

const char kNoVmcoreinfo[] = "the dump carries no VMCOREINFO";
const char kNoRegisterNotes[] = "the dump carries no CPU register notes";

const char* const kRegNames[CpuRegisters::count] = {
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9",     "r8", "rax",
    "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "rflags", "rsp", "ss"};

}  // namespace

DumpFile::~DumpFile() {
  // The second context has its own life: reopening the first (a damaged page) may happen
  // while it reads, and never touches it.
  release_helper();
  release_context();
  if (tmp_fd_ >= 0) ::close(tmp_fd_);
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<DumpFile>> DumpFile::open(const std::string& path) {
  std::unique_ptr<DumpFile> dump(new DumpFile());
  // A FIFO, socket or tty is refused before any blocking open or read.
  auto fd = open_input_file(path, InputKind::RegularOrBlockDevice);
  if (!fd) return tl::unexpected(fd.error());
  dump->fd_ = *fd;
  auto file_size = input_file_size(dump->fd_);
  if (!file_size) return tl::unexpected(file_size.error().with_context(path));

  std::byte head[kFlattenedHeaderSize] = {};
  ssize_t n = ::pread(dump->fd_, head, sizeof(head), 0);
  if (n < 0) return fail(ErrorKind::Os, path + ": " + std::strerror(errno));
  if (n < 64) return fail(ErrorKind::Format, path + ": not a vmcore (only " + std::to_string(n) + " bytes)");

  int data_fd = dump->fd_;
  if (is_flattened(std::span(head, static_cast<size_t>(n)))) {
    auto tmp = make_temp_file();
    if (!tmp) return tl::unexpected(tmp.error().with_context(path));
    dump->tmp_fd_ = *tmp;
    FlattenedLimits limits;
    // The plain dump is about as large as the stream; allow generous holes, no more.
    limits.max_output_size = *file_size * 4 + (uint64_t{1} << 30);
    auto stats = reassemble_flattened(dump->fd_, dump->tmp_fd_, limits);
    if (!stats) return tl::unexpected(stats.error().with_context(path));
    if (stats->truncated)
      dump->notes_.push_back("flattened stream truncated at byte " + hex_text(stats->truncated_at) +
                             ": data after it is missing");
    data_fd = dump->tmp_fd_;
    dump->format_ = "flattened ";
    n = ::pread(data_fd, head, sizeof(head), 0);
    if (n < 64) return fail(ErrorKind::Format, path + ": flattened stream holds no dump header");
  }

  // QEMU 7.2 leaves the utsname empty but for "machine"; libkdumpfile then does not
  // take the architecture from it and skips the register notes unless it is told the
  // architecture before opening.
  bool arch_unknown = false;
  if (std::memcmp(head, "KDUMP   ", 8) == 0 && static_cast<size_t>(n) > kUtsMachineOffset &&
      (head[kUtsSysnameOffset] == std::byte{0} || head[kUtsMachineOffset] == std::byte{0})) {
    arch_unknown = true;
    dump->notes_.push_back("dump header has an empty utsname (QEMU dump-guest-memory): architecture set to x86_64");
  }
  // libkdumpfile knows more formats (LKCD, sadump, Xen), none of which an x86-64 Linux
  // support case sends; refusing the rest here gives one clear message.
  bool known = std::memcmp(head, "KDUMP   ", 8) == 0 || std::memcmp(head, "DISKDUMP", 8) == 0 ||
               std::memcmp(head, "\x7f" "ELF", 4) == 0;
  if (!known)
    return fail(ErrorKind::Format, path + ": not a vmcore (no kdump-compressed, flattened or ELF signature)");
  auto checked = check_dump_headers(data_fd);
  if (!checked) return tl::unexpected(checked.error().with_context(path));
  dump->notes_.insert(dump->notes_.end(), checked->notes.begin(), checked->notes.end());
  // What libkdumpfile must not see: damaged page descriptors, and CPU notes it would
  // refuse the whole dump for (kstuck reads the notes itself, use_own_notes()).
  std::vector<std::pair<uint64_t, std::vector<unsigned char>>> patches;
  for (uint64_t at : checked->bad_descriptors) {
    std::vector<unsigned char> desc(24, 0);
    desc[8] = 1;   // size 1 at offset 0 (the header's "K"),
    desc[12] = 1;  // flagged zlib: inflating it fails, the page reads as corrupt
    patches.emplace_back(at, std::move(desc));
  }
  if (checked->note_area_read && checked->note_size_field) {
    NoteScan scan = scan_elf_notes(checked->note_area);
    for (const auto& n : scan.prstatus) {
      if (n.regs) continue;
      // A damaged CPU note whose sizes still hold: an unknown type, which libkdumpfile skips.
      uint32_t unknown = 0x4b535443;
      std::vector<unsigned char> type(4);
      std::memcpy(type.data(), &unknown, 4);
      patches.emplace_back(checked->note_area_offset + n.offset + 8, std::move(type));
    }
    if (scan.vmcoreinfo)
      if (auto blanked = blank_damaged_vmcoreinfo_lines(std::as_bytes(std::span(*scan.vmcoreinfo))))
        patches.emplace_back(checked->note_area_offset + scan.vmcoreinfo_offset, std::move(*blanked));
    // kstuck's walk also stops at an empty note header (the kernel's terminator);
    // libkdumpfile 0.5.1 walks on past it, into notes kstuck never checked (a damaged
    // VMCOREINFO there crashed it: tests/fixtures/damaged/fuzz-notes-after-empty.kdump).
    // Trailing zeros after the last note are left as they are.
    const auto& area = checked->note_area;
    bool more_after_stop = scan.walked < area.size() &&
                           std::any_of(area.begin() + static_cast<long>(scan.walked), area.end(),
                                       [](std::byte b) { return b != std::byte{0}; });
    if (more_after_stop && !scan.cut_short)
      dump->notes_.push_back("the CPU notes end at an empty note at byte " + std::to_string(scan.walked) +
                             " of " + std::to_string(area.size()) + ": the notes after it are left out");
    if (scan.cut_short || more_after_stop) {
      // The note area ends where its first impossible size begins.
      uint64_t keep = scan.walked;
      std::vector<unsigned char> size(8);
      std::memcpy(size.data(), &keep, 8);
      patches.emplace_back(checked->note_size_field, std::move(size));
    }
  }
  if (!checked->vmcoreinfo.empty())
    if (auto blanked = blank_damaged_vmcoreinfo_lines(checked->vmcoreinfo)) {
      patches.emplace_back(checked->vmcoreinfo_offset, std::move(*blanked));
      dump->notes_.push_back("the kdump sub-header's VMCOREINFO has damaged lines: left out");
    }
  if (!patches.empty()) {
    auto copy = dump->patched_copy(data_fd, patches);
    if (!copy) return tl::unexpected(copy.error().with_context(path));
    data_fd = *copy;
  }
  auto r = dump->open_context(data_fd, arch_unknown);
  if (!r) return tl::unexpected(r.error().with_context(path));
  if (checked->note_area_read) dump->use_own_notes(checked->note_area);
  dump->refuse_descriptors(checked->bad_descriptor_indexes, checked->past_eof_descriptor_indexes);
  // Large reads of a kdump-compressed file inflate its pages here (compressed_pages.h).
  if (checked->dumped_pages && checked->block_size == 4096 && dump->pagemap_)
    if (auto size = input_file_size(dump->ctx_fd_))
      dump->direct_ = std::make_unique<CompressedPages>(dump->ctx_fd_, checked->descriptors_offset, checked->dumped_pages,
                                                        *size, checked->block_size);
  return dump;
}

// libkdumpfile follows a page descriptor wherever it points and decompresses by its size,
// and refuses a dump for one malformed note: those bytes are rewritten in a private copy
// (a damaged descriptor to one byte of zlib data that fails to inflate, so its page reads
// as corrupt), and nothing else changes. The copy costs the dump's size in $TMPDIR.
Result<int> DumpFile::patched_copy(int fd, const std::vector<std::pair<uint64_t, std::vector<unsigned char>>>& patches) {
  auto size = input_file_size(fd);
  if (!size) return tl::unexpected(size.error());
  auto tmp = make_temp_file();
  if (!tmp) return tl::unexpected(tmp.error());
  int out = *tmp;
  loff_t in_off = 0, out_off = 0;
  constexpr size_t kCopyChunk = 1 << 20;
  std::unique_ptr<char[]> buf;  // only when copy_file_range cannot (a memfd, another file system)
  while (static_cast<uint64_t>(in_off) < *size) {
    ssize_t n = ::copy_file_range(fd, &in_off, out, &out_off, static_cast<size_t>(*size - in_off), 0);
    if (n <= 0) {
      // Across file systems, or an old kernel: copy by hand.
      if (!buf) buf = std::make_unique_for_overwrite<char[]>(kCopyChunk);
      ssize_t r = ::pread(fd, buf.get(), kCopyChunk, in_off);
      if (r <= 0 || ::pwrite(out, buf.get(), static_cast<size_t>(r), out_off) != r) {
        ::close(out);
        return fail(ErrorKind::Os, std::string("copying the damaged dump: ") + std::strerror(errno));
      }
      in_off += r;
      out_off += r;
    }
  }
  for (const auto& [at, bytes] : patches) {
    if (::pwrite(out, bytes.data(), bytes.size(), static_cast<off_t>(at)) != static_cast<ssize_t>(bytes.size())) {
      ::close(out);
      return fail(ErrorKind::Os, std::string("patching the copy of the dump: ") + std::strerror(errno));
    }
  }
  if (tmp_fd_ >= 0) ::close(tmp_fd_);
  tmp_fd_ = out;
  return out;
}

void DumpFile::use_own_notes(const std::vector<std::byte>& area) {
  NoteScan scan = scan_elf_notes(area);
  for (const auto& p : scan.problems) notes_.push_back(p);
  if (vmcoreinfo_.empty() && scan.vmcoreinfo) {
    // libkdumpfile found none (its copy is damaged or missing): the note's copy serves.
    VmcoreinfoScan vi = parse_vmcoreinfo(*scan.vmcoreinfo);
    if (!vi.entries.empty()) {
      vmcoreinfo_raw_ = *scan.vmcoreinfo;
      vmcoreinfo_ = std::move(vi.entries);
      for (auto& p : vi.problems) notes_.push_back(p);
      for (auto it = notes_.begin(); it != notes_.end(); ++it)
        if (*it == kNoVmcoreinfo) {
          notes_.erase(it);
          break;
        }
      notes_.push_back("VMCOREINFO read from the ELF note (the sub-header's copy is unreadable)");
    }
  }
  if (scan.prstatus.empty()) return;
  // kstuck's walk decides which CPU a note belongs to: a damaged note keeps its slot, so
  // the notes after it stay with their CPUs (libkdumpfile drops it and shifts them).
  if (static_cast<size_t>(cpu_count_) != scan.prstatus.size())
    notes_.push_back("libkdumpfile found " + std::to_string(cpu_count_) + " CPU register notes, kstuck " +
                     std::to_string(scan.prstatus.size()) + ": kstuck's are used");
  cpu_count_ = static_cast<int>(scan.prstatus.size());
  cpu_regs_.assign(scan.prstatus.size(), std::nullopt);
  for (size_t i = 0; i < scan.prstatus.size(); i++) cpu_regs_[i] = scan.prstatus[i].regs;
  if (scan.cut_short) notes_.push_back("CPU register notes after note " + std::to_string(scan.prstatus.size()) + " are lost");
  for (auto it = notes_.begin(); it != notes_.end(); ++it)
    if (*it == kNoRegisterNotes) {
      notes_.erase(it);
      break;
    }
}

Result<void> DumpFile::open_context(int fd, bool arch_unknown) {
  ctx_fd_ = fd;
  arch_unknown_ = arch_unknown;
  auto opened = new_context();
  if (!opened) return tl::unexpected(opened.error());

  const char* str = nullptr;
  if (kdump_get_string_attr(ctx_, KDUMP_ATTR_FILE_FORMAT, &str) == KDUMP_OK && str) format_ += str;
  if (kdump_get_string_attr(ctx_, "file.description", &str) == KDUMP_OK && str) description_ = str;

  char* raw = nullptr;
  if (kdump_vmcoreinfo_raw(ctx_, &raw) == KDUMP_OK && raw) {
    vmcoreinfo_raw_ = raw;
    std::free(raw);
  }
  VmcoreinfoScan vi = parse_vmcoreinfo(vmcoreinfo_raw_);
  vmcoreinfo_ = std::move(vi.entries);
  for (auto& p : vi.problems) notes_.push_back(std::move(p));
  if (vmcoreinfo_.empty()) notes_.push_back(kNoVmcoreinfo);
  return load_cpu_registers();
}

// libkdumpfile 0.5.1's diskdump open frees its private data on an error and leaves the
// format set, so kdump_free() frees it again (SIGSEGV on a kdump header with
// header_version or max_mapnr 0xffffffff). check_dump_headers() refuses every header
// field known to fail that way; a context that fails to open anyway is leaked, never
// freed: one small leak on the way to an error exit, instead of a crash that loses the
// message.
void DumpFile::disarm_failed_context() { ctx_ = nullptr; }

Result<void> DumpFile::load_cpu_registers() {
  kdump_num_t num = 0;
  if (kdump_get_number_attr(ctx_, KDUMP_ATTR_NUM_CPUS, &num) != KDUMP_OK) {
    notes_.push_back(kNoRegisterNotes);
    return {};
  }
  // A hostile header can claim any number; real machines stop far below this.
  constexpr kdump_num_t kMaxCpus = 8192;
  if (num > kMaxCpus) return fail(ErrorKind::Limit, "dump claims " + std::to_string(num) + " CPUs");
  cpu_count_ = static_cast<int>(num);
  cpu_regs_.resize(cpu_count_);
  for (int cpu = 0; cpu < cpu_count_; cpu++) {
    CpuRegisters regs;
    bool ok = true;
    char key[64];
    for (int i = 0; i < CpuRegisters::count && ok; i++) {
      std::snprintf(key, sizeof(key), "cpu.%d.reg.%s", cpu, kRegNames[i]);
      kdump_num_t v = 0;
      ok = kdump_get_number_attr(ctx_, key, &v) == KDUMP_OK;
      regs.regs[i] = v;
    }
    std::snprintf(key, sizeof(key), "cpu.%d.pid", cpu);
    kdump_num_t pid = 0;
    if (kdump_get_number_attr(ctx_, key, &pid) == KDUMP_OK) regs.note_pid = static_cast<int64_t>(pid);
    if (ok) cpu_regs_[cpu] = regs;
  }
  kdump_clear_err(ctx_);
  return {};
}

Result<CpuRegisters> DumpFile::cpu_registers(int index) const {
  if (index < 0 || index >= cpu_count_) return fail(ErrorKind::NotFound, "no register note " + std::to_string(index));
  if (!cpu_regs_[index])
    return fail(ErrorKind::Format, "register note " + std::to_string(index) + " is incomplete (libkdumpfile has no registers)");
  return *cpu_regs_[index];
}

std::optional<std::string> DumpFile::vmcoreinfo(std::string_view key) const {
  auto it = vmcoreinfo_.find(key);
  if (it == vmcoreinfo_.end()) return std::nullopt;
  return it->second;
}

}  // namespace kstuck
