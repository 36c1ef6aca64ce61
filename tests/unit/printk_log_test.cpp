// SPDX-License-Identifier: GPL-2.0
// The printk ringbuffer reader on a synthetic `prb`: order, wrapped blocks, reused and bad descriptors.
#include "analysis/kernel/printk_log.h"

#include <gtest/gtest.h>

#include "tests/unit/fake_target.h"

namespace kstuck {
namespace {

using test::FakeTarget;

constexpr uint64_t kCommitted = 1, kFinalized = 2, kReusable = 3;

struct Prb : ::testing::Test {
  FakeTarget t;
  uint64_t rb = 0, descs = 0, infos = 0, data = 0;
  static constexpr unsigned kCountBits = 3;  // 8 descriptors
  static constexpr unsigned kSizeBits = 8;   // 256 bytes of text
  void SetUp() override {
    t.add_struct("printk_ringbuffer", 0x60,
                 {{"desc_ring.count_bits", 0x0, 4}, {"desc_ring.descs", 0x8, 8}, {"desc_ring.infos", 0x10, 8},
                  {"desc_ring.head_id", 0x18, 8}, {"desc_ring.tail_id", 0x20, 8},
                  {"text_data_ring.size_bits", 0x30, 4}, {"text_data_ring.data", 0x38, 8}});
    t.add_struct("prb_desc", 0x18, {{"state_var", 0x0, 8}, {"text_blk_lpos.begin", 0x8, 8}, {"text_blk_lpos.next", 0x10, 8}});
    t.add_struct("printk_info", 0x58, {{"seq", 0x0, 8}, {"ts_nsec", 0x8, 8}, {"text_len", 0x10, 2}, {"level", 0x13, 1}});
    rb = t.alloc(0x60);
    descs = t.alloc(0x18 << kCountBits);
    infos = t.alloc(0x58 << kCountBits);
    data = t.alloc(1 << kSizeBits);
    uint64_t prb = t.add_global("prb", 8);
    t.write_u64(prb, rb);
    t.set(rb, "printk_ringbuffer", "desc_ring.count_bits", kCountBits);
    t.set(rb, "printk_ringbuffer", "desc_ring.descs", descs);
    t.set(rb, "printk_ringbuffer", "desc_ring.infos", infos);
    t.set(rb, "printk_ringbuffer", "text_data_ring.size_bits", kSizeBits);
    t.set(rb, "printk_ringbuffer", "text_data_ring.data", data);
  }
  // Writes record `id` with text at logical position begin (the block holds an id word).
  void record(uint64_t id, uint64_t state, uint64_t begin, const std::string& text, uint64_t seq) {
    uint64_t idx = id & ((1 << kCountBits) - 1);
    uint64_t size = 1 << kSizeBits;
    uint64_t next = begin + 8 + text.size();
    uint64_t at = begin % size;
    if (at + 8 + text.size() > size) {  // does not fit before the end: the block wraps to 0
      next = (begin / size + 1) * size + 8 + text.size();
      at = 0;
    }
    t.write_u64(data + at, id);
    t.write(data + at + 8, text.data(), text.size());
    uint64_t d = descs + 0x18 * idx, i = infos + 0x58 * idx;
    t.write_u64(d, id | state << 62);
    t.write_u64(d + 8, begin);
    t.write_u64(d + 0x10, next);
    t.write_u64(i, seq);
    t.write_u64(i + 8, seq * 1000);
    t.write_u16(i + 0x10, uint16_t(text.size()));
  }
};

TEST_F(Prb, ReadsNewestRecordsInOrderAcrossAWrappedBlock) {
  record(10, kFinalized, 100, "first line", 1);
  record(11, kFinalized, 118, "Kernel panic - not syncing: sysrq triggered crash", 2);
  record(12, kCommitted, 220, "this block wraps to the start of the data ring", 3);  // 220+8+46 > 256
  t.set(rb, "printk_ringbuffer", "desc_ring.tail_id", 10);
  t.set(rb, "printk_ringbuffer", "desc_ring.head_id", 12);
  Fields f(t);
  KernelLog log = read_kernel_log(f, 10);
  ASSERT_EQ(log.records.size(), 3u) << (log.problems.empty() ? "" : log.problems[0]);
  EXPECT_EQ(log.records[0].text, "first line");
  EXPECT_EQ(log.records[2].text, "this block wraps to the start of the data ring");
  EXPECT_EQ(log.records[2].seq, 3u);
  EXPECT_EQ(find_panic_message(log), "sysrq triggered crash");
  // Only the newest two when asked for two.
  EXPECT_EQ(read_kernel_log(f, 2).records.front().seq, 2u);
}

TEST_F(Prb, ReusedOrForeignDescriptorsAreSkippedAndGarbageIsBounded) {
  record(10, kFinalized, 0, "kept", 1);
  record(11, kReusable, 12, "reused", 2);
  record(12, kFinalized, 30, "id mismatch", 3);
  t.write_u64(descs + 0x18 * 4, 99 | kFinalized << 62);  // slot of id 12 names another id
  t.set(rb, "printk_ringbuffer", "desc_ring.tail_id", 10);
  t.set(rb, "printk_ringbuffer", "desc_ring.head_id", 12);
  Fields f(t);
  KernelLog log = read_kernel_log(f, 10);
  ASSERT_EQ(log.records.size(), 1u);
  EXPECT_EQ(log.records[0].text, "kept");
  // A tail that is never reached (garbage ids): the walk still ends, bounded by the ring.
  t.set(rb, "printk_ringbuffer", "desc_ring.tail_id", 0x123456);
  uint64_t before = t.read_count();
  read_kernel_log(f, 1000);
  EXPECT_LT(t.read_count() - before, 200u);
  // Implausible sizes are refused outright.
  t.set(rb, "printk_ringbuffer", "desc_ring.count_bits", 60);
  EXPECT_FALSE(read_kernel_log(f, 10).problems.empty());
}

}  // namespace
}  // namespace kstuck
