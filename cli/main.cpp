// SPDX-License-Identifier: GPL-2.0
// kstuck's entry point: global options, then dispatch to one registered Command.
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "cli/command.h"

namespace po = boost::program_options;

namespace {

po::options_description global_options() {
  po::options_description global("global options");
  global.add_options()("help,h", "show this help")("version", "print kstuck's version and exit");
  return global;
}

void print_usage() {
  std::cout << "usage: kstuck [--version] [--help] COMMAND [ARGS...]\n"
               "       kstuck help [COMMAND [SUBCOMMAND]]\n\n"
            << global_options() << "\ncommands:\n";
  for (const auto& c : kstuck::cli::registered_commands()) std::printf("  %-12s %s\n", c.name, c.summary);
  std::cout << "\nRun 'kstuck help COMMAND' (or 'kstuck COMMAND --help') for a command's options.\n"
               "exit status: 0 complete, 1 dump or device unusable, 2 usage error, 3 partial report or UNKNOWN\n";
}

// "kstuck help [COMMAND [SUBCOMMAND...]]": the command's own --help (the man page
// kstuck(1) documents the same options; tests/package/man_check.py holds them equal).
int run_help(const std::vector<std::string>& args) {
  if (args.empty()) {
    print_usage();
    return 0;
  }
  if (args[0] == "--help" || args[0] == "-h") {
    std::cout << "usage: kstuck help [COMMAND [SUBCOMMAND]]\n"
                 "  prints the usage of kstuck, or a command's help (as 'kstuck COMMAND --help')\n";
    return 0;
  }
  const auto* command = kstuck::cli::find_command(args[0]);
  if (!command) {
    std::cerr << "kstuck help: unknown command '" << args[0] << "' (see kstuck --help)\n";
    return 2;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  rest.push_back("--help");
  return command->run(rest);
}

}  // namespace

KSTUCK_REGISTER_COMMAND({"help", "print the usage of kstuck or of one command", run_help});

int main(int argc, char** argv) {
  // Global options come before the command; everything from the command on is the
  // command's, so "kstuck nmi capture --help" reaches nmi capture, not the global help.
  bool help = false;
  int i = 1;
  for (; i < argc; i++) {
    std::string arg = argv[i];
    if (arg == "--") {
      i++;
      break;
    }
    if (arg.empty() || arg[0] != '-') break;
    if (arg == "--version") {
      std::cout << "kstuck " << KSTUCK_VERSION << "\n";
      return 0;
    }
    if (arg == "--help" || arg == "-h") {
      help = true;
      continue;
    }
    std::cerr << "kstuck: unknown global option '" << arg << "' (see kstuck --help)\n";
    return 2;
  }
  if (i >= argc) {
    print_usage();
    return help ? 0 : 2;
  }
  std::string name = argv[i];
  const auto* command = kstuck::cli::find_command(name);
  if (!command) {
    std::cerr << "kstuck: unknown command '" << name << "' (see kstuck --help)\n";
    return 2;
  }
  std::vector<std::string> rest(argv + i + 1, argv + argc);
  // "kstuck --help COMMAND" is "kstuck help COMMAND".
  if (help) rest.push_back("--help");
  return command->run(rest);
}
