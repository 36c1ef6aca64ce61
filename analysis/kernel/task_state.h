// SPDX-License-Identifier: GPL-2.0
// Decoding task_struct.__state / exit_state into ps-style letters (R S D T t X Z P I).
#pragma once

#include <cstdint>

namespace kstuck {

// One letter as /proc/PID/stat shows it, and a word for reports.
struct TaskState {
  char letter = '?';
  const char* name = "unknown";
};

// Mirrors __task_state_index() of include/linux/sched.h (5.14+ bit values, unchanged
// through 6.12): (state | exit_state) & TASK_REPORT, TASK_IDLE reported as 'I',
// RTLOCK_WAIT and FROZEN reported as 'D', then the highest set bit picks the letter.
TaskState decode_task_state(uint32_t state, uint32_t exit_state);

}  // namespace kstuck
