// SPDX-License-Identifier: GPL-2.0
// libFuzzer target: the NMI record reader on arbitrary bytes (a hostile dump or device).
#include <cstddef>
#include <cstdint>
#include <span>

#include "analysis/nmi_records.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto bytes = std::as_bytes(std::span(data, size));
  if (auto h = kstuck::parse_nmi_history(bytes)) {
    // Touch what a report touches, so a wrong bound shows up under ASan.
    size_t frames = 0;
    for (const auto& s : h->snapshots)
      for (const auto& c : s.cpus) frames += c.frames.size() + c.comm.size();
    (void)frames;
  }
  kstuck::find_nmi_headers(bytes, 8);
  return 0;
}
