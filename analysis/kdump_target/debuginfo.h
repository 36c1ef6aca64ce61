// SPDX-License-Identifier: GPL-2.0
// find_vmlinux_debuginfo: the dumped kernel's vmlinux with DWARF, found by build-id in
// the standard places or through debuginfod, for when file:line is wanted.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "analysis/error.h"

namespace kstuck {

struct DebuginfoQuery {
  std::string build_id;  // lowercase hex, VMCOREINFO's BUILD-ID
  std::string release;   // OSRELEASE, for the /usr/lib/debug/boot and lib/modules paths
  // Where to look; empty means /usr/lib/debug (the test points it elsewhere).
  std::string debug_root;
  // Called while debuginfod downloads (bytes so far, total or 0 when unknown).
  std::function<void(long done, long total)> progress;
};

// The first file that exists and carries the build-id:
//   DEBUG_ROOT/.build-id/xx/rest.debug, DEBUG_ROOT/boot/vmlinux-RELEASE,
//   DEBUG_ROOT/lib/modules/RELEASE/vmlinux,
// then debuginfod when DEBUGINFOD_URLS is set (libdebuginfod, which caches downloads in
// $DEBUGINFOD_CACHE_PATH, else ~/.cache/debuginfod_client). NotFound names everything tried.
Result<std::string> find_vmlinux_debuginfo(const DebuginfoQuery& q);

// The GNU build-id note of an ELF file, lowercase hex (empty if none or unreadable).
std::string elf_build_id(const std::string& path);

}  // namespace kstuck
