// SPDX-License-Identifier: GPL-2.0
// List walks over FakeKernel task lists: complete, cyclic, wild and unbounded lists.
#include "analysis/list_walk.h"

#include <gtest/gtest.h>

#include "analysis/fields.h"
#include "tests/unit/fake_kernel.h"

namespace kstuck {
namespace {

using test::FakeKernel;
using test::FakeTarget;

struct TaskList : ::testing::Test {
  FakeTarget t;
  FakeKernel k{t};
  Fields f{t};
  uint64_t tasks_off() { return f.offset("task_struct", "tasks").value(); }
  uint64_t head() { return k.init_task() + tasks_off(); }
};

TEST_F(TaskList, CompleteWalkReturnsContainersInOrder) {
  uint64_t a = k.add_task(1, "init"), b = k.add_task(2, "kthreadd"), c = k.add_task(42, "bash");
  ListWalk w = walk_list(t, head(), tasks_off(), 100);
  EXPECT_EQ(w.status, WalkStatus::Complete);
  EXPECT_EQ(w.entries, (std::vector<uint64_t>{a, b, c}));
  EXPECT_EQ(f.read_uint(c, "task_struct", "pid").value(), 42u);
  EXPECT_EQ(f.read_chars(b, "task_struct", "comm").value(), "kthreadd");
}

TEST_F(TaskList, CycleThatSkipsTheHeadIsDetectedAndBounded) {
  uint64_t a = k.add_task(1, "init"), b = k.add_task(2, "kthreadd");
  k.add_task(3, "x");
  // b.tasks.next -> a.tasks: the walk would loop a, b, a, b, ... forever.
  t.write_u64(b + tasks_off(), a + tasks_off());
  uint64_t reads_before = t.read_count();
  ListWalk w = walk_list(t, head(), tasks_off(), 1000000);
  EXPECT_EQ(w.status, WalkStatus::Cycle);
  EXPECT_EQ(w.entries, (std::vector<uint64_t>{a, b}));
  EXPECT_EQ(w.bad_link, b + tasks_off());
  EXPECT_LT(t.read_count() - reads_before, 10u);
}

TEST_F(TaskList, WildPointerEndsTheWalkWithAFault) {
  uint64_t a = k.add_task(1, "init");
  k.add_task(2, "kthreadd");
  t.write_u64(a + tasks_off(), 0xffff888012345000ULL);  // points into unmapped memory
  ListWalk w = walk_list(t, head(), tasks_off(), 100);
  // The wild node is reported as an entry whose next pointer could not be read.
  EXPECT_EQ(w.status, WalkStatus::Fault);
  ASSERT_EQ(w.entries.size(), 2u);
  EXPECT_EQ(w.entries[0], a);
  ASSERT_TRUE(w.error);
  EXPECT_EQ(w.error->kind(), ErrorKind::Fault);
  EXPECT_EQ(w.error->address(), 0xffff888012345000ULL);
}

TEST_F(TaskList, UserSpaceOrNullPointerIsBadPointer) {
  uint64_t a = k.add_task(1, "init");
  t.write_u64(a + tasks_off(), 0x4000);
  ListWalk w = walk_list(t, head(), tasks_off(), 100);
  EXPECT_EQ(w.status, WalkStatus::BadPointer);
  EXPECT_EQ(w.entries, (std::vector<uint64_t>{a}));
  t.write_u64(a + tasks_off(), 0);
  EXPECT_EQ(walk_list(t, head(), tasks_off(), 100).status, WalkStatus::BadPointer);
}

TEST_F(TaskList, LimitStopsALongList) {
  for (int i = 0; i < 50; ++i) k.add_task(100 + i, "worker");
  ListWalk w = walk_list(t, head(), tasks_off(), 20);
  EXPECT_EQ(w.status, WalkStatus::Limit);
  EXPECT_EQ(w.entries.size(), 20u);
}

TEST_F(TaskList, UnreadableHeadIsAFault) {
  ListWalk w = walk_list(t, 0xffff888077770000ULL, tasks_off(), 20);
  EXPECT_EQ(w.status, WalkStatus::Fault);
  EXPECT_TRUE(w.entries.empty());
}

TEST_F(TaskList, LlistOfCsdsEndsAtNull) {
  uint64_t c1 = k.queue_csd(3, 0xffffffff81001000ULL, 0);
  uint64_t c2 = k.queue_csd(3, 0xffffffff81002000ULL, 0);
  uint64_t first = read_u64(t, k.per_cpu_addr(3, "call_single_queue")).value();
  ListWalk w = walk_singly(t, first, 0, 0, 100);
  EXPECT_EQ(w.status, WalkStatus::Complete);
  EXPECT_EQ(w.entries, (std::vector<uint64_t>{c2, c1}));
  t.write_u64(c1, c2);  // c1 -> c2 -> c1 ...
  EXPECT_EQ(walk_singly(t, first, 0, 0, 100).status, WalkStatus::Cycle);
}

TEST(Fields, ReadsBySizeSignAndBitfield) {
  FakeTarget t;
  t.add_struct("s", 16, {{"a", 0, 2}, {"b", 2, 1}, {"c", 4, 4}});
  uint64_t o = t.alloc(16);
  t.write_u16(o, 0xfffe);
  t.write_u8(o + 2, 0x7f);
  Fields f(t);
  EXPECT_EQ(f.read_uint(o, "s", "a").value(), 0xfffeu);
  EXPECT_EQ(f.read_int(o, "s", "a").value(), -2);
  EXPECT_EQ(f.read_int(o, "s", "b").value(), 0x7f);
  EXPECT_FALSE(f.has("s", "d"));
  EXPECT_TRUE(f.has("s", "c"));
  EXPECT_EQ(f.read_uint(o, "s", "d").error().kind(), ErrorKind::NotFound);
  EXPECT_FALSE(f.read_ptr(o, "s", "c"));  // 4 bytes: not a pointer
}

TEST(Fields, CStringIsBoundedAndStopsAtNul) {
  FakeTarget t;
  uint64_t a = t.alloc(100);
  t.write_string(a + 30, "hello");
  EXPECT_EQ(read_c_string(t, a + 30, 64).value(), "hello");
  std::string long_s(90, 'x');
  t.write(a, long_s.data(), long_s.size());
  EXPECT_EQ(read_c_string(t, a, 10).value(), std::string(10, 'x'));
  // runs into the unmapped guard gap after 100 bytes: a fault, not a read past it
  t.write(a + 90, long_s.data(), 10);
  EXPECT_FALSE(read_c_string(t, a, 4096));
}

// The running kernel (a live target): memory changes between reads.
class LiveFakeTarget : public FakeTarget {
 public:
  bool live() const override { return true; }
};

struct LiveTaskList : ::testing::Test {
  LiveFakeTarget t;
  FakeKernel k{t};
  Fields f{t};
  uint64_t tasks_off() { return f.offset("task_struct", "tasks").value(); }
  uint64_t head() { return k.init_task() + tasks_off(); }
};

TEST_F(LiveTaskList, IntactListWalksToTheEnd) {
  uint64_t a = k.add_task(1, "init"), b = k.add_task(2, "kthreadd");
  ListWalk w = walk_list(t, head(), tasks_off(), 100);
  EXPECT_EQ(w.status, WalkStatus::Complete);
  EXPECT_EQ(w.entries, (std::vector<uint64_t>{a, b}));
}

// list_del_rcu(b) as a reader sees it halfway: c.prev -> a and b.prev poisoned, while
// a.next still reads b (the store to it not yet visible). b no longer links back.
template <typename T>
std::vector<uint64_t> delete_second_halfway(T& t, FakeKernel& k, uint64_t tasks_off) {
  uint64_t a = k.add_task(1, "init"), b = k.add_task(2, "kthreadd"), c = k.add_task(3, "x");
  t.write_u64(c + tasks_off + 8, a + tasks_off);
  t.write_u64(b + tasks_off + 8, 0xdead000000000122ULL);  // LIST_POISON2
  return {a, b, c};
}

TEST_F(LiveTaskList, NodeDeletedWhileReadingEndsTheWalkAsChanged) {
  auto abc = delete_second_halfway(t, k, tasks_off());
  ListWalk w = walk_list(t, head(), tasks_off(), 100);
  EXPECT_EQ(w.status, WalkStatus::Changed);
  EXPECT_EQ(w.entries, (std::vector<uint64_t>{abc[0]}));
  EXPECT_EQ(w.bad_link, abc[0] + tasks_off());
  EXPECT_STREQ(walk_status_name(w.status), "changed while reading");
}

TEST_F(TaskList, ADumpsBackLinksAreNotChecked) {
  // The same bytes in a dump (memory that does not change): the walk follows next.
  auto abc = delete_second_halfway(t, k, tasks_off());
  ListWalk w = walk_list(t, head(), tasks_off(), 100);
  EXPECT_EQ(w.status, WalkStatus::Complete);
  EXPECT_EQ(w.entries, abc);
}

}  // namespace
}  // namespace kstuck
