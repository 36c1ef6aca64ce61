// SPDX-License-Identifier: GPL-2.0
// Reading kstuck.ko's NMI snapshot history out of a dumped kernel, through any Target.
#pragma once

#include <string>
#include <vector>

#include "analysis/kernel/symbolizer.h"
#include "analysis/nmi_records.h"

namespace kstuck {

struct DumpedNmiHistory {
  NmiHistory history;
  uint64_t buffer_address = 0;
  std::vector<std::string> warnings;  // pages that could not be read (their slots are lost)
};

// Finds the buffer through kstuck.ko's "nmi_dump_buffer" pointer (module kallsyms in
// the dump), reads the header for its size (bounded), then the buffer page by page so
// one excluded page loses one slot, not the history, and parses it as hostile bytes.
Result<DumpedNmiHistory> read_dumped_nmi_history(Target& target, Symbolizer& symbolizer);

}  // namespace kstuck
