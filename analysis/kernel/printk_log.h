// SPDX-License-Identifier: GPL-2.0
// The kernel log from the lockless printk ringbuffer (`prb`, 5.10+), newest records, bounded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/fields.h"

namespace kstuck {

struct LogRecord {
  uint64_t seq = 0;
  uint64_t ts_nsec = 0;
  int level = 0;
  std::string text;
};

struct KernelLog {
  std::vector<LogRecord> records;   // oldest first
  std::vector<std::string> problems;
};

// Reads at most max_records of the newest finalized/committed records by walking the
// descriptor ring backwards from head_id (struct printk_ringbuffer: desc_ring,
// text_data_ring, per kernel/printk/printk_ringbuffer.h). Records whose descriptor was
// reused or whose data block is inconsistent are skipped, not trusted.
KernelLog read_kernel_log(Fields& fields, size_t max_records);

// The panic message ("Kernel panic - not syncing: ..."), or empty.
std::string find_panic_message(const KernelLog& log);

}  // namespace kstuck
