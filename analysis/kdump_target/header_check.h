// SPDX-License-Identifier: GPL-2.0
// Sanity checks of a dump's headers before libkdumpfile trusts (and allocates by) them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/error.h"

namespace kstuck {

// libkdumpfile sizes its buffers by header fields (block size, bitmap blocks, CPU count,
// note sizes): a flipped byte there asked it for 32 GiB. These checks hold every such
// field to what the file can actually contain. Problems that only lose data (a truncated
// ELF segment) are returned as notes instead of errors.
Result<std::vector<std::string>> check_dump_headers(int fd);

}  // namespace kstuck
