// SPDX-License-Identifier: GPL-2.0
// DumpFile: libkdumpfile behind a small RAII class, with the QEMU and flattened quirks.
#include "analysis/kdump_target/dump_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libkdumpfile/kdumpfile.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "analysis/kdump_target/flattened.h"
#include "analysis/kdump_target/header_check.h"

namespace kstuck {
namespace {

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

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

const char* const kRegNames[CpuRegisters::count] = {
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9",     "r8", "rax",
    "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "rflags", "rsp", "ss"};

}  // namespace

DumpFile::~DumpFile() {
  if (ctx_) kdump_free(ctx_);
  if (tmp_fd_ >= 0) ::close(tmp_fd_);
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<DumpFile>> DumpFile::open(const std::string& path) {
  std::unique_ptr<DumpFile> dump(new DumpFile());
  dump->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (dump->fd_ < 0) return fail(ErrorKind::Os, path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(dump->fd_, &st) != 0) return fail(ErrorKind::Os, path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return fail(ErrorKind::Invalid, path + ": not a regular file");

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
    limits.max_output_size = static_cast<uint64_t>(st.st_size) * 4 + (uint64_t{1} << 30);
    auto stats = reassemble_flattened(dump->fd_, dump->tmp_fd_, limits);
    if (!stats) return tl::unexpected(stats.error().with_context(path));
    if (stats->truncated)
      dump->notes_.push_back("flattened stream truncated at byte " + hex(stats->truncated_at) +
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
  dump->notes_.insert(dump->notes_.end(), checked->begin(), checked->end());
  auto r = dump->open_context(data_fd, arch_unknown);
  if (!r) return tl::unexpected(r.error().with_context(path));
  return dump;
}

Result<void> DumpFile::open_context(int fd, bool arch_unknown) {
  ctx_ = kdump_new();
  if (!ctx_) return fail(ErrorKind::Os, "libkdumpfile: out of memory");
  if (arch_unknown && kdump_set_string_attr(ctx_, KDUMP_ATTR_ARCH_NAME, KDUMP_ARCH_X86_64) != KDUMP_OK)
    return fail(ErrorKind::Format, std::string("libkdumpfile: cannot set the architecture: ") + kdump_get_err(ctx_));
  kdump_status s = kdump_open_fd(ctx_, fd);
  if (s != KDUMP_OK) {
    const char* err = kdump_get_err(ctx_);
    if (s == KDUMP_ERR_NOTIMPL)
      return fail(ErrorKind::Format, std::string("not a vmcore (no known dump format): ") + (err ? err : ""));
    return fail(ErrorKind::Format, std::string("cannot open the dump: ") + (err ? err : kdump_strerror(s)));
  }
  // Without the OS type addrxlat cannot build the kernel's page-table translation
  // ("Cannot determine 5-level paging").
  if (kdump_set_string_attr(ctx_, KDUMP_ATTR_OSTYPE, "linux") != KDUMP_OK)
    notes_.push_back(std::string("cannot set OS type linux: ") + kdump_get_err(ctx_));

  const char* str = nullptr;
  if (kdump_get_string_attr(ctx_, KDUMP_ATTR_FILE_FORMAT, &str) == KDUMP_OK && str) format_ += str;
  if (kdump_get_string_attr(ctx_, "file.description", &str) == KDUMP_OK && str) description_ = str;

  char* raw = nullptr;
  if (kdump_vmcoreinfo_raw(ctx_, &raw) == KDUMP_OK && raw) {
    vmcoreinfo_raw_ = raw;
    std::free(raw);
  }
  size_t start = 0;
  while (start < vmcoreinfo_raw_.size()) {
    size_t end = vmcoreinfo_raw_.find('\n', start);
    if (end == std::string::npos) end = vmcoreinfo_raw_.size();
    std::string_view line(vmcoreinfo_raw_.data() + start, end - start);
    size_t eq = line.find('=');
    if (eq != std::string_view::npos) vmcoreinfo_.emplace(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
    start = end + 1;
  }
  if (vmcoreinfo_.empty()) notes_.push_back("the dump carries no VMCOREINFO");
  return load_cpu_registers();
}

Result<void> DumpFile::load_cpu_registers() {
  kdump_num_t num = 0;
  if (kdump_get_number_attr(ctx_, KDUMP_ATTR_NUM_CPUS, &num) != KDUMP_OK) {
    notes_.push_back("the dump carries no CPU register notes");
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

namespace {

Result<void> read_space(_kdump_ctx* ctx, kdump_addrspace_t as, uint64_t addr, std::span<std::byte> out) {
  size_t len = out.size();
  kdump_status s = kdump_read(ctx, as, addr, out.data(), &len);
  if (s == KDUMP_OK) return {};
  uint64_t bad = addr + len;
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
  return fail(ErrorKind::Fault, "read " + hex(bad) + ": " + why, bad);
}

}  // namespace

Result<void> DumpFile::read(uint64_t kvaddr, std::span<std::byte> out) {
  return read_space(ctx_, KDUMP_KVADDR, kvaddr, out);
}

Result<void> DumpFile::read_phys(uint64_t paddr, std::span<std::byte> out) {
  return read_space(ctx_, KDUMP_KPHYSADDR, paddr, out);
}

}  // namespace kstuck
