// SPDX-License-Identifier: GPL-2.0
// "kstuck list PROBE...": the function and syscall probes kstuck.ko can enable.
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/trace/trace_device.h"

namespace kstuck::cli {
namespace {

int run_list(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::printf(
        "usage: kstuck list PROBE...\n"
        "  PROBE: 'fbt:GLOB' or 'syscall:GLOB'; prints the matching probes, one per line.\n"
        "  The listing is a snapshot kstuck.ko publishes: it never waits for a trace\n"
        "  session being enabled or torn down.\n");
    return args.empty() ? 2 : 0;
  }
  auto specs = parse_probe_specs(args);
  if (!specs) {
    std::cerr << "kstuck list: " << specs.error().message() << "\n";
    return 2;
  }
  auto dev = open_kstuck_device();
  if (!dev) {
    std::cerr << "kstuck list: " << dev.error().message() << "\n";
    return 1;
  }
  size_t total = 0;
  for (const auto& item : specs->items) {
    bool fbt = item.rfind("fbt:", 0) == 0;
    std::string glob = item.substr(item.find(':') + 1);
    auto l = list_probes(*dev, fbt ? KSTUCK_PROBE_FBT : KSTUCK_PROBE_SYSCALL_ENTER, glob);
    if (!l) {
      std::cerr << "kstuck list: " << item << ": " << l.error().message() << "\n";
      return 1;
    }
    for (const auto& line : l->lines) {
      std::istringstream in(line);
      std::string name, rest;
      in >> name;
      std::getline(in, rest);
      if (fbt) {
        std::printf("fbt:%s%s\n", name.c_str(), rest.c_str());
      } else {
        std::istringstream r(rest);
        unsigned nr = 0, sessions = 0;
        r >> nr >> sessions;
        std::printf("syscall:%-24s nr=%-4u tracing=%u\n", name.c_str(), nr, sessions);
      }
    }
    total += l->lines.size();
  }
  if (total == 0) {
    std::cerr << "kstuck list: no probe matches\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace kstuck::cli

KSTUCK_REGISTER_COMMAND({"list", "list the function and syscall probes kstuck can trace", kstuck::cli::run_list});
