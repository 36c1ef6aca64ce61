// SPDX-License-Identifier: GPL-2.0
// FakeKernel: 6.1-shaped layouts and builders for tasks, runqueues, mutexes and csds.
#include "tests/unit/fake_kernel.h"

#include <stdexcept>

namespace kstuck::test {
namespace {
constexpr uint64_t kPerCpuAreas = 0xffff88803e000000ULL;  // CPU n's area: + n * 0x100000
constexpr uint64_t kTaskSize = 0x140;  // sizeof(struct task_struct) of the fake layout
}

FakeKernel::FakeKernel(FakeTarget& target, int ncpus) : t_(target), ncpus_(ncpus) {
  define_layouts();
  for (int cpu = 0; cpu < ncpus_; ++cpu) {
    uint64_t off = kPerCpuAreas + uint64_t(cpu) * 0x100000;
    t_.map(off + kPerCpuBase, kPerCpuSize);
    t_.set_per_cpu_offset(cpu, off);
  }
  uint64_t offsets = t_.add_global("__per_cpu_offset", 8 * 64);
  for (int cpu = 0; cpu < ncpus_; ++cpu) t_.write_u64(offsets + 8 * cpu, kPerCpuAreas + uint64_t(cpu) * 0x100000);
  uint64_t online = t_.add_global("__cpu_online_mask", 64);
  t_.write_u64(online, ncpus_ >= 64 ? ~uint64_t{0} : (uint64_t{1} << ncpus_) - 1);
  define_per_cpu("runqueues", 0x40);
  define_per_cpu("call_single_queue", 8);

  list_init(t_.add_global("modules", 16));
  init_task_ = t_.add_global("init_task", kTaskSize);
  uint64_t signal = t_.alloc(0x40);
  list_init(t_.addr_of(signal, "signal_struct", "thread_head"));
  t_.set(init_task_, "task_struct", "signal", signal);
  list_init(t_.addr_of(init_task_, "task_struct", "tasks"));
  list_add_tail(t_.addr_of(init_task_, "task_struct", "thread_node"), t_.addr_of(signal, "signal_struct", "thread_head"));
  t_.set_string(init_task_, "task_struct", "comm", "swapper/0");
  t_.set(init_task_, "task_struct", "flags", 0x2);  // PF_IDLE
}

void FakeKernel::define_layouts() {
  t_.add_struct("list_head", 16, {{"next", 0, 8, "struct list_head *"}, {"prev", 8, 8, "struct list_head *"}});
  t_.add_struct("task_struct", kTaskSize,
                {{"__state", 0x18, 4, "unsigned int"},
                 {"stack", 0x20, 8, "void *"},
                 {"flags", 0x2c, 4, "unsigned int"},
                 {"on_cpu", 0x30, 4, "int"},
                 {"cpu", 0x34, 4, "unsigned int"},
                 {"tasks", 0x40, 16, "struct list_head"},
                 {"tasks.next", 0x40, 8, "struct list_head *"},
                 {"exit_state", 0x50, 4, "int"},
                 {"pid", 0x54, 4, "pid_t"},
                 {"tgid", 0x58, 4, "pid_t"},
                 {"comm", 0x60, 16, "char [16]"},
                 {"thread_node", 0x70, 16, "struct list_head"},
                 {"signal", 0x80, 8, "struct signal_struct *"},
                 {"thread", 0x88, 0x20, "struct thread_struct"},
                 {"thread.sp", 0x88, 8, "long unsigned int"},
                 {"sched_info", 0xa8, 0x20, "struct sched_info"},
                 {"sched_info.last_arrival", 0xb0, 8, "long long unsigned int"},
                 {"sched_info.last_queued", 0xb8, 8, "long long unsigned int"},
                 {"last_switch_count", 0xc0, 8, "long unsigned int"},
                 {"last_switch_time", 0xc8, 8, "long unsigned int"},
                 {"nvcsw", 0xd0, 8, "long unsigned int"},
                 {"nivcsw", 0xd8, 8, "long unsigned int"},
                 {"on_rq", 0xe0, 4, "int"},
                 {"se", 0xe8, 0x10, "struct sched_entity"},
                 {"se.exec_start", 0xe8, 8, "u64"},
                 {"wake_entry", 0x100, 0x10, "struct __call_single_node"},
                 {"pi_blocked_on", 0x110, 8, "struct rt_mutex_waiter *"},
                 {"blocked_on", 0x118, 8, "struct mutex *"},
                 {"blocker", 0x120, 8, "long unsigned int"}});
  t_.add_struct("signal_struct", 0x40, {{"thread_head", 0x10, 16, "struct list_head"}});
  t_.add_struct("rq", 0x40, {{"nr_running", 0x0, 4, "unsigned int"}, {"curr", 0x8, 8, "struct task_struct *"},
                             {"idle", 0x10, 8, "struct task_struct *"}, {"clock", 0x18, 8, "u64"},
                             {"clock_task", 0x20, 8, "u64"}});
  t_.add_struct("mutex", 0x20, {{"owner", 0x0, 8, "atomic_long_t"}, {"owner.counter", 0x0, 8, "s64"},
                                {"wait_lock", 0x8, 4, "raw_spinlock_t"}, {"wait_list", 0x10, 16, "struct list_head"}});
  t_.add_struct("mutex_waiter", 0x18, {{"list", 0x0, 16, "struct list_head"}, {"task", 0x10, 8, "struct task_struct *"}});
  t_.add_struct("inactive_task_frame", 0x38,
                {{"r15", 0x0, 8}, {"r14", 0x8, 8}, {"r13", 0x10, 8}, {"r12", 0x18, 8}, {"bx", 0x20, 8},
                 {"bp", 0x28, 8}, {"ret_addr", 0x30, 8}});
  t_.add_struct("module", 0x200,
                {{"state", 0x0, 4, "enum module_state"},
                 {"list", 0x8, 16, "struct list_head"},
                 {"name", 0x18, 56, "char [56]"},
                 {"core_layout", 0x60, 0x20, "struct module_layout"},
                 {"core_layout.base", 0x60, 8, "void *"},
                 {"core_layout.size", 0x68, 4, "unsigned int"},
                 {"core_layout.text_size", 0x6c, 4, "unsigned int"},
                 {"kallsyms", 0x100, 8, "struct mod_kallsyms *"},
                 {"arch", 0x110, 0x18, "struct mod_arch_specific"},
                 {"arch.num_orcs", 0x110, 4, "unsigned int"},
                 {"arch.orc_unwind_ip", 0x118, 8, "int *"},
                 {"arch.orc_unwind", 0x120, 8, "struct orc_entry *"}});
  t_.add_struct("mod_kallsyms", 0x20, {{"symtab", 0x0, 8, "Elf64_Sym *"}, {"num_symtab", 0x8, 4, "unsigned int"},
                                       {"strtab", 0x10, 8, "char *"}, {"typetab", 0x18, 8, "char *"}});
  t_.add_struct("llist_head", 8, {{"first", 0, 8, "struct llist_node *"}});
  t_.add_struct("llist_node", 8, {{"next", 0, 8, "struct llist_node *"}});
  t_.add_struct("__call_single_data", 0x20,
                {{"node", 0x0, 0x10, "struct __call_single_node"}, {"node.llist", 0x0, 8, "struct llist_node"},
                 {"node.u_flags", 0x8, 4, "unsigned int"}, {"node.src", 0xc, 2, "u16"}, {"node.dst", 0xe, 2, "u16"},
                 {"func", 0x10, 8, "smp_call_func_t"}, {"info", 0x18, 8, "void *"}});
}

uint64_t FakeKernel::define_per_cpu(std::string name, uint64_t size) {
  uint64_t at = (next_per_cpu_ + 63) & ~uint64_t{63};
  if (at + size > kPerCpuBase + kPerCpuSize) throw std::logic_error("FakeKernel: per-CPU area full");
  next_per_cpu_ = at + size;
  t_.add_symbol(std::move(name), at, size);
  return at;
}

uint64_t FakeKernel::per_cpu_addr(int cpu, std::string_view name) {
  auto sym = t_.symbol_address(name);
  auto off = t_.per_cpu_offset(cpu);
  if (!sym || !off) throw std::logic_error("FakeKernel::per_cpu_addr: unknown " + std::string(name));
  return *sym + *off;
}

uint64_t FakeKernel::add_module(std::string_view name, uint64_t text_size, const std::vector<ModuleFunc>& funcs) {
  uint64_t base = 0xffffffffc0000000ULL + uint64_t(modules_++) * 0x100000;
  t_.map(base, text_size);
  uint64_t mod = t_.alloc(0x200);
  t_.set_string(mod, "module", "name", name);
  t_.set(mod, "module", "core_layout.base", base);
  t_.set(mod, "module", "core_layout.size", text_size);
  t_.set(mod, "module", "core_layout.text_size", text_size);
  // kallsyms: symbol 0 is the null symbol, as in an ELF symtab.
  uint64_t symtab = t_.alloc(24 * (funcs.size() + 1));
  std::string strtab(1, '\0');
  for (size_t i = 0; i < funcs.size(); ++i) {
    uint64_t sym = symtab + 24 * (i + 1);
    t_.write_u32(sym, uint32_t(strtab.size()));
    t_.write_u8(sym + 4, 0x12);   // STB_GLOBAL | STT_FUNC
    t_.write_u16(sym + 6, 1);     // a defined section
    t_.write_u64(sym + 8, base + funcs[i].offset);
    t_.write_u64(sym + 16, funcs[i].size);
    strtab += funcs[i].name;
    strtab.push_back('\0');
  }
  uint64_t str = t_.alloc(strtab.size());
  t_.write(str, strtab.data(), strtab.size());
  uint64_t ks = t_.alloc(0x20);
  t_.set(ks, "mod_kallsyms", "symtab", symtab);
  t_.set(ks, "mod_kallsyms", "num_symtab", funcs.size() + 1);
  t_.set(ks, "mod_kallsyms", "strtab", str);
  t_.set(mod, "module", "kallsyms", ks);
  list_add_tail(t_.addr_of(mod, "module", "list"), *t_.symbol_address("modules"));
  return mod;
}

uint64_t FakeKernel::module_base(uint64_t module) { return t_.peek_u64(t_.addr_of(module, "module", "core_layout.base")); }

void FakeKernel::list_init(uint64_t head) {
  t_.write_u64(head, head);
  t_.write_u64(head + 8, head);
}

void FakeKernel::list_add_tail(uint64_t node, uint64_t head) {
  uint64_t prev = t_.peek_u64(head + 8);
  t_.write_u64(node, head);
  t_.write_u64(node + 8, prev);
  t_.write_u64(prev, node);
  t_.write_u64(head + 8, node);
}

uint64_t FakeKernel::new_task(int pid, int tgid, std::string_view comm, uint32_t state, int cpu) {
  uint64_t task = t_.alloc(kTaskSize);
  t_.set(task, "task_struct", "pid", uint32_t(pid));
  t_.set(task, "task_struct", "tgid", uint32_t(tgid));
  t_.set_string(task, "task_struct", "comm", comm);
  t_.set(task, "task_struct", "__state", state);
  t_.set(task, "task_struct", "cpu", uint32_t(cpu));
  uint64_t stack = t_.alloc(0x4000, 0x4000);  // THREAD_SIZE is 16 KiB on x86-64 (without KASAN)
  t_.set(task, "task_struct", "stack", stack);
  return task;
}

uint64_t FakeKernel::add_task(int pid, std::string_view comm, uint32_t state, int cpu) {
  uint64_t task = new_task(pid, pid, comm, state, cpu);
  uint64_t signal = t_.alloc(0x40);
  uint64_t thread_head = t_.addr_of(signal, "signal_struct", "thread_head");
  list_init(thread_head);
  t_.set(task, "task_struct", "signal", signal);
  list_add_tail(t_.addr_of(task, "task_struct", "thread_node"), thread_head);
  list_add_tail(t_.addr_of(task, "task_struct", "tasks"), t_.addr_of(init_task_, "task_struct", "tasks"));
  return task;
}

uint64_t FakeKernel::add_thread(uint64_t leader, int pid, std::string_view comm, uint32_t state, int cpu) {
  uint32_t tgid = t_.peek_u32(t_.addr_of(leader, "task_struct", "tgid"));
  uint64_t signal = t_.peek_u64(t_.addr_of(leader, "task_struct", "signal"));
  uint64_t task = new_task(pid, int(tgid), comm, state, cpu);
  t_.set(task, "task_struct", "signal", signal);
  list_add_tail(t_.addr_of(task, "task_struct", "thread_node"), t_.addr_of(signal, "signal_struct", "thread_head"));
  return task;
}

void FakeKernel::set_curr(int cpu, uint64_t task) {
  t_.set(per_cpu_addr(cpu, "runqueues"), "rq", "curr", task);
  t_.set(task, "task_struct", "on_cpu", 1);
  t_.set(task, "task_struct", "cpu", uint32_t(cpu));
}

void FakeKernel::make_preempt_rt() {
  // 6.12 PREEMPT_RT: struct rt_mutex_base { raw_spinlock_t wait_lock; struct
  // rb_root_cached waiters; struct task_struct *owner; } inside every sleeping lock.
  t_.add_struct("rb_node", 0x18, {{"__rb_parent_color", 0x0, 8, "long unsigned int"},
                                  {"rb_right", 0x8, 8, "struct rb_node *"},
                                  {"rb_left", 0x10, 8, "struct rb_node *"}});
  t_.add_struct("rt_mutex_base", 0x20, {{"wait_lock", 0x0, 4, "raw_spinlock_t"},
                                        {"waiters", 0x8, 0x10, "struct rb_root_cached"},
                                        {"waiters.rb_root", 0x8, 8, "struct rb_root"},
                                        {"waiters.rb_root.rb_node", 0x8, 8, "struct rb_node *"},
                                        {"waiters.rb_leftmost", 0x10, 8, "struct rb_node *"},
                                        {"owner", 0x18, 8, "struct task_struct *"}});
  t_.add_struct("rt_mutex_waiter", 0x70, {{"tree", 0x0, 0x28, "struct rt_waiter_node"},
                                          {"tree.entry", 0x0, 0x18, "struct rb_node"},
                                          {"tree.prio", 0x18, 4, "int"},
                                          {"tree.deadline", 0x20, 8, "u64"},
                                          {"pi_tree", 0x28, 0x28, "struct rt_waiter_node"},
                                          {"task", 0x50, 8, "struct task_struct *"},
                                          {"lock", 0x58, 8, "struct rt_mutex_base *"},
                                          {"wake_state", 0x60, 4, "unsigned int"},
                                          {"ww_ctx", 0x68, 8, "struct ww_acquire_ctx *"}});
  t_.add_struct("mutex", 0x20, {{"rtmutex", 0x0, 0x20, "struct rt_mutex_base"}});
  t_.add_struct("rt_mutex", 0x20, {{"rtmutex", 0x0, 0x20, "struct rt_mutex_base"}});
  t_.add_struct("spinlock", 0x20, {{"lock", 0x0, 0x20, "struct rt_mutex_base"}});
  t_.add_struct("rw_semaphore", 0x28, {{"rwbase", 0x0, 0x28, "struct rwbase_rt"},
                                       {"rwbase.readers", 0x0, 4, "atomic_t"},
                                       {"rwbase.rtmutex", 0x8, 0x20, "struct rt_mutex_base"}});
  t_.add_struct("rwlock", 0x30, {{"rwbase", 0x0, 0x28, "struct rwbase_rt"},
                                 {"rwbase.readers", 0x0, 4, "atomic_t"},
                                 {"rwbase.rtmutex", 0x8, 0x20, "struct rt_mutex_base"},
                                 {"readers", 0x28, 4, "atomic_t"}});
}

uint64_t FakeKernel::add_rt_lock(std::string struct_name, std::string name, uint64_t base_offset, uint64_t owner_task) {
  auto size = t_.struct_size(struct_name);
  if (!size) throw std::logic_error("FakeKernel::add_rt_lock: no struct " + struct_name);
  uint64_t lock = t_.add_global(std::move(name), *size);
  t_.set(lock + base_offset, "rt_mutex_base", "owner", owner_task);
  return lock;
}

uint64_t FakeKernel::add_rt_waiter(uint64_t base, uint64_t task, int prio, uint64_t waiter) {
  t_.set(waiter, "rt_mutex_waiter", "task", task);
  t_.set(waiter, "rt_mutex_waiter", "lock", base);
  t_.set(waiter, "rt_mutex_waiter", "tree.prio", uint32_t(prio));
  t_.set(task, "task_struct", "pi_blocked_on", waiter);
  // A plain binary-search-tree insert (an rbtree is one): lower prio left, equal prio
  // right of the earlier waiter, like rt_waiter_node_less().
  uint64_t link = t_.addr_of(base, "rt_mutex_base", "waiters.rb_root.rb_node");
  uint64_t parent = 0;
  while (uint64_t node = t_.peek_u64(link)) {
    parent = node;
    int p = int(t_.peek_u32(node + 0x18));  // tree.prio: tree.entry is at offset 0
    link = prio < p ? node + 0x10 /* rb_left */ : node + 0x8 /* rb_right */;
  }
  t_.write_u64(waiter, parent);  // __rb_parent_color (black)
  t_.write_u64(link, waiter);
  uint64_t owner = t_.peek_u64(t_.addr_of(base, "rt_mutex_base", "owner"));
  t_.set(base, "rt_mutex_base", "owner", owner | 1);  // RT_MUTEX_HAS_WAITERS
  return waiter;
}

uint64_t FakeKernel::add_mutex(std::string name, uint64_t owner_task, uint64_t flags) {
  uint64_t m = t_.add_global(std::move(name), 0x20);
  t_.set(m, "mutex", "owner", owner_task | flags);
  list_init(t_.addr_of(m, "mutex", "wait_list"));
  return m;
}

uint64_t FakeKernel::add_mutex_waiter(uint64_t mutex, uint64_t task) {
  uint64_t w = t_.alloc(0x18);
  t_.set(w, "mutex_waiter", "task", task);
  list_add_tail(t_.addr_of(w, "mutex_waiter", "list"), t_.addr_of(mutex, "mutex", "wait_list"));
  return w;
}

uint64_t FakeKernel::queue_ttwu(int cpu, uint64_t task) {
  uint64_t node = t_.addr_of(task, "task_struct", "wake_entry");
  uint64_t queue = per_cpu_addr(cpu, "call_single_queue");
  t_.set(node, "__call_single_data", "node.llist", t_.peek_u64(queue));
  t_.set(node, "__call_single_data", "node.u_flags", 0x30);  // CSD_TYPE_TTWU, never locked
  t_.write_u64(queue, node);
  return node;
}

uint64_t FakeKernel::queue_csd(int cpu, uint64_t func, uint64_t info, uint32_t flags) {
  uint64_t csd = t_.alloc(0x20);
  uint64_t queue = per_cpu_addr(cpu, "call_single_queue");
  uint64_t first = t_.peek_u64(queue);
  t_.set(csd, "__call_single_data", "node.llist", first);
  t_.set(csd, "__call_single_data", "node.u_flags", flags);
  t_.set(csd, "__call_single_data", "func", func);
  t_.set(csd, "__call_single_data", "info", info);
  t_.write_u64(queue, csd);
  return csd;
}

}  // namespace kstuck::test
