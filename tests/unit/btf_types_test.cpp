// SPDX-License-Identifier: GPL-2.0
// BtfTypes on BTF bytes built with libbpf's writer, on broken bytes, on split (module)
// BTF, and on the real vmlinux's .BTF section when the kernel cache has it.
#include "analysis/btf/btf_types.h"

#include <bpf/btf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/dev_dump.h"

namespace kstuck {
namespace {

std::vector<std::byte> raw_bytes(struct btf* b) {
  uint32_t size = 0;
  const void* data = btf__raw_data(b, &size);
  const auto* p = static_cast<const std::byte*>(data);
  return std::vector<std::byte>(p, p + size);
}

// A small kernel-like type graph:
//   struct list_head { struct list_head *next, *prev; };
//   typedef unsigned int u32;
//   struct pid_link { int nr; void *ns; };
//   struct task {                       // 80 bytes
//     volatile long __state;            // 0
//     union { u32 flags; u32 alias; };  // 8   anonymous union
//     unsigned int on_cpu:1, prio:7;    // 12  bitfields at bits 96, 97
//     struct { struct list_head tasks; int cpu; };  // 16  anonymous struct (24 bytes)
//     struct pid_link numbers[2];       // 40
//     const char *name;                 // 72
//   };
//   typedef struct task task_t;  per-CPU: struct pid_link runqueue_counts[2];
struct Built {
  std::vector<std::byte> bytes;
  int list_head = 0;
  int task = 0;
};

Built build_kernel_like() {
  struct btf* b = btf__new_empty();
  EXPECT_NE(b, nullptr);
  int int_id = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
  int uint_id = btf__add_int(b, "unsigned int", 4, 0);
  int long_id = btf__add_int(b, "long int", 8, BTF_INT_SIGNED);
  int char_id = btf__add_int(b, "char", 1, BTF_INT_SIGNED | BTF_INT_CHAR);
  // Fields attach to the type added last: the pointer to list_head comes after them.
  int lh = btf__add_struct(b, "list_head", 16);
  int lh_ptr = lh + 1;
  btf__add_field(b, "next", lh_ptr, 0, 0);
  btf__add_field(b, "prev", lh_ptr, 64, 0);
  EXPECT_EQ(btf__add_ptr(b, lh), lh_ptr);
  int u32 = btf__add_typedef(b, "u32", uint_id);
  int void_ptr = btf__add_ptr(b, 0);
  int pid_link = btf__add_struct(b, "pid_link", 16);
  btf__add_field(b, "nr", int_id, 0, 0);
  btf__add_field(b, "ns", void_ptr, 64, 0);
  int vlong = btf__add_volatile(b, long_id);
  int anon_union = btf__add_union(b, nullptr, 4);
  btf__add_field(b, "flags", u32, 0, 0);
  btf__add_field(b, "alias", u32, 0, 0);
  int anon_struct = btf__add_struct(b, nullptr, 24);
  btf__add_field(b, "tasks", lh, 0, 0);
  btf__add_field(b, "cpu", int_id, 128, 0);
  int numbers = btf__add_array(b, int_id, pid_link, 2);
  int const_char = btf__add_const(b, char_id);
  int name_ptr = btf__add_ptr(b, const_char);
  int task = btf__add_struct(b, "task", 80);
  btf__add_field(b, "__state", vlong, 0, 0);
  btf__add_field(b, nullptr, anon_union, 64, 0);
  btf__add_field(b, "on_cpu", uint_id, 96, 1);
  btf__add_field(b, "prio", uint_id, 97, 7);
  btf__add_field(b, nullptr, anon_struct, 128, 0);
  btf__add_field(b, "numbers", numbers, 320, 0);
  btf__add_field(b, "name", name_ptr, 576, 0);
  btf__add_typedef(b, "task_t", task);
  int percpu_var = btf__add_var(b, "runqueue_counts", BTF_VAR_GLOBAL_ALLOCATED, numbers);
  btf__add_datasec(b, ".data..percpu", 32);
  btf__add_datasec_var_info(b, percpu_var, 0, 32);
  Built out{raw_bytes(b), lh, task};
  btf__free(b);
  return out;
}

TEST(BtfTypes, MembersFromBytes) {
  Built built = build_kernel_like();
  auto t = BtfTypes::from_bytes(built.bytes);
  ASSERT_TRUE(t) << t.error().describe();
  BtfTypes& types = **t;

  EXPECT_EQ(types.struct_size("list_head").value(), 16u);
  EXPECT_EQ(types.struct_size("struct list_head").value(), 16u);
  EXPECT_EQ(types.struct_size("task_t").value(), 80u);  // through the typedef
  EXPECT_FALSE(types.struct_size("union list_head"));   // a struct, not a union
  EXPECT_EQ(types.struct_size("no_such").error().kind(), ErrorKind::NotFound);

  auto next = types.member("list_head", "prev");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->offset, 8u);
  EXPECT_EQ(next->size, 8u);
  EXPECT_EQ(next->type_name, "struct list_head *");

  auto state = types.member("task", "__state");
  ASSERT_TRUE(state);
  EXPECT_EQ(state->offset, 0u);
  EXPECT_EQ(state->type_name, "volatile long int");

  // Members of anonymous unions and structs by their own names.
  auto alias = types.member("task", "alias");
  ASSERT_TRUE(alias);
  EXPECT_EQ(alias->offset, 8u);
  EXPECT_EQ(alias->size, 4u);
  EXPECT_EQ(alias->type_name, "u32");
  auto cpu = types.member("task", "cpu");
  ASSERT_TRUE(cpu);
  EXPECT_EQ(cpu->offset, 16u + 16u);

  // Dotted paths and subscripts.
  auto prev = types.member("task", "tasks.prev");
  ASSERT_TRUE(prev);
  EXPECT_EQ(prev->offset, 16u + 8u);
  auto ns = types.member("task", "numbers[1].ns");
  ASSERT_TRUE(ns);
  EXPECT_EQ(ns->offset, 40u + 16u + 8u);
  auto arr = types.member("task", "numbers");
  ASSERT_TRUE(arr);
  EXPECT_EQ(arr->size, 32u);
  EXPECT_EQ(arr->type_name, "struct pid_link[2]");
  EXPECT_EQ(types.member("task", "numbers[2].nr").error().kind(), ErrorKind::Invalid);  // past the end
  EXPECT_EQ(types.member("task", "cpu[0]").error().kind(), ErrorKind::Invalid);          // not an array
  EXPECT_EQ(types.member("task", "numbers[x]").error().kind(), ErrorKind::Invalid);
  EXPECT_EQ(types.member("task", "__state.x").error().kind(), ErrorKind::Invalid);       // not a struct
  EXPECT_EQ(types.member("task", "nope").error().kind(), ErrorKind::NotFound);
  EXPECT_EQ(types.member("task", "").error().kind(), ErrorKind::Invalid);

  auto name = types.member("task", "name");
  ASSERT_TRUE(name);
  EXPECT_EQ(name->offset, 72u);
  EXPECT_EQ(name->type_name, "const char *");

  // Bitfields: within their 4-byte storage unit at offset 12.
  auto on_cpu = types.member("task", "on_cpu");
  ASSERT_TRUE(on_cpu);
  EXPECT_EQ(on_cpu->offset, 12u);
  EXPECT_EQ(on_cpu->size, 4u);
  EXPECT_EQ(on_cpu->bit_offset, 0u);
  EXPECT_EQ(on_cpu->bit_size, 1u);
  auto prio = types.member("task", "prio");
  ASSERT_TRUE(prio);
  EXPECT_EQ(prio->offset, 12u);
  EXPECT_EQ(prio->bit_offset, 1u);
  EXPECT_EQ(prio->bit_size, 7u);

  // Per-CPU variables are described by VARs.
  EXPECT_EQ(types.variable_size("runqueue_counts").value(), 32u);
  EXPECT_EQ(types.variable_size("task").error().kind(), ErrorKind::NotFound);
}

TEST(BtfTypes, CachedAnswersStayTheSame) {
  Built built = build_kernel_like();
  auto t = BtfTypes::from_bytes(built.bytes);
  ASSERT_TRUE(t);
  auto a = (*t)->member("task", "numbers[1].nr");
  auto b = (*t)->member("task", "numbers[1].nr");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->offset, b->offset);
  EXPECT_FALSE((*t)->member("task", "nope"));
  EXPECT_FALSE((*t)->member("task", "nope"));
}

TEST(BtfTypes, RejectsBrokenBytes) {
  // Too short, no magic, a truncated copy of a valid blob, garbage after a valid header.
  std::vector<std::byte> tiny(8);
  EXPECT_EQ(BtfTypes::from_bytes(tiny).error().kind(), ErrorKind::Format);
  std::vector<std::byte> zeros(4096);
  EXPECT_EQ(BtfTypes::from_bytes(zeros).error().kind(), ErrorKind::Format);
  Built built = build_kernel_like();
  for (size_t cut : {built.bytes.size() / 2, built.bytes.size() - 1, size_t{24}}) {
    std::vector<std::byte> part(built.bytes.begin(), built.bytes.begin() + static_cast<long>(cut));
    EXPECT_FALSE(BtfTypes::from_bytes(part)) << cut;
  }
  // Every single-byte corruption either is rejected or answers without crashing.
  for (size_t i = 0; i < built.bytes.size(); i += 3) {
    std::vector<std::byte> bad = built.bytes;
    bad[i] = static_cast<std::byte>(~static_cast<unsigned>(bad[i]));
    auto t = BtfTypes::from_bytes(bad);
    if (!t) continue;
    (void)(*t)->member("task", "numbers[1].ns");
    (void)(*t)->member("task", "cpu");
    (void)(*t)->struct_size("list_head");
  }
}

TEST(BtfTypes, SplitModuleBtf) {
  Built built = build_kernel_like();
  auto base = BtfTypes::from_bytes(built.bytes);
  ASSERT_TRUE(base);
  // A module's BTF: struct mod_state { struct list_head node; struct task *owner; };
  struct btf* base_raw = btf__new(built.bytes.data(), static_cast<uint32_t>(built.bytes.size()));
  ASSERT_NE(base_raw, nullptr);
  struct btf* split = btf__new_empty_split(base_raw);
  ASSERT_NE(split, nullptr);
  int task_ptr = btf__add_ptr(split, built.task);
  btf__add_struct(split, "mod_state", 24);
  btf__add_field(split, "node", built.list_head, 0, 0);
  btf__add_field(split, "owner", task_ptr, 128, 0);
  uint32_t size = 0;
  const auto* p = static_cast<const std::byte*>(btf__raw_data(split, &size));
  std::vector<std::byte> split_bytes(p, p + size);
  btf__free(split);
  btf__free(base_raw);

  auto mod = BtfTypes::from_split_bytes(split_bytes, **base);
  ASSERT_TRUE(mod) << mod.error().describe();
  EXPECT_GT((*mod)->type_count(), (*base)->type_count());
  auto owner = (*mod)->member("mod_state", "owner");
  ASSERT_TRUE(owner);
  EXPECT_EQ(owner->offset, 16u);
  EXPECT_EQ(owner->type_name, "struct task *");
  EXPECT_EQ((*mod)->member("mod_state", "node.prev").value().offset, 8u);
  // Base types stay reachable through the split object.
  EXPECT_EQ((*mod)->struct_size("task").value(), 80u);
  // The base alone does not know the module's types.
  EXPECT_FALSE((*base)->struct_size("mod_state"));
}

// The .BTF section's bytes of an ELF file, through libelf.
std::vector<std::byte> btf_section(const std::filesystem::path& path) {
  std::vector<std::byte> out;
  elf_version(EV_CURRENT);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
  size_t shstrndx = 0;
  if (elf && elf_getshdrstrndx(elf, &shstrndx) == 0) {
    for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn; scn = elf_nextscn(elf, scn)) {
      GElf_Shdr sh;
      if (!gelf_getshdr(scn, &sh)) continue;
      const char* name = elf_strptr(elf, shstrndx, sh.sh_name);
      if (!name || std::strcmp(name, ".BTF") != 0) continue;
      Elf_Data* d = elf_rawdata(scn, nullptr);
      if (d && d->d_buf) {
        const auto* b = static_cast<const std::byte*>(d->d_buf);
        out.assign(b, b + d->d_size);
      }
      break;
    }
  }
  if (elf) elf_end(elf);
  ::close(fd);
  return out;
}

TEST(BtfTypes, RealVmlinuxSectionBytes) {
  std::filesystem::path vmlinux;
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(dev_dump::cache() / "kernel", ec)) {
    auto name = e.path().filename().string();
    if (name.rfind("6.1.", 0) == 0 && name.find("-cloud-amd64") != std::string::npos &&
        std::filesystem::exists(e.path() / "vmlinux"))
      vmlinux = e.path() / "vmlinux";
  }
  if (vmlinux.empty()) GTEST_SKIP() << "no 6.1 cloud vmlinux in " << dev_dump::cache();
  std::vector<std::byte> bytes = btf_section(vmlinux);
  ASSERT_GT(bytes.size(), 1u << 20);
  auto from_bytes = BtfTypes::from_bytes(bytes);
  ASSERT_TRUE(from_bytes) << from_bytes.error().describe();
  auto from_elf = BtfTypes::open(vmlinux.string());
  ASSERT_TRUE(from_elf) << from_elf.error().describe();
  EXPECT_EQ((*from_bytes)->type_count(), (*from_elf)->type_count());
  EXPECT_GT((*from_bytes)->type_count(), 50000u);

  // The same answers from the bytes as from libbpf's own ELF reader, on the members
  // kstuck reads (anonymous unions, bitfields, arrays, nested paths).
  const std::pair<const char*, const char*> members[] = {
      {"task_struct", "__state"},   {"task_struct", "pid"},        {"task_struct", "comm"},
      {"task_struct", "tasks.next"}, {"task_struct", "thread.sp"}, {"task_struct", "on_cpu"},
      {"task_struct", "sched_reset_on_fork"},  // a bitfield
      {"mutex", "owner.counter"},   {"mutex", "wait_list"},        {"rq", "curr"},
      {"__call_single_data", "node.u_flags"},   // inside an anonymous union
      {"module", "list"},           {"module", "btf_data"},       {"upid", "nr"},
      {"pid", "numbers[0].nr"},     {"uts_namespace", "name.release"},
  };
  for (auto [s, m] : members) {
    auto a = (*from_bytes)->member(s, m);
    auto b = (*from_elf)->member(s, m);
    ASSERT_TRUE(a) << s << "." << m << ": " << a.error().describe();
    ASSERT_TRUE(b) << s << "." << m;
    EXPECT_EQ(a->offset, b->offset) << s << "." << m;
    EXPECT_EQ(a->size, b->size) << s << "." << m;
    EXPECT_EQ(a->bit_offset, b->bit_offset) << s << "." << m;
    EXPECT_EQ(a->bit_size, b->bit_size) << s << "." << m;
    EXPECT_EQ(a->type_name, b->type_name) << s << "." << m;
  }
  // Facts every x86-64 kernel has.
  EXPECT_EQ((*from_bytes)->struct_size("list_head").value(), 16u);
  EXPECT_EQ((*from_bytes)->member("list_head", "prev").value().offset, 8u);
  EXPECT_EQ((*from_bytes)->member("task_struct", "comm").value().size, 16u);
  EXPECT_EQ((*from_bytes)->member("task_struct", "sched_reset_on_fork").value().bit_size, 1u);
  EXPECT_EQ((*from_bytes)->member("mutex", "owner").value().type_name, "atomic_long_t");
  // Per-CPU variables are VARs in vmlinux BTF.
  EXPECT_GT((*from_bytes)->variable_size("runqueues").value(), 1000u);
}

}  // namespace
}  // namespace kstuck
