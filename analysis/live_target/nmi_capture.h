// SPDX-License-Identifier: GPL-2.0
// A fresh kstuck.ko NMI capture of every CPU (KSTUCK_IOC_NMI_CAPTURE, then the history read back and parsed).
#pragma once

#include <cstdint>
#include <string>

#include "analysis/error.h"
#include "analysis/nmi_records.h"

namespace kstuck {

struct LiveCapture {
  NmiSnapshot snapshot;  // the new snapshot, by its sequence number
  uint32_t nr_requested = 0;
  uint32_t nr_answered = 0;
  uint64_t duration_ns = 0;  // from the first NMI sent to the last CPU answering
};

// NMIs every online CPU through /dev/kstuck and returns the snapshot taken. Fails with
// NotFound when kstuck.ko is not loaded (no device), Os on an ioctl error, Format when
// the history cannot be parsed or lacks the new snapshot. Bounded: the module waits at
// most timeout_ms for the CPUs, and the history read is at most 256 MiB.
Result<LiveCapture> take_nmi_capture(uint32_t timeout_ms, const std::string& device = "/dev/kstuck");

}  // namespace kstuck
