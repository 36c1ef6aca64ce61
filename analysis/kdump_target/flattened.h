// SPDX-License-Identifier: GPL-2.0
// makedumpfile's flattened format (also QEMU's kdump output): detection and reassembly.
#pragma once

#include <cstdint>
#include <span>

#include "analysis/error.h"

namespace kstuck {

// The flattened stream is a 4 KiB header ("makedumpfile", type 1, version 1) followed by
// records {be64 offset; be64 size; bytes} that place each piece at its offset in the
// plain dump, ended by a record with offset = size = -1. libkdumpfile 0.5.1 reads only
// plain files, so we write the pieces into a (temporary) file first.
inline constexpr size_t kFlattenedHeaderSize = 4096;

// True when the first bytes of a file carry the flattened header.
bool is_flattened(std::span<const std::byte> head);

struct FlattenedLimits {
  // The plain dump may not extend beyond this (holes are allowed, they stay sparse).
  uint64_t max_output_size = uint64_t{1} << 40;
  // Records a hostile stream may contain; QEMU writes one per page in the worst case.
  uint64_t max_records = uint64_t{1} << 26;
};

struct FlattenedStats {
  uint64_t records = 0;
  uint64_t bytes = 0;        // data bytes copied
  uint64_t output_size = 0;  // highest end offset written
  bool truncated = false;    // the stream ended before its end marker
  uint64_t truncated_at = 0; // input offset of the incomplete record
};

// Copies the pieces of the flattened stream read from in_fd (positioned anywhere: we use
// pread from offset 0) to their offsets in out_fd. A stream cut short after at least one
// complete record is accepted with stats.truncated set: the pieces present still serve
// reads, and the reader reports the missing ones. Invalid records (negative or
// overflowing offsets, beyond the limits) are a Format error.
Result<FlattenedStats> reassemble_flattened(int in_fd, int out_fd, const FlattenedLimits& limits = {});

}  // namespace kstuck
