// SPDX-License-Identifier: GPL-2.0
// The registry of "kstuck" subcommands inside crash: one file per subcommand in commands/.
#pragma once

#include <string>
#include <vector>

#include "analysis/error.h"

namespace kstuck {
class CrashTarget;
}

namespace kstuck::crash {

// The words after the subcommand, parsed the crash way: -j, -d, -a, -c CPU, -s SECONDS,
// positionals.
struct Options {
  bool json = false;
  bool dot = false;              // -d: Graphviz DOT (hang)
  bool all = false;
  int cpu = -1;                  // -c
  double starved_after_s = 0;    // -s SECONDS (hang); 0: the default
  std::vector<std::string> positional;
};

// A subcommand returns the text to print (crash's output stream gets it whole) or an
// error that the dispatcher prints as "kstuck: <subcommand>: <message>".
struct Subcommand {
  const char* name;
  const char* usage;        // one line, shown on a usage error
  const char* options;      // getopt-style letters it accepts, e.g. "jac:"
  bool hidden;              // left out of the usage list (diagnostics)
  Result<std::string> (*run)(CrashTarget& target, const Options& options);
};

class SubcommandRegistrar {
 public:
  explicit SubcommandRegistrar(Subcommand subcommand);
};

const std::vector<Subcommand>& subcommands();

}  // namespace kstuck::crash

#define KSTUCK_CRASH_CONCAT_INNER(a, b) a##b
#define KSTUCK_CRASH_CONCAT(a, b) KSTUCK_CRASH_CONCAT_INNER(a, b)
#define KSTUCK_CRASH_SUBCOMMAND(...) \
  static const ::kstuck::crash::SubcommandRegistrar KSTUCK_CRASH_CONCAT(kstuck_crash_sub_, __LINE__)(__VA_ARGS__)
