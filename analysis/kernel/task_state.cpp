// SPDX-License-Identifier: GPL-2.0
// Task state decoding, the same way the kernel's task_state_index() reports it, with the kernel's own letters.
#include "analysis/kernel/task_state.h"

#include <bit>

namespace kstuck {
namespace {
constexpr uint32_t kTaskUninterruptible = 0x2, kTaskNoLoad = 0x400, kTaskIdle = kTaskUninterruptible | kTaskNoLoad,
                   kTaskRtlockWait = 0x1000, kTaskFrozen = 0x8000;
constexpr size_t kMaxEntries = 16;

const char* state_name(char letter) {
  switch (letter) {
    case 'R': return "running";
    case 'S': return "sleeping";
    case 'D': return "uninterruptible";
    case 'T': return "stopped";
    case 't': return "traced";
    case 'X': return "dead";
    case 'Z': return "zombie";
    case 'P': return "parked";
    case 'I': return "idle";
  }
  return "unknown";
}
}  // namespace

TaskStateTable read_task_state_table(Fields& f) {
  TaskStateTable table;
  Target& t = f.target();
  auto sym = t.symbol_address("task_state_array");
  if (!sym) {
    table.problem = "task_state_array: " + sym.error().describe();
    return table;
  }
  auto info = t.symbol_at(*sym);
  if (!info || info->address != *sym || info->size % 8 || info->size / 8 < 3 || info->size / 8 > kMaxEntries) {
    table.problem = "task_state_array: no plausible size in the symbols";
    return table;
  }
  std::string letters;
  for (uint64_t i = 0; i < info->size / 8; ++i) {
    auto p = read_u64(t, *sym + 8 * i);
    // A symbol table without sizes (the dump's own kallsyms) gives the distance to the
    // next symbol, alignment padding included: the array ends at the first entry that
    // is not a pointer to "X (name)".
    if (i >= 3 && p && (!is_kernel_pointer(*p) || read_c_string(t, *p, 3).value_or("").substr(1) != " (")) break;
    if (!p || !is_kernel_pointer(*p)) {
      table.problem = "task_state_array[" + std::to_string(i) + "] unreadable";
      return table;
    }
    auto s = read_c_string(t, *p, 2);
    if (!s || s->empty()) {
      table.problem = "task_state_array[" + std::to_string(i) + "]'s string unreadable";
      return table;
    }
    letters.push_back((*s)[0]);
  }
  if (letters[0] != 'R') {
    table.problem = "task_state_array does not start with R (running): " + letters;
    return table;
  }
  table.letters = letters;
  table.from_kernel = true;
  return table;
}

TaskState decode_task_state(uint32_t state, uint32_t exit_state, const TaskStateTable* table) {
  static const TaskStateTable builtin;
  const std::string& letters = (table ? *table : builtin).letters;
  unsigned report_bits = unsigned(letters.size()) - 2;  // entries: running, one per bit, idle
  uint32_t report_mask = (uint32_t{1} << report_bits) - 1;
  uint32_t report = (state | exit_state) & report_mask;
  unsigned index = report ? unsigned(std::bit_width(report)) : 0;  // fls()
  if ((state & kTaskIdle) == kTaskIdle) index = unsigned(letters.size()) - 1;  // TASK_REPORT_IDLE
  if (state & (kTaskRtlockWait | kTaskFrozen)) index = unsigned(std::bit_width(kTaskUninterruptible));
  char letter = letters[index];
  return {letter, state_name(letter)};
}

}  // namespace kstuck
