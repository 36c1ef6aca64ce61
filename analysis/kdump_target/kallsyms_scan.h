// SPDX-License-Identifier: GPL-2.0
// find_kallsyms: the kallsyms tables located by scanning the kernel image's read-only
// data, for dumps whose VMCOREINFO does not name them (kernels before 6.0).
#pragma once

#include <cstdint>
#include <memory>

#include "analysis/error.h"
#include "analysis/kdump_target/dump_kallsyms.h"

namespace kstuck {

struct KallsymsScan {
  uint64_t start = 0;  // where the scan starts: VMCOREINFO's SYMBOL(_stext)
  uint64_t end = 0;    // where it ends: SYMBOL(init_uts_ns), in .data after .rodata
  uint64_t stext = 0;  // _stext's runtime address: the decoded _stext must be there
};

struct KallsymsFound {
  std::unique_ptr<DumpKallsyms> kallsyms;
  KallsymsLocation where;
  uint64_t bytes_scanned = 0;
};

// Scans [start, end) from the top down for kallsyms_token_index, walks back from it to
// the other tables (the layout scripts/kallsyms.c wrote before 6.2, see the .cpp), and
// returns the first candidate whose tables decode and put _stext where VMCOREINFO does.
// NotFound (naming what was not found) when none does. Reads the range a MiB at a
// time; bounded in time and memory on hostile bytes.
Result<KallsymsFound> find_kallsyms(const KallsymsScan& scan, const DumpKallsyms::ReadFn& read);

}  // namespace kstuck
