// SPDX-License-Identifier: GPL-2.0
// Decoding task_struct.__state / exit_state into ps-style letters (R S D T t X Z P I).
#pragma once

#include <cstdint>
#include <string>

#include "analysis/fields.h"

namespace kstuck {

// One letter as /proc/PID/stat shows it, and a word for reports.
struct TaskState {
  char letter = '?';
  const char* name = "unknown";
};

// The letters the kernel reports its states with, read from the dump: fs/proc/array.c's
// task_state_array ("R (running)", "S (sleeping)", ...). Entry 0 is TASK_RUNNING, entry
// i (1 <= i <= n-2) is bit 1 << (i-1) of TASK_REPORT, the last one TASK_REPORT_IDLE.
// Its length is the number of reported bits (7 from 4.14 through 7.3).
struct TaskStateTable {
  std::string letters = "RSDTtXZPI";  // the built-in table, used when the kernel's is unreadable
  bool from_kernel = false;
  std::string problem;  // why the built-in table is used
};
TaskStateTable read_task_state_table(Fields& fields);

// Mirrors __task_state_index() of include/linux/sched.h: (state | exit_state) &
// TASK_REPORT, TASK_IDLE reported as 'I', RTLOCK_WAIT (5.15+) and FROZEN (6.1+) reported
// as 'D', then the highest set bit picks the letter. The flag values TASK_NOLOAD 0x400,
// TASK_RTLOCK_WAIT 0x1000 and TASK_FROZEN 0x8000 are #defines, invisible to type
// information; 0x1000 is TASK_STATE_MAX before 5.15 and never stored in a task.
TaskState decode_task_state(uint32_t state, uint32_t exit_state, const TaskStateTable* table = nullptr);

}  // namespace kstuck
