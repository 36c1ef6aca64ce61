// SPDX-License-Identifier: GPL-2.0
// CodeBuilder: emits tiny x86-64 functions byte by byte for the code-analysis tests; FakeText: lock functions and code in a FakeTarget.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/code/disasm.h"
#include "tests/unit/fake_target.h"

namespace kstuck::test {

// Each emitter writes one instruction's standard encoding (as GNU as would).
class CodeBuilder {
 public:
  explicit CodeBuilder(uint64_t start) : start_(start) {}
  uint64_t start() const { return start_; }
  uint64_t here() const { return start_ + b_.size(); }
  const std::vector<uint8_t>& bytes() const { return b_; }

  CodeBuilder& raw(std::initializer_list<uint8_t> bs) {
    b_.insert(b_.end(), bs);
    return *this;
  }
  CodeBuilder& endbr64() { return raw({0xf3, 0x0f, 0x1e, 0xfa}); }
  CodeBuilder& nop5() { return raw({0x0f, 0x1f, 0x44, 0x00, 0x00}); }  // an unpatched __fentry__ site
  CodeBuilder& ret() { return raw({0xc3}); }
  CodeBuilder& push(Gpr r) {
    if (n(r) >= 8) b_.push_back(0x41);
    b_.push_back(static_cast<uint8_t>(0x50 + (n(r) & 7)));
    return *this;
  }
  CodeBuilder& pop(Gpr r) {
    if (n(r) >= 8) b_.push_back(0x41);
    b_.push_back(static_cast<uint8_t>(0x58 + (n(r) & 7)));
    return *this;
  }
  // mov $imm32 (sign-extended), %r64
  CodeBuilder& mov_imm32(Gpr r, uint64_t value) {
    raw({static_cast<uint8_t>(0x48 | (n(r) >= 8 ? 1 : 0)), 0xc7, static_cast<uint8_t>(0xc0 | (n(r) & 7))});
    return imm32(static_cast<uint32_t>(value));
  }
  // lea target(%rip), %r64
  CodeBuilder& lea_rip(Gpr r, uint64_t target) {
    raw({static_cast<uint8_t>(0x48 | (n(r) >= 8 ? 4 : 0)), 0x8d, static_cast<uint8_t>(0x05 | ((n(r) & 7) << 3))});
    return imm32(static_cast<uint32_t>(target - (here() + 4)));
  }
  // mov target(%rip), %r64
  CodeBuilder& load_rip(Gpr r, uint64_t target) {
    raw({static_cast<uint8_t>(0x48 | (n(r) >= 8 ? 4 : 0)), 0x8b, static_cast<uint8_t>(0x05 | ((n(r) & 7) << 3))});
    return imm32(static_cast<uint32_t>(target - (here() + 4)));
  }
  // lea disp8(%base), %dst (base neither rsp nor r12)
  CodeBuilder& lea(Gpr dst, Gpr base, int8_t disp) {
    raw({static_cast<uint8_t>(0x48 | (n(dst) >= 8 ? 4 : 0) | (n(base) >= 8 ? 1 : 0)), 0x8d,
         static_cast<uint8_t>(0x40 | ((n(dst) & 7) << 3) | (n(base) & 7)), static_cast<uint8_t>(disp)});
    return *this;
  }
  // mov %src, %dst (64-bit)
  CodeBuilder& mov(Gpr dst, Gpr src) {
    return raw({static_cast<uint8_t>(0x48 | (n(src) >= 8 ? 4 : 0) | (n(dst) >= 8 ? 1 : 0)), 0x89,
                static_cast<uint8_t>(0xc0 | ((n(src) & 7) << 3) | (n(dst) & 7))});
  }
  CodeBuilder& mov_edi(uint32_t v) {
    raw({0xbf});
    return imm32(v);
  }
  CodeBuilder& xor_edi() { return raw({0x31, 0xff}); }
  CodeBuilder& test_eax() { return raw({0x85, 0xc0}); }
  CodeBuilder& jne8(int8_t rel) { return raw({0x75, static_cast<uint8_t>(rel)}); }
  CodeBuilder& call(uint64_t target) {
    raw({0xe8});
    return imm32(static_cast<uint32_t>(target - (here() + 4)));
  }

 private:
  static int n(Gpr r) { return static_cast<int>(r); }
  CodeBuilder& imm32(uint32_t v) {
    for (int i = 0; i < 4; ++i) b_.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  uint64_t start_;
  std::vector<uint8_t> b_;
};

// The kernel's lock functions (int3-filled bodies with symbols) and a place to install
// test functions as module code.
struct FakeText {
  static constexpr uint64_t kBase = 0xffffffff81000000;
  explicit FakeText(FakeTarget& t) : t_(t) {
    t_.map(kBase, 0x1000);
    std::vector<uint8_t> int3(0x1000, 0xcc);
    t_.write(kBase, int3.data(), int3.size());
    add("_raw_spin_lock", spin_lock);
    add("_raw_spin_unlock", spin_unlock);
    add("_raw_spin_lock_irqsave", spin_lock_irqsave);
    add("_raw_spin_unlock_irqrestore", spin_unlock_irqrestore);
    add("_raw_write_lock", write_lock);
    add("_raw_read_lock", read_lock);
    add("_raw_read_unlock", read_unlock);
    add("smp_call_function_single", other);
    add("down_read", down_read);
    add("up_read", up_read);
    add("down_write", down_write);
    add("up_write", up_write);
    add("mutex_lock", mutex_lock);
    add("mutex_unlock", mutex_unlock);
    add("down_read_killable", down_read_killable);
  }
  void add(const char* name, uint64_t at) { t_.add_symbol(name, at, 0x40); }
  // Maps and names a built function (as module code).
  void install(const CodeBuilder& b, const std::string& name, const std::string& module = "kstuck_test") {
    uint64_t size = (b.bytes().size() + 15) & ~uint64_t{15};
    t_.map(b.start(), size);
    std::vector<uint8_t> pad(size, 0xcc);
    std::copy(b.bytes().begin(), b.bytes().end(), pad.begin());
    t_.write(b.start(), pad.data(), pad.size());
    t_.add_symbol(name, b.start(), size, module);
  }

  FakeTarget& t_;
  const uint64_t spin_lock = kBase, spin_unlock = kBase + 0x40, spin_lock_irqsave = kBase + 0x80,
                 spin_unlock_irqrestore = kBase + 0xc0, write_lock = kBase + 0x100, read_lock = kBase + 0x140,
                 read_unlock = kBase + 0x180, other = kBase + 0x1c0;
  // The sleeping locks' API (kernel/locking/rwsem.c, mutex.c).
  const uint64_t down_read = kBase + 0x200, up_read = kBase + 0x240, down_write = kBase + 0x280,
                 up_write = kBase + 0x2c0, mutex_lock = kBase + 0x300, mutex_unlock = kBase + 0x340,
                 down_read_killable = kBase + 0x380;
};

}  // namespace kstuck::test
