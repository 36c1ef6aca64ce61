// SPDX-License-Identifier: GPL-2.0
#include "tests/unit/dev_dump.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace kstuck::dev_dump {

namespace fs = std::filesystem;

// The kernel cache outside the clone, as tests/vm/rig.py and scripts/fetch-kernel find it.
fs::path cache() {
  if (const char* c = std::getenv("KSTUCK_CACHE"); c && *c) return c;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return fs::path(x) / "kstuck";
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : "/root") / ".cache" / "kstuck";
}
fs::path foundation_dump() { return cache() / "dev" / "foundation-6.1.vmcore"; }
fs::path foundation_console() { return cache() / "dev" / "foundation-6.1.console.log"; }

std::map<std::string, std::string> truth(const fs::path& console) {
  std::map<std::string, std::string> facts;
  std::ifstream in(console);
  std::string line;
  while (std::getline(in, line)) {
    auto at = line.find("KSTUCK-TRUTH: ");
    if (at == std::string::npos) continue;
    std::istringstream words(line.substr(at + 14));
    std::string role, kv;
    words >> role;
    while (words >> kv)
      if (auto eq = kv.find('='); eq != std::string::npos) facts[role + "." + kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return facts;
}

}  // namespace kstuck::dev_dump
