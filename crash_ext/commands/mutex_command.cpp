// SPDX-License-Identifier: GPL-2.0
// "kstuck mutex": the CLI's sleeping-lock view (owners, waiters, evidence) over this crash session.
#include <cstdlib>
#include <optional>
#include <string>

#include "analysis/hang/scan_views.h"
#include "crash_ext/crash_session.h"
#include "crash_ext/subcommand.h"

namespace kstuck::crash {
namespace {

Result<std::string> run_mutex(CrashTarget&, const Options& o) {
  std::optional<uint64_t> address;
  if (!o.positional.empty()) {
    // crash-style: hex with or without 0x.
    const std::string& a = o.positional[0];
    char* end = nullptr;
    address = std::strtoull(a.c_str(), &end, 16);
    if (a.empty() || *end || o.positional.size() > 1) return fail(ErrorKind::Invalid, "not a hex address: '" + a + "'");
  }
  auto model = CrashSession::model();
  if (!model) return tl::unexpected(model.error());
  auto scans = scan_hang_with_model(**model);
  return o.json ? render_mutexes_json(**model, scans, address) : render_mutexes_text(**model, scans, address);
}

}  // namespace

KSTUCK_CRASH_SUBCOMMAND({"mutex", "mutex [address] [-j]", "j", false, run_mutex});

}  // namespace kstuck::crash
