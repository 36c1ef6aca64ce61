// SPDX-License-Identifier: GPL-2.0
// open_input_file: opens a file kstuck reads (vmcore, vmlinux, .ko) without ever blocking;
// pread_full: reads from it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "analysis/error.h"

namespace kstuck {

enum class InputKind {
  RegularFile,         // a vmlinux or a module object
  RegularOrBlockDevice // a vmcore: a file, or the disk partition kdump wrote it to
};

// Opens path read-only with O_NONBLOCK first, so a FIFO, a socket or a tty never blocks
// the open, then refuses anything that is not a regular file (or, for kind
// RegularOrBlockDevice, a block device) before a single byte is read: "PATH: a FIFO, not
// a regular file". Returns the descriptor in blocking mode (O_CLOEXEC); Os errors carry
// strerror.
Result<int> open_input_file(const std::string& path, InputKind kind);

// The size of an opened input: st_size for a file, the device's size for a block device.
Result<uint64_t> input_file_size(int fd);

// Reads up to size bytes at offset, through short reads and EINTR: the count is short only
// at the end of the file. Os errors carry strerror and the offset.
Result<size_t> pread_full(int fd, void* buf, size_t size, uint64_t offset);

// True when all size bytes at offset were read.
inline bool pread_exact(int fd, void* buf, size_t size, uint64_t offset) {
  auto n = pread_full(fd, buf, size, offset);
  return n && *n == size;
}

}  // namespace kstuck
