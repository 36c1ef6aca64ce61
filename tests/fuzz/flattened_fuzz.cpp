// SPDX-License-Identifier: GPL-2.0
// libFuzzer target: makedumpfile's flattened-stream reassembler on arbitrary bytes.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "analysis/kdump_target/flattened.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int in = memfd_create("fuzz_in", MFD_CLOEXEC);
  int out = memfd_create("fuzz_out", MFD_CLOEXEC);
  if (in < 0 || out < 0) std::abort();
  // Most inputs would fail the signature: give every input a valid header so the
  // fuzzer spends its time on the records.
  uint8_t header[kstuck::kFlattenedHeaderSize] = {};
  std::memcpy(header, "makedumpfile", 12);
  header[23] = 1;
  header[31] = 1;
  bool raw = size > 0 && data[0] == 'R';
  if (!raw && write(in, header, sizeof(header)) != static_cast<ssize_t>(sizeof(header))) std::abort();
  if (size && write(in, data, size) != static_cast<ssize_t>(size)) std::abort();
  kstuck::FlattenedLimits limits;
  limits.max_output_size = 1 << 24;  // memfd holes are free, but keep the output small
  limits.max_records = 1 << 16;
  auto stats = kstuck::reassemble_flattened(in, out, limits);
  if (stats) {
    off_t end = lseek(out, 0, SEEK_END);
    if (stats->bytes > size || static_cast<uint64_t>(end) > limits.max_output_size) std::abort();
  }
  close(in);
  close(out);
  return 0;
}
