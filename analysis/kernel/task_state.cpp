// SPDX-License-Identifier: GPL-2.0
// Task state decoding, the same way the kernel's task_state_index() reports it.
#include "analysis/kernel/task_state.h"

#include <bit>

namespace kstuck {
namespace {
constexpr uint32_t kTaskUninterruptible = 0x2, kTaskReport = 0x7f, kTaskNoLoad = 0x400,
                   kTaskIdle = kTaskUninterruptible | kTaskNoLoad, kTaskReportIdle = kTaskReport + 1,
                   kTaskRtlockWait = 0x1000, kTaskFrozen = 0x8000;
constexpr TaskState kStates[] = {
    {'R', "running"}, {'S', "sleeping"}, {'D', "uninterruptible"}, {'T', "stopped"}, {'t', "traced"},
    {'X', "dead"},    {'Z', "zombie"},   {'P', "parked"},          {'I', "idle"},
};
}  // namespace

TaskState decode_task_state(uint32_t state, uint32_t exit_state) {
  uint32_t report = (state | exit_state) & kTaskReport;
  if ((state & kTaskIdle) == kTaskIdle) report = kTaskReportIdle;
  if (state & (kTaskRtlockWait | kTaskFrozen)) report = kTaskUninterruptible;
  unsigned index = report ? unsigned(std::bit_width(report)) : 0;  // fls()
  return kStates[index];
}

}  // namespace kstuck
