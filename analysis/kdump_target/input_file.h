// SPDX-License-Identifier: GPL-2.0
// open_input_file: opens a file kstuck reads (vmcore, vmlinux, .ko) without ever blocking.
#pragma once

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

}  // namespace kstuck
