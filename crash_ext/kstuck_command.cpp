// SPDX-License-Identifier: GPL-2.0
// The "kstuck" crash command: parses its words, runs one subcommand, and makes sure
// no C++ exception and no error ever leaves it (crash keeps its prompt).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "crash_ext/crash_bridge.h"
#include "crash_ext/crash_session.h"
#include "crash_ext/crash_target.h"
#include "crash_ext/subcommand.h"

namespace kstuck::crash {
namespace {

std::vector<Subcommand>& registry() {
  static std::vector<Subcommand> list;
  return list;
}

void write(const std::string& text) { kstuck_bridge_write(text.data(), text.size()); }

std::string usage_text() {
  std::string s = "usage:\n";
  for (const auto& sub : registry())
    if (!sub.hidden) s += std::string("  kstuck ") + sub.usage + "\n";
  s += "Enter \"help kstuck\" for details.\n";
  return s;
}

// getopt-style parsing of the letters a subcommand accepts; the word after -c is the
// CPU, after -s the seconds. Returns an error message, empty when fine.
std::string parse(const Subcommand& sub, const std::vector<std::string>& words, Options& out) {
  std::string accepted = sub.options;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w.size() < 2 || w[0] != '-' || (w[1] >= '0' && w[1] <= '9')) {
      out.positional.push_back(w);
      continue;
    }
    for (size_t k = 1; k < w.size(); ++k) {
      char c = w[k];
      // An option's value: the rest of this word (-c3) or the next word (-c 3).
      auto value_of = [&] { return k + 1 < w.size() ? w.substr(k + 1) : (i + 1 < words.size() ? words[++i] : ""); };
      if (accepted.find(c) == std::string::npos) return std::string("unknown option -") + c;
      if (c == 'j') {
        out.json = true;
      } else if (c == 'd') {
        out.dot = true;
      } else if (c == 'a') {
        out.all = true;
      } else if (c == 'c') {
        std::string value = value_of();
        char* end = nullptr;
        long cpu = std::strtol(value.c_str(), &end, 10);
        if (value.empty() || *end || cpu < 0 || cpu > 65535) return "-c needs a CPU number, got '" + value + "'";
        out.cpu = static_cast<int>(cpu);
        break;
      } else if (c == 's') {
        std::string value = value_of();
        char* end = nullptr;
        double s = std::strtod(value.c_str(), &end);
        // The CLI's --starved-after bounds: (0, 1 day].
        if (value.empty() || *end || !(s > 0 && s <= 86400)) return "-s needs seconds in (0, 86400], got '" + value + "'";
        out.starved_after_s = s;
        break;
      }
    }
  }
  return {};
}

void run(int argc, char** argv) {
  std::vector<std::string> words;
  for (int i = 1; i < argc && argv[i]; ++i) words.emplace_back(argv[i]);
  if (words.empty()) {
    write(usage_text());
    return;
  }
  auto& list = registry();
  auto it = std::find_if(list.begin(), list.end(), [&](const Subcommand& s) { return words[0] == s.name; });
  if (it == list.end()) {
    write("kstuck: unknown subcommand '" + words[0] + "'\n" + usage_text());
    return;
  }
  Options options;
  words.erase(words.begin());
  if (std::string e = parse(*it, words, options); !e.empty()) {
    write(std::string("kstuck ") + it->name + ": " + e + "\nusage: kstuck " + it->usage + "\n");
    return;
  }
  auto out = it->run(CrashSession::target(), options);
  if (!out) {
    write(std::string("kstuck ") + it->name + ": " + out.error().describe() + "\n");
    return;
  }
  write(*out);
  if (!out->empty() && out->back() != '\n') write("\n");
}

}  // namespace

SubcommandRegistrar::SubcommandRegistrar(Subcommand subcommand) {
  auto& list = registry();
  auto at = std::lower_bound(list.begin(), list.end(), subcommand,
                             [](const Subcommand& a, const Subcommand& b) { return std::strcmp(a.name, b.name) < 0; });
  list.insert(at, subcommand);
}

const std::vector<Subcommand>& subcommands() { return registry(); }

}  // namespace kstuck::crash

extern "C" void kstuck_crash_command(int argc, char** argv) {
  // Nothing may unwind into crash's C frames: report and return to the prompt. The
  // handlers print fixed strings: building a message could throw again.
  static const char kOom[] = "kstuck: out of memory\n";
  static const char kInternal[] = "kstuck: internal error: ";
  try {
    kstuck::crash::run(argc, argv);
  } catch (const std::bad_alloc&) {
    kstuck_bridge_write(kOom, sizeof(kOom) - 1);
  } catch (const std::exception& e) {
    kstuck_bridge_write(kInternal, sizeof(kInternal) - 1);
    kstuck_bridge_write(e.what(), std::strlen(e.what()));
    kstuck_bridge_write("\n", 1);
  } catch (...) {
    kstuck_bridge_write(kInternal, sizeof(kInternal) - 1);
    kstuck_bridge_write("unknown exception\n", 18);
  }
}
