// SPDX-License-Identifier: GPL-2.0
// DwarfTypes on this test's own DWARF (kernel-like types below, against the compiler's
// offsetof), on broken files, against BtfTypes on the real 6.1 vmlinux, and a KdumpTarget
// whose vmlinux lost its .BTF against one whose kept it (the last two skip without the
// kernel cache).
#include "analysis/kdump_target/dwarf_types.h"

#include <bpf/btf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "analysis/btf/btf_types.h"
#include "analysis/kdump_target/kdump_target.h"
#include "tests/unit/dev_dump.h"

// Kernel-like types in this file's DWARF (tests/CMakeLists.txt builds it with -g). They
// sit at global scope: types inside a namespace are not top-level DIEs.
struct dt_list_head {
  dt_list_head *next, *prev;
};
typedef unsigned int dt_u32;
struct dt_pid_link {
  int nr;
  void* ns;
};
struct dt_opaque;  // declared, never defined
struct dt_task {
  volatile long state;
  union {
    dt_u32 flags;
    dt_u32 alias;
  };
  unsigned int on_cpu : 1, prio : 7;
  struct {
    dt_list_head tasks;
    int cpu;
  };
  dt_pid_link numbers[2];
  const char* name;
  int grid[2][3];
  void (*callback)(int);
  dt_opaque* opaque;
  dt_list_head* heads[4];
  char tail[];
};
typedef struct dt_task dt_task_t;
union dt_word {
  long l;
  unsigned char bytes[8];
};
// Definitions, so that the compiler describes the types.
dt_task dt_task_instance;
dt_task_t* dt_task_pointer;
dt_word dt_word_instance;

namespace kstuck {
namespace {

namespace fs = std::filesystem;

fs::path scratch(const std::string& name) {
  fs::path dir = fs::path(testing::TempDir()) / "kstuck_dwarf_types_test";
  fs::create_directories(dir);
  return dir / name;
}

// Removes a scratch copy however the test ends.
struct RemoveOnExit {
  fs::path path;
  ~RemoveOnExit() {
    std::error_code ec;
    fs::remove(path, ec);
  }
};

// This test's executable (through the link, which valgrind and the like keep pointing at it).
std::string self_path() { return fs::read_symlink("/proc/self/exe").string(); }

std::unique_ptr<DwarfTypes> own_dwarf() {
  auto t = DwarfTypes::open(self_path());
  EXPECT_TRUE(t) << t.error().describe();
  return t ? std::move(*t) : nullptr;
}

TEST(DwarfTypes, OwnTypesMatchTheCompiler) {
  auto t = own_dwarf();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->struct_size("dt_task").value(), sizeof(dt_task));
  EXPECT_EQ(t->struct_size("struct dt_task").value(), sizeof(dt_task));
  EXPECT_EQ(t->struct_size("dt_task_t").value(), sizeof(dt_task));  // a typedef
  EXPECT_EQ(t->struct_size("union dt_word").value(), sizeof(dt_word));
  EXPECT_EQ(t->struct_size("dt_word").value(), sizeof(dt_word));  // no struct of that name: the union
  for (const char* absent : {"union dt_task", "dt_opaque", "dt_u32", "no_such_type", "", "struct "}) {
    auto s = t->struct_size(absent);
    ASSERT_FALSE(s) << absent;
    EXPECT_EQ(s.error().kind(), ErrorKind::NotFound) << absent;
  }

  struct Want {
    const char* path;
    size_t offset, size;
    const char* type_name;
  };
  const Want wants[] = {
      {"state", offsetof(dt_task, state), sizeof(long), "volatile long int"},
      {"flags", offsetof(dt_task, flags), 4, "dt_u32"},  // in an anonymous union
      {"alias", offsetof(dt_task, alias), 4, "dt_u32"},
      {"tasks", offsetof(dt_task, tasks), sizeof(dt_list_head), "struct dt_list_head"},  // anonymous struct
      {"tasks.prev", offsetof(dt_task, tasks.prev), 8, "struct dt_list_head *"},
      {"cpu", offsetof(dt_task, cpu), 4, "int"},
      {"numbers", offsetof(dt_task, numbers), sizeof(dt_pid_link[2]), "struct dt_pid_link[2]"},
      {"numbers[1].ns", offsetof(dt_task, numbers[1].ns), 8, "void *"},
      {"name", offsetof(dt_task, name), 8, "const char *"},
      // BTF (pahole) flattens int[2][3] into int[6]; so do we.
      {"grid", offsetof(dt_task, grid), sizeof(int[2][3]), "int[6]"},
      {"grid[4]", offsetof(dt_task, grid) + 4 * sizeof(int), sizeof(int), "int"},
      {"callback", offsetof(dt_task, callback), 8, "function *"},
      {"opaque", offsetof(dt_task, opaque), 8, "struct dt_opaque *"},
      {"heads", offsetof(dt_task, heads), 32, "struct dt_list_head *[4]"},
      {"heads[3]", offsetof(dt_task, heads) + 24, 8, "struct dt_list_head *"},
      {"tail", offsetof(dt_task, tail), 0, "char[0]"},
      {"tail[100]", offsetof(dt_task, tail) + 100, 1, "char"},  // a flexible array has no bound
  };
  for (const Want& w : wants) {
    auto m = t->member("dt_task", w.path);
    ASSERT_TRUE(m) << w.path << ": " << m.error().describe();
    EXPECT_EQ(m->offset, w.offset) << w.path;
    EXPECT_EQ(m->size, w.size) << w.path;
    EXPECT_EQ(m->type_name, w.type_name) << w.path;
    EXPECT_EQ(m->bit_size, 0u) << w.path;
  }
  EXPECT_EQ(t->member("struct dt_task", "cpu")->offset, offsetof(dt_task, cpu));
  EXPECT_EQ(t->member("dt_task_t", "numbers[1].nr")->offset, offsetof(dt_task, numbers[1].nr));
  EXPECT_EQ(t->member("union dt_word", "bytes[7]")->offset, 7u);

  // Bitfields: within a naturally aligned unit of their declared type.
  auto on_cpu = t->member("dt_task", "on_cpu"), prio = t->member("dt_task", "prio");
  ASSERT_TRUE(on_cpu && prio);
  EXPECT_EQ(on_cpu->offset, offsetof(dt_task, flags) + 4);
  EXPECT_EQ(on_cpu->size, 4u);
  EXPECT_EQ(on_cpu->bit_offset, 0u);
  EXPECT_EQ(on_cpu->bit_size, 1u);
  EXPECT_EQ(prio->offset, on_cpu->offset);
  EXPECT_EQ(prio->bit_offset, 1u);
  EXPECT_EQ(prio->bit_size, 7u);
  EXPECT_EQ(prio->type_name, "unsigned int");

  struct Refused {
    const char* path;
    ErrorKind kind;
  };
  const Refused refused[] = {
      {"nope", ErrorKind::NotFound},         {"tasks.nope", ErrorKind::NotFound}, {"", ErrorKind::Invalid},
      {"name.x", ErrorKind::Invalid},        {"numbers[2]", ErrorKind::Invalid},  {"numbers[x]", ErrorKind::Invalid},
      {"numbers[1", ErrorKind::Invalid},     {"cpu[0]", ErrorKind::Invalid},      {"grid[6]", ErrorKind::Invalid},
      {"opaque.anything", ErrorKind::Invalid},
  };
  for (const Refused& r : refused) {
    auto m = t->member("dt_task", r.path);
    ASSERT_FALSE(m) << r.path;
    EXPECT_EQ(m.error().kind(), r.kind) << r.path << ": " << m.error().message();
  }
  EXPECT_EQ(t->member("no_such_type", "x").error().kind(), ErrorKind::NotFound);
  // Cached answers are the same answers.
  EXPECT_EQ(t->member("dt_task", "cpu")->offset, offsetof(dt_task, cpu));
  EXPECT_EQ(t->member("dt_task", "nope").error().kind(), ErrorKind::NotFound);
}

TEST(DwarfTypes, RefusesFilesWithoutDwarf) {
  fs::path text = scratch("not-elf");
  std::ofstream(text) << "not an ELF file\n";
  auto t = DwarfTypes::open(text);
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message().find("not an ELF"), std::string::npos) << t.error().message();
  fs::path empty = scratch("empty");
  std::ofstream(empty).flush();
  EXPECT_FALSE(DwarfTypes::open(empty));
  EXPECT_FALSE(DwarfTypes::open(scratch("does-not-exist")));
  EXPECT_FALSE(DwarfTypes::open(testing::TempDir()));  // a directory
  EXPECT_FALSE(DwarfTypes::open("/dev/null"));
  // An ELF file without DWARF (Debian strips its binaries).
  if (auto stripped = DwarfTypes::open("/bin/true"); !stripped) {
    EXPECT_EQ(stripped.error().kind(), ErrorKind::NotFound);
    EXPECT_NE(stripped.error().message().find("no DWARF"), std::string::npos) << stripped.error().message();
  }
}

// The file offset and size of one section of an ELF file.
std::pair<uint64_t, uint64_t> section_extent(const fs::path& path, const char* wanted) {
  std::pair<uint64_t, uint64_t> out{0, 0};
  elf_version(EV_CURRENT);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  Elf* elf = elf_begin(fd, ELF_C_READ, nullptr);
  size_t shstrndx = 0;
  if (elf && elf_getshdrstrndx(elf, &shstrndx) == 0) {
    for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn; scn = elf_nextscn(elf, scn)) {
      GElf_Shdr sh;
      const char* name = gelf_getshdr(scn, &sh) ? elf_strptr(elf, shstrndx, sh.sh_name) : nullptr;
      if (name && std::strcmp(name, wanted) == 0) out = {sh.sh_offset, sh.sh_size};
    }
  }
  if (elf) elf_end(elf);
  ::close(fd);
  return out;
}

// Where in .debug_info the DIEs of the dt_* types start and end (children included).
std::pair<uint64_t, uint64_t> dt_types_extent(const fs::path& path) {
  uint64_t first = UINT64_MAX, last = 0;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  Dwarf* dwarf = fd >= 0 ? dwarf_begin(fd, DWARF_C_READ) : nullptr;
  Dwarf_Off off = 0, next = 0;
  size_t header = 0;
  while (dwarf && dwarf_nextcu(dwarf, off, &next, &header, nullptr, nullptr, nullptr) == 0) {
    Dwarf_Die unit, die, sibling;
    if (dwarf_offdie(dwarf, off + header, &unit) && dwarf_child(&unit, &die) == 0) {
      do {
        const char* name = dwarf_diename(&die);
        bool more = dwarf_siblingof(&die, &sibling) == 0;
        if (name && std::strncmp(name, "dt_", 3) == 0) {
          first = std::min<uint64_t>(first, dwarf_dieoffset(&die));
          last = std::max<uint64_t>(last, more ? dwarf_dieoffset(&sibling) : next);
        }
        if (!more) break;
        die = sibling;
      } while (true);
    }
    off = next;
  }
  if (dwarf) dwarf_end(dwarf);
  if (fd >= 0) ::close(fd);
  return {first, last > first ? last - first : 0};
}

// This test's own binary cut short and with its DWARF damaged, mostly in the DIEs of the
// dt_* types: errors or answers, never a crash or a hang (the bounds of DwarfTypes and
// libdw's checks).
TEST(DwarfTypes, SurvivesDamagedDwarf) {
  fs::path copy = scratch("damaged-self");
  RemoveOnExit remove{copy};
  fs::copy_file(self_path(), copy, fs::copy_options::overwrite_existing);
  auto [info_offset, info_size] = section_extent(copy, ".debug_info");
  auto [abbrev_offset, abbrev_size] = section_extent(copy, ".debug_abbrev");
  auto [types_offset, types_size] = dt_types_extent(copy);
  ASSERT_GT(info_size, 0u);
  ASSERT_GT(abbrev_size, 0u);
  ASSERT_GT(types_size, 0u);
  // The answers as one string, to count the rounds the damage changed them in. A name
  // no unit defines indexes every unit: in a build with -g everywhere that is the bulk of
  // the time, so only some rounds ask for one.
  auto ask = [&](DwarfTypes& t, bool index_every_unit) {
    std::string answers;
    for (const char* name : {"dt_task", "dt_word"}) {
      auto size = t.struct_size(name);
      answers += size ? std::to_string(*size) : size.error().message();
    }
    if (index_every_unit) (void)t.struct_size("no_such_type");
    for (const char* path : {"cpu", "numbers[1].ns", "prio", "grid[4]", "tasks.prev", "tail[3]", "callback"}) {
      auto m = t.member("dt_task_t", path);
      answers += m ? std::to_string(m->offset) + " " + std::to_string(m->size) + " " + m->type_name : m.error().message();
    }
    return answers;
  };
  std::string clean = ask(*DwarfTypes::open(copy).value(), true);
  int fd = ::open(copy.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  std::mt19937_64 rng(42);
  int opened = 0, changed = 0;
  for (int round = 0; round < 500; round++) {
    // A few random bytes of the dt_* DIEs, of .debug_info or of .debug_abbrev, restored
    // after the round.
    uint64_t base = info_offset + types_offset, size = types_size;
    if (round % 4 == 2) base = info_offset, size = info_size;
    if (round % 4 == 3) base = abbrev_offset, size = abbrev_size;
    std::vector<std::pair<uint64_t, unsigned char>> saved;
    for (int i = 0; i < 8; i++) {
      uint64_t at = base + rng() % size;
      unsigned char old = 0, bad = static_cast<unsigned char>(rng());
      ASSERT_EQ(::pread(fd, &old, 1, static_cast<off_t>(at)), 1);
      ASSERT_EQ(::pwrite(fd, &bad, 1, static_cast<off_t>(at)), 1);
      saved.emplace_back(at, old);
    }
    if (auto t = DwarfTypes::open(copy)) {
      opened++;
      changed += ask(**t, round % 10 == 0) != clean;
    }
    for (auto it = saved.rbegin(); it != saved.rend(); ++it)
      ASSERT_EQ(::pwrite(fd, &it->second, 1, static_cast<off_t>(it->first)), 1);
  }
  EXPECT_GT(opened, 0);
  EXPECT_GT(changed, 0);
  std::printf("%d of 500 damaged copies opened, %d of them answered differently\n", opened, changed);
  // Cut inside .debug_info: libelf refuses sections past the end of the file.
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(info_offset + info_size / 2)), 0);
  ::close(fd);
  if (auto t = DwarfTypes::open(copy)) (void)ask(**t, true);
}

// --- the real 6.1 vmlinux, when the kernel cache has it ---

fs::path dev_vmlinux() {
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dev_dump::cache() / "kernel", ec)) {
    auto name = e.path().filename().string();
    if (name.rfind("6.1.", 0) == 0 && name.find("-cloud-amd64") != std::string::npos && fs::exists(e.path() / "vmlinux"))
      return e.path() / "vmlinux";
  }
  return {};
}

// What the analysis asks a KdumpTarget, as runs of analyze, hang, tasks, xcall and mutex
// on the dev dumps asked it, misses included (they probe other kernels' layouts: 6.1 has
// no pcpu_hot, tk_data, task_struct.blocked_on), plus what the unwinder and the lock
// readers ask for on other layouts and bitfields the orc_entry and task_struct have.
const std::pair<const char*, const char*> kAnalysisMembers[] = {
    {"__call_single_data", "func"}, {"__call_single_data", "info"}, {"__call_single_data", "node.llist"},
    {"__call_single_data", "node.u_flags"}, {"__call_single_data", "node.src"}, {"__call_single_data", "node.dst"},
    {"call_single_data_t", "node.u_flags"}, {"call_function_data", "pcpu"}, {"cfd_percpu", "csd"},
    {"cea_exception_stacks", "DB_stack"}, {"cea_exception_stacks", "DF_stack"}, {"cea_exception_stacks", "MCE_stack"},
    {"cea_exception_stacks", "NMI_stack"}, {"cea_exception_stacks", "VC_stack"},
    {"hrtimer_clock_base", "active.rb_root.rb_leftmost"}, {"hrtimer_cpu_base", "clock_base"},
    {"hrtimer_cpu_base", "clock_base[1].active"}, {"hrtimer_cpu_base", "expires_next"}, {"timerqueue_node", "expires"},
    {"inactive_task_frame", "bp"}, {"inactive_task_frame", "ret_addr"}, {"mod_kallsyms", "num_symtab"},
    {"mod_kallsyms", "strtab"}, {"mod_kallsyms", "symtab"}, {"module", "arch.num_orcs"}, {"module", "arch.orc_unwind"},
    {"module", "arch.orc_unwind_ip"}, {"module", "build_id"}, {"module", "core_layout"}, {"module", "core_layout.base"},
    {"module", "core_layout.size"}, {"module", "core_layout.text_size"}, {"module", "init_layout"},
    {"module", "init_layout.base"}, {"module", "init_layout.size"}, {"module", "init_layout.text_size"},
    {"module", "kallsyms"}, {"module", "list"}, {"module", "mem"}, {"module", "name"}, {"module", "state"},
    {"module_memory", "base"}, {"module_memory", "size"}, {"mutex", "lock"}, {"mutex", "owner"},
    {"mutex", "owner.counter"}, {"mutex", "rtmutex"}, {"mutex", "wait_list"}, {"mutex", "wait_list.next"},
    {"mutex_waiter", "list"}, {"mutex_waiter", "task"}, {"list_head", "next"}, {"list_head", "prev"},
    {"orc_entry", "sp_offset"}, {"orc_entry", "bp_offset"}, {"orc_entry", "sp_reg"}, {"orc_entry", "bp_reg"},
    {"orc_entry", "type"}, {"orc_entry", "signal"}, {"orc_entry", "end"}, {"pcpu_hot", "current_task"},
    {"pcpu_hot", "hardirq_stack_inuse"}, {"pcpu_hot", "hardirq_stack_ptr"}, {"pcpu_hot", "preempt_count"},
    {"prb_desc", "state_var"}, {"prb_desc", "text_blk_lpos.begin"}, {"prb_desc", "text_blk_lpos.next"},
    {"printk_info", "level"}, {"printk_info", "seq"}, {"printk_info", "text_len"}, {"printk_info", "ts_nsec"},
    {"printk_ringbuffer", "desc_ring.count_bits"}, {"printk_ringbuffer", "desc_ring.descs"},
    {"printk_ringbuffer", "desc_ring.head_id"}, {"printk_ringbuffer", "desc_ring.infos"},
    {"printk_ringbuffer", "desc_ring.tail_id"}, {"printk_ringbuffer", "text_data_ring.data"},
    {"printk_ringbuffer", "text_data_ring.size_bits"}, {"rb_node", "rb_left"}, {"rb_node", "rb_right"},
    {"rq", "clock"}, {"rq", "clock_task"}, {"rq", "curr"}, {"rq", "idle"}, {"rq", "online"}, {"rq", "cpu"},
    {"rt_mutex", "rtmutex"}, {"rt_mutex_base", "owner"}, {"rt_mutex_waiter", "lock"}, {"rt_mutex_waiter", "task"},
    {"rt_mutex_waiter", "tree.entry"}, {"rt_mutex_waiter", "tree_entry"}, {"rt_mutex_waiter", "wake_state"},
    {"rw_semaphore", "count.counter"}, {"rw_semaphore", "owner.counter"}, {"rw_semaphore", "rwbase.rtmutex"},
    {"rw_semaphore", "wait_list"}, {"rwlock_t", "rwbase.rtmutex"}, {"rwlock_t", "raw_lock"}, {"spinlock", "rlock"},
    {"signal_struct", "thread_head"}, {"task_struct", "__state"}, {"task_struct", "state"},
    {"task_struct", "blocked_on"}, {"task_struct", "blocker"}, {"task_struct", "blocker_mutex"}, {"task_struct", "comm"},
    {"task_struct", "comm[15]"}, {"task_struct", "cpu"}, {"task_struct", "exit_state"}, {"task_struct", "flags"},
    {"task_struct", "on_cpu"}, {"task_struct", "on_rq"}, {"task_struct", "pi_blocked_on"}, {"task_struct", "pid"},
    {"task_struct", "sched_info.last_arrival"}, {"task_struct", "sched_info.last_queued"},
    {"task_struct", "se.exec_start"}, {"task_struct", "signal"}, {"task_struct", "stack"}, {"task_struct", "tasks"},
    {"task_struct", "tgid"}, {"task_struct", "thread.sp"}, {"task_struct", "thread_info.cpu"},
    {"task_struct", "thread_node"}, {"task_struct", "wake_entry"}, {"task_struct", "real_cred"},
    {"task_struct", "sched_reset_on_fork"}, {"task_struct", "sched_contributes_to_load"},
    {"task_struct", "sched_migrated"}, {"task_struct", "in_execve"}, {"task_struct", "in_iowait"},
    {"task_struct", "atomic_flags"}, {"pid", "numbers[0].nr"}, {"pid", "numbers[1].nr"},
    {"timekeeper", "offs_boot"}, {"timekeeper", "tkr_mono.base"}, {"tk_data", "timekeeper"},
    {"tss_struct", "x86_tss.sp0"}, {"uts_namespace", "name.machine"}, {"uts_namespace", "name.nodename"},
    {"uts_namespace", "name.release"}, {"uts_namespace", "name.version"}, {"pt_regs", "ip"}, {"pt_regs", "sp"},
    {"file_operations", "read"}, {"seqcount_raw_spinlock", "seqcount.sequence"}, {"struct task_struct", "pid"},
    {"union thread_union", "task"}, {"task_struct", "no_such_member"}, {"no_such_struct_anywhere", "x"},
};
const char* const kAnalysisStructs[] = {
    "entry_stack", "inactive_task_frame", "orc_entry", "prb_desc", "printk_info", "seqcount_raw_spinlock",
    "seqcount", "seqcount_raw_spinlock_t", "module_memory", "pcpu_hot", "tk_data", "task_struct",
    "struct task_struct", "rq", "mutex", "__call_single_data", "call_single_data_t", "module", "list_head",
    "pt_regs", "upid", "rwlock_t", "spinlock_t", "atomic_t", "union thread_union", "no_such_struct_anywhere",
};

// Every member path of a struct as BTF describes it, to a depth of three: members of
// anonymous structs and unions by their own names, nested members ("a.b"), and the last
// and one-past-the-last element of arrays, where a wrong element size or bound shows.
std::vector<std::string> member_paths(const struct btf* b, const char* struct_name) {
  std::vector<std::string> out;
  int32_t id = btf__find_by_name_kind(b, struct_name, BTF_KIND_STRUCT);
  if (id <= 0) return out;
  auto skip_mods = [b](int32_t t) {
    for (int i = 0; i < 32 && t > 0; i++) {
      const btf_type* bt = btf__type_by_id(b, t);
      if (!bt || !(btf_is_mod(bt) || btf_is_typedef(bt))) break;
      t = static_cast<int32_t>(bt->type);
    }
    return t;
  };
  std::function<void(int32_t, const std::string&, int)> walk = [&](int32_t agg, const std::string& prefix, int depth) {
    const btf_type* t = btf__type_by_id(b, agg);
    const btf_member* m = btf_members(t);
    for (int i = 0; i < btf_vlen(t); i++) {
      const char* name = btf__name_by_offset(b, m[i].name_off);
      int32_t type = skip_mods(static_cast<int32_t>(m[i].type));
      const btf_type* mt = btf__type_by_id(b, type);
      bool aggregate = mt && (btf_is_struct(mt) || btf_is_union(mt));
      if (!name || !*name) {
        if (aggregate) walk(type, prefix, depth);
        continue;
      }
      std::string path = prefix + name;
      out.push_back(path);
      if (mt && btf_is_array(mt) && btf_array(mt)->nelems > 0) {
        uint32_t n = btf_array(mt)->nelems;
        out.push_back(path + "[" + std::to_string(n - 1) + "]");
        out.push_back(path + "[" + std::to_string(n) + "]");
        path += "[" + std::to_string(n - 1) + "]";
        type = skip_mods(static_cast<int32_t>(btf_array(mt)->type));
        mt = btf__type_by_id(b, type);
        aggregate = mt && (btf_is_struct(mt) || btf_is_union(mt));
      }
      if (aggregate && depth < 2) walk(type, path + ".", depth + 1);
    }
  };
  walk(id, "", 0);
  return out;
}

// The same answer: equal fields, or the same kind of error.
void expect_same(const Result<TypeMember>& want, const Result<TypeMember>& got, const std::string& what) {
  if (!want) {
    ASSERT_FALSE(got) << what << " found only without BTF";
    EXPECT_EQ(got.error().kind(), want.error().kind()) << what << ": " << got.error().message();
    return;
  }
  ASSERT_TRUE(got) << what << ": " << got.error().describe();
  EXPECT_EQ(got->offset, want->offset) << what;
  EXPECT_EQ(got->size, want->size) << what;
  EXPECT_EQ(got->bit_offset, want->bit_offset) << what;
  EXPECT_EQ(got->bit_size, want->bit_size) << what;
  EXPECT_EQ(got->type_name, want->type_name) << what;
}

void expect_same(const Result<uint64_t>& want, const Result<uint64_t>& got, const std::string& what) {
  if (!want) {
    ASSERT_FALSE(got) << what << " found only without BTF";
    EXPECT_EQ(got.error().kind(), want.error().kind()) << what << ": " << got.error().message();
    return;
  }
  ASSERT_TRUE(got) << what << ": " << got.error().describe();
  EXPECT_EQ(*got, *want) << what;
}

// The analysis's structs, every member of them, and every pair it asks for.
template <class Types, class Reference>
int compare_all(Reference& want, Types& got, const struct btf* raw) {
  int compared = 0;
  std::set<std::string> structs;
  for (const char* s : kAnalysisStructs) {
    expect_same(want.struct_size(s), got.struct_size(s), std::string("size of ") + s);
    compared++;
  }
  for (auto [s, m] : kAnalysisMembers) {
    expect_same(want.member(s, m), got.member(s, m), std::string(s) + "." + m);
    compared++;
    structs.insert(s);
  }
  for (const std::string& s : structs) {
    for (const std::string& path : member_paths(raw, s.c_str())) {
      expect_same(want.member(s, path), got.member(s, path), s + "." + path);
      compared++;
    }
  }
  return compared;
}

TEST(DwarfTypes, RealVmlinuxAnswersLikeBtf) {
  fs::path vmlinux = dev_vmlinux();
  if (vmlinux.empty()) GTEST_SKIP() << "no 6.1 cloud vmlinux in " << dev_dump::cache();
  auto btf = BtfTypes::open(vmlinux);
  auto dwarf = DwarfTypes::open(vmlinux);
  ASSERT_TRUE(btf) << btf.error().describe();
  ASSERT_TRUE(dwarf) << dwarf.error().describe();
  int compared = compare_all(**btf, **dwarf, (*btf)->raw());
  EXPECT_GT(compared, 1500);
  std::printf("%d sizes and member paths compared\n", compared);

  // Spot checks of what the comparison holds equal.
  auto sp_reg = (*dwarf)->member("orc_entry", "sp_reg");
  ASSERT_TRUE(sp_reg);
  EXPECT_EQ(sp_reg->bit_size, 4u);
  EXPECT_EQ((*dwarf)->member("task_struct", "stack")->type_name, "void *");
  EXPECT_EQ((*dwarf)->member("task_struct", "tasks")->type_name, "struct list_head");
  EXPECT_EQ((*dwarf)->member("task_struct", "comm")->type_name, "char[16]");
  EXPECT_EQ((*dwarf)->member("task_struct", "real_cred")->type_name, "const struct cred *");
  EXPECT_EQ((*dwarf)->member("file_operations", "read")->type_name, "function *");
  EXPECT_EQ((*dwarf)->member("task_struct", "nope").error().kind(), ErrorKind::NotFound);
  EXPECT_EQ((*dwarf)->struct_size("pcpu_hot").error().kind(), ErrorKind::NotFound);
}

// --- a KdumpTarget whose vmlinux has no .BTF ---

std::string matching_vmlinux(const fs::path& dump) {
  std::error_code ec;
  for (const auto& d : fs::directory_iterator(dev_dump::cache() / "kernel", ec)) {
    fs::path v = d.path() / "vmlinux";
    if (fs::exists(v) && KdumpTarget::open(dump, {v.string(), false})) return v.string();
  }
  return {};
}

// A copy of the vmlinux as a kernel without CONFIG_DEBUG_INFO_BTF has it: no .BTF. The
// vmlinux keeps its relocations (--emit-relocs), and those of .text and .init.text name
// __start_BTF/__stop_BTF, which objcopy will not drop while anything refers to them.
bool copy_without_btf(const std::string& vmlinux, const fs::path& out, const char* more_options) {
  std::string cmd = std::string("objcopy ") + more_options +
                    " --remove-section=.BTF --remove-relocations=.text --remove-relocations=.init.text '" + vmlinux +
                    "' '" + out.string() + "'";
  return std::system(cmd.c_str()) == 0;
}

// Mappings of a file in this process: libelf maps each ELF it opens (ElfSymbols,
// DwarfTypes) once.
int mappings_of(const fs::path& file) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  int n = 0;
  while (std::getline(maps, line))
    if (line.size() > file.string().size() && line.compare(line.size() - file.string().size(), std::string::npos, file.string()) == 0)
      n++;
  return n;
}

class NoBtfVmlinux : public testing::Test {
 protected:
  void SetUp() override {
    dump_ = dev_dump::foundation_dump();
    if (!fs::exists(dump_)) GTEST_SKIP() << "no dev dump " << dump_;
    vmlinux_ = matching_vmlinux(dump_);
    if (vmlinux_.empty()) GTEST_SKIP() << "no vmlinux matching " << dump_;
    if (std::system("objcopy --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "no objcopy (binutils)";
  }
  fs::path dump_;
  std::string vmlinux_;
};

// The dev dump opened with its vmlinux and with a copy that lost .BTF: every answer the
// same, and the vmlinux with BTF never has its DWARF opened, misses included.
TEST_F(NoBtfVmlinux, DwarfAnswersLikeBtf) {
  fs::path copy = scratch("vmlinux-nobtf");
  RemoveOnExit remove{copy};
  ASSERT_TRUE(copy_without_btf(vmlinux_, copy, ""));
  auto with = KdumpTarget::open(dump_, {vmlinux_, false});
  auto without = KdumpTarget::open(dump_, {copy.string(), false});
  ASSERT_TRUE(with) << with.error().describe();
  ASSERT_TRUE(without) << without.error().describe();
  EXPECT_TRUE((*without)->info().build_id_matches);

  auto btf = BtfTypes::open(vmlinux_);  // for the member lists (libbpf keeps no mapping)
  ASSERT_TRUE(btf);
  int maps_before = mappings_of(vmlinux_);
  int compared = compare_all(**with, **without, (*btf)->raw());
  EXPECT_GT(compared, 1500);
  EXPECT_EQ(mappings_of(vmlinux_), maps_before) << "DWARF opened although BTF answered";
  EXPECT_GE(mappings_of(copy), 2) << "ElfSymbols and DwarfTypes each map the copy";

  // The copy's types are not the BTF's: a miss says where they came from and why.
  auto miss = (*without)->member("task_struct", "no_such_member");
  ASSERT_FALSE(miss);
  EXPECT_NE(miss.error().message().find("DWARF of " + copy.string()), std::string::npos) << miss.error().message();
  EXPECT_NE(miss.error().message().find(".BTF"), std::string::npos) << miss.error().message();

  // Every OFFSET()/SIZE() the kernel wrote into VMCOREINFO, through DWARF.
  std::istringstream lines((*without)->vmcoreinfo_raw());
  std::string line;
  int checked = 0;
  while (std::getline(lines, line)) {
    size_t close = line.find(")=");
    if (close == std::string::npos) continue;
    if (line.rfind("OFFSET(", 0) == 0) {
      std::string name = line.substr(7, close - 7);
      size_t dot = name.find('.');
      auto m = (*without)->member(name.substr(0, dot), name.substr(dot + 1));
      ASSERT_TRUE(m) << line << ": " << m.error().message();
      EXPECT_EQ(m->offset, std::stoull(line.substr(close + 2))) << line;
      checked++;
    } else if (line.rfind("SIZE(", 0) == 0) {
      auto s = (*without)->struct_size(line.substr(5, close - 5));
      ASSERT_TRUE(s) << line << ": " << s.error().message();
      EXPECT_EQ(*s, std::stoull(line.substr(close + 2))) << line;
      checked++;
    }
  }
  EXPECT_GT(checked, 40);
}

// Neither BTF nor DWARF in the vmlinux, none by build-id: one error names both reasons
// and what supplies the types.
TEST_F(NoBtfVmlinux, NoTypesAnywhereSaysWhy) {
  fs::path copy = scratch("vmlinux-nobtf-nodwarf");
  RemoveOnExit remove{copy};
  ASSERT_TRUE(copy_without_btf(vmlinux_, copy, "--strip-debug"));
  std::string urls = std::getenv("DEBUGINFOD_URLS") ? std::getenv("DEBUGINFOD_URLS") : "";
  ::unsetenv("DEBUGINFOD_URLS");
  auto t = KdumpTarget::open(dump_, {copy.string(), false});
  ASSERT_TRUE(t) << t.error().describe();
  fs::path empty_root = scratch("empty-debug-root");
  fs::create_directories(empty_root);
  (*t)->set_debuginfo_lookup(empty_root.string(), {});
  auto m = (*t)->member("task_struct", "pid");
  auto s = (*t)->struct_size("task_struct");
  if (!urls.empty()) ::setenv("DEBUGINFOD_URLS", urls.c_str(), 1);
  ASSERT_FALSE(m);
  ASSERT_FALSE(s);
  EXPECT_EQ(m.error().kind(), ErrorKind::NotFound);
  const std::string& why = m.error().message();
  for (const char* words : {"BTF: ", "no usable .BTF", "DWARF: ", "no DWARF", "no vmlinux with build-id", "--vmlinux PATH",
                            "-dbg package", "DEBUGINFOD_URLS"})
    EXPECT_NE(why.find(words), std::string::npos) << words << " not in: " << why;
  EXPECT_EQ(s.error().message(), why);  // remembered, not looked up again
}

}  // namespace
}  // namespace kstuck
