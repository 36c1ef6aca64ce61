// SPDX-License-Identifier: GPL-2.0
// "kstuck nmi": kstuck.ko's NMI snapshots in this dump, rendered as the CLI's "kstuck nmi show --vmcore".
#include <string>

#include "analysis/nmi_dump_history.h"
#include "analysis/nmi_report.h"
#include "crash_ext/crash_session.h"
#include "crash_ext/subcommand.h"

namespace kstuck::crash {
namespace {

// Names frames the way the CLI's dump namer does: the model's symbolizer (vmlinux and
// module kallsyms), the vmlinux DWARF for source lines.
class SessionNamer final : public FrameNamer {
 public:
  SessionNamer(CrashTarget& target, Symbolizer& symbolizer) : target_(target), symbolizer_(symbolizer) {}
  std::string format(uint64_t addr, bool ret) override { return symbolizer_.format(addr, ret); }
  std::string function(uint64_t addr, bool ret) override {
    auto s = symbolizer_.lookup(ret && addr ? addr - 1 : addr);
    return s ? s->name : std::string();
  }
  std::optional<std::string> source(uint64_t addr, bool ret) override {
    auto line = target_.source_line(ret && addr ? addr - 1 : addr);
    if (!line) return std::nullopt;
    return *line;
  }

 private:
  CrashTarget& target_;
  Symbolizer& symbolizer_;
};

Result<std::string> run_nmi(CrashTarget& target, const Options& o) {
  auto model = CrashSession::model();
  if (!model) return tl::unexpected(model.error());
  auto dumped = read_dumped_nmi_history(target, (*model)->symbolizer());
  if (!dumped) return tl::unexpected(dumped.error());
  const NmiHistory& h = dumped->history;
  // Like the CLI: the newest snapshot, or every one kept with -a.
  std::vector<const NmiSnapshot*> snaps;
  size_t last = o.all ? h.snapshots.size() : 1;
  for (size_t i = h.snapshots.size() > last ? h.snapshots.size() - last : 0; i < h.snapshots.size(); i++)
    snaps.push_back(&h.snapshots[i]);
  SessionNamer namer(target, (*model)->symbolizer());
  NmiReportOptions options;
  std::string out;
  for (const auto& w : dumped->warnings) out += "kstuck nmi: warning: " + w + "\n";
  if (o.json) return render_nmi_json(h, snaps, namer, options);
  if (snaps.empty())
    return out + "no snapshots (history of " + std::to_string(h.info.nr_slots) + " slots, " +
           std::to_string(h.info.write_seq) + " captures since load)\n";
  return out + render_nmi_text(h, snaps, namer, options);
}

}  // namespace

KSTUCK_CRASH_SUBCOMMAND({"nmi", "nmi [-a] [-j]", "ja", false, run_nmi});

}  // namespace kstuck::crash
