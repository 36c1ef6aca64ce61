// SPDX-License-Identifier: GPL-2.0
// printk ringbuffer decoding, mirroring get_data() and desc_read() of printk_ringbuffer.c.
#include "analysis/kernel/printk_log.h"

#include <algorithm>

namespace kstuck {
namespace {
constexpr unsigned kFlagsShift = 62;  // DESC_FLAGS_SHIFT on 64-bit
constexpr uint64_t kIdMask = ~(uint64_t{3} << kFlagsShift);
constexpr uint64_t kStateCommitted = 1, kStateFinalized = 2;
constexpr unsigned kMaxBits = 30;       // a ring larger than 1 GiB is not a real kernel's
constexpr uint64_t kMaxTextLen = 8192;  // LOG_LINE_MAX is 1024 - 32
}  // namespace

KernelLog read_kernel_log(Fields& f, size_t max_records) {
  KernelLog log;
  Target& t = f.target();
  auto prb_sym = t.symbol_address("prb");
  if (!prb_sym) {
    // Since Linux commit 896fbe20b4e2 ("printk: use the lockless ringbuffer") (in v5.10)
    // the log is the `prb` ringbuffer; before, `log_buf` of struct printk_log records.
    if (t.symbol_address("log_buf") && f.has("printk_log", "ts_nsec"))
      log.problems.push_back("the kernel log is in the pre-5.10 log_buf format, which kstuck does not read");
    else
      log.problems.push_back("no printk ringbuffer: " + prb_sym.error().describe());
    return log;
  }
  auto prb = read_u64(t, *prb_sym);  // `prb` is a pointer (to printk_rb_static or the dynamic one)
  if (!prb) {
    log.problems.push_back("prb: " + prb.error().describe());
    return log;
  }
  const char* rb = "printk_ringbuffer";
  auto count_bits = f.read_uint(*prb, rb, "desc_ring.count_bits");
  auto descs = f.read_ptr(*prb, rb, "desc_ring.descs");
  auto infos = f.read_ptr(*prb, rb, "desc_ring.infos");
  auto head_id = f.read_uint(*prb, rb, "desc_ring.head_id");
  auto tail_id = f.read_uint(*prb, rb, "desc_ring.tail_id");
  auto size_bits = f.read_uint(*prb, rb, "text_data_ring.size_bits");
  auto data = f.read_ptr(*prb, rb, "text_data_ring.data");
  auto desc_size = f.size("prb_desc");
  auto info_size = f.size("printk_info");
  auto sv_off = f.offset("prb_desc", "state_var");
  auto begin_off = f.offset("prb_desc", "text_blk_lpos.begin");
  auto next_off = f.offset("prb_desc", "text_blk_lpos.next");
  if (!count_bits || !descs || !infos || !head_id || !tail_id || !size_bits || !data || !desc_size || !info_size ||
      !sv_off || !begin_off || !next_off) {
    log.problems.push_back("printk ringbuffer layout or header unreadable");
    return log;
  }
  if (*count_bits > kMaxBits || *size_bits > kMaxBits) {
    log.problems.push_back("implausible printk ringbuffer size");
    return log;
  }
  uint64_t count = uint64_t{1} << *count_bits;
  uint64_t data_size = uint64_t{1} << *size_bits;
  uint64_t id = *head_id & kIdMask;
  uint64_t tail = *tail_id & kIdMask;
  for (uint64_t n = 0; n < std::min<uint64_t>(count, max_records * 2 + 16) && log.records.size() < max_records; ++n) {
    uint64_t index = id & (count - 1);
    uint64_t desc = *descs + index * *desc_size;
    auto sv = read_u64(t, desc + *sv_off);
    auto begin = read_u64(t, desc + *begin_off);
    auto next = read_u64(t, desc + *next_off);
    uint64_t info = *infos + index * *info_size;
    if (sv && begin && next && (*sv & kIdMask) == id) {
      uint64_t state = *sv >> kFlagsShift;
      if (state == kStateCommitted || state == kStateFinalized) {
        LogRecord rec;
        auto seq = f.read_uint(info, "printk_info", "seq");
        auto ts = f.read_uint(info, "printk_info", "ts_nsec");
        auto len = f.read_uint(info, "printk_info", "text_len");
        auto level = f.read_uint(info, "printk_info", "level");
        if (seq && ts && len) {
          rec.seq = *seq;
          rec.ts_nsec = *ts;
          rec.level = level ? int(*level) : 0;
          // get_data(): dataless blocks have bit 0 set; a block that wraps lives at 0.
          uint64_t b = *begin, e = *next, block = 0, size = 0;
          bool ok = true;
          if ((b & 1) && (e & 1)) {
            ok = false;  // no text (empty line or failed reservation)
          } else if ((b >> *size_bits) == (e >> *size_bits) && b < e) {
            block = b & (data_size - 1);
            size = e - b;
          } else if (((b + data_size) >> *size_bits) == (e >> *size_bits)) {
            block = 0;
            size = e & (data_size - 1);
          } else {
            ok = false;
          }
          if (ok && size > 8 && size <= data_size) {
            uint64_t text_len = std::min({*len, size - 8, kMaxTextLen});
            std::string text(text_len, '\0');
            if (t.read(*data + block + 8, std::as_writable_bytes(std::span(text.data(), text.size())))) {
              rec.text = std::move(text);
              log.records.push_back(std::move(rec));
            }
          } else if (!ok && *len == 0) {
            log.records.push_back(std::move(rec));
          }
        }
      }
    }
    if (id == tail) break;
    id = (id - 1) & kIdMask;
  }
  std::reverse(log.records.begin(), log.records.end());
  return log;
}

std::string find_panic_message(const KernelLog& log) {
  for (auto it = log.records.rbegin(); it != log.records.rend(); ++it) {
    auto at = it->text.find("Kernel panic - not syncing: ");
    if (at != std::string::npos) return it->text.substr(at + 28);
  }
  return {};
}

}  // namespace kstuck
