// SPDX-License-Identifier: GPL-2.0
// Reassembles makedumpfile's flattened stream into a plain dump file.
#include "analysis/kdump_target/flattened.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <memory>
#include <vector>

#include "analysis/hex_text.h"
#include "analysis/kdump_target/input_file.h"

namespace kstuck {
namespace {

constexpr char kSignature[] = "makedumpfile";
constexpr int64_t kTypeFlat = 1;
constexpr int64_t kVersionFlat = 1;
constexpr int64_t kEndFlag = -1;

int64_t be64(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | std::to_integer<uint64_t>(p[i]);
  return static_cast<int64_t>(v);
}

Result<void> pwrite_full(int fd, std::span<const std::byte> in, uint64_t offset) {
  size_t done = 0;
  while (done < in.size()) {
    ssize_t n = ::pwrite(fd, in.data() + done, in.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(ErrorKind::Os, std::string("write of the reassembled dump: ") + std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace

bool is_flattened(std::span<const std::byte> head) {
  if (head.size() < 32) return false;
  if (std::memcmp(head.data(), kSignature, sizeof(kSignature) - 1) != 0) return false;
  return be64(head.data() + 16) == kTypeFlat && be64(head.data() + 24) == kVersionFlat;
}

Result<FlattenedStats> reassemble_flattened(int in_fd, int out_fd, const FlattenedLimits& limits) {
  // 64 KiB, read into before use: a zeroed 1 MiB buffer a call made the fuzzer run 36
  // inputs/s (ASan maps, zeroes and poisons such a block each time); copying a large
  // dump in 64 KiB pieces costs no measurable time.
  constexpr size_t kBufSize = 64 << 10;
  auto storage = std::make_unique_for_overwrite<std::byte[]>(kBufSize);
  std::span<std::byte> buf(storage.get(), kBufSize);
  auto got = pread_full(in_fd, buf.data(), kFlattenedHeaderSize, 0);
  if (!got) return tl::unexpected(got.error());
  if (*got < kFlattenedHeaderSize || !is_flattened(std::span(buf.data(), *got)))
    return fail(ErrorKind::Format, "not a flattened makedumpfile stream (bad or short header)");

  FlattenedStats stats;
  uint64_t pos = kFlattenedHeaderSize;
  for (;;) {
    std::byte rec[16];
    auto n = pread_full(in_fd, rec, sizeof(rec), pos);
    if (!n) return tl::unexpected(n.error());
    if (*n < sizeof(rec)) {
      // Cut short: keep what was complete, unless nothing was.
      if (stats.records == 0)
        return fail(ErrorKind::Format, "flattened dump is truncated before its first record");
      stats.truncated = true;
      stats.truncated_at = pos;
      return stats;
    }
    int64_t offset = be64(rec);
    int64_t size = be64(rec + 8);
    if (offset == kEndFlag && size == kEndFlag) return stats;
    if (offset < 0 || size < 0)
      return fail(ErrorKind::Format, "flattened dump: invalid record at input offset " + hex_text(pos));
    uint64_t uoff = static_cast<uint64_t>(offset), usize = static_cast<uint64_t>(size);
    if (usize > limits.max_output_size || uoff > limits.max_output_size - usize)
      return fail(ErrorKind::Format, "flattened dump: record at input offset " + hex_text(pos) +
                                         " places data beyond " + hex_text(limits.max_output_size));
    if (++stats.records > limits.max_records)
      return fail(ErrorKind::Limit, "flattened dump: more than " + std::to_string(limits.max_records) + " records");
    pos += sizeof(rec);
    uint64_t copied = 0;
    while (copied < usize) {
      size_t chunk = static_cast<size_t>(std::min<uint64_t>(buf.size(), usize - copied));
      auto r = pread_full(in_fd, buf.data(), chunk, pos);
      if (!r) return tl::unexpected(r.error());
      if (*r > 0) {
        auto w = pwrite_full(out_fd, std::span(buf.data(), *r), uoff + copied);
        if (!w) return tl::unexpected(w.error());
      }
      copied += *r;
      pos += *r;
      stats.bytes += *r;
      if (uoff + copied > stats.output_size) stats.output_size = uoff + copied;
      if (*r < chunk) {
        stats.truncated = true;
        stats.truncated_at = pos;
        return stats;
      }
    }
  }
}

}  // namespace kstuck
