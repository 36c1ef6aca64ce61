// SPDX-License-Identifier: GPL-2.0
// open_input_file: the one way kstuck opens an input file (no blocking open, no special files).
#include "analysis/kdump_target/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kstuck {
namespace {

const char* file_type(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "a special file";
}

}  // namespace

Result<int> open_input_file(const std::string& path, InputKind kind) {
  // O_NONBLOCK: open() of a FIFO without a writer, or of some ttys, waits forever in
  // blocking mode; O_NOCTTY: a tty never becomes our controlling terminal.
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return fail(ErrorKind::Os, path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return fail(ErrorKind::Os, path + ": " + std::strerror(e));
  }
  bool ok = S_ISREG(st.st_mode) || (kind == InputKind::RegularOrBlockDevice && S_ISBLK(st.st_mode));
  if (!ok) {
    ::close(fd);
    std::string want = kind == InputKind::RegularOrBlockDevice ? "a regular file or a block device" : "a regular file";
    const char* is = file_type(st.st_mode);
    return fail(ErrorKind::Invalid, path + ": " + is + ", not " + want);
  }
  // Back to blocking reads: on a regular file or a disk O_NONBLOCK changes nothing, but
  // libraries handed the descriptor should see a plain one.
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

Result<uint64_t> input_file_size(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail(ErrorKind::Os, std::string("stat: ") + std::strerror(errno));
  if (S_ISREG(st.st_mode)) return static_cast<uint64_t>(st.st_size);
  // A block device's st_size is 0: its end is where lseek finds it.
  off_t end = ::lseek(fd, 0, SEEK_END);
  if (end < 0) return fail(ErrorKind::Os, std::string("lseek: ") + std::strerror(errno));
  return static_cast<uint64_t>(end);
}

Result<size_t> pread_full(int fd, void* buf, size_t size, uint64_t offset) {
  auto* p = static_cast<char*>(buf);
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, p + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(ErrorKind::Os, std::string("read: ") + std::strerror(errno), offset + done);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

}  // namespace kstuck
