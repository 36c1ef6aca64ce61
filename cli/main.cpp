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

void print_usage(const po::options_description& global) {
  std::cout << "usage: kstuck [--version] [--help] COMMAND [ARGS...]\n\n" << global << "\ncommands:\n";
  for (const auto& c : kstuck::cli::registered_commands()) std::printf("  %-12s %s\n", c.name, c.summary);
  std::cout << "\nRun 'kstuck COMMAND --help' for a command's options.\n";
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description global("global options");
  global.add_options()("help,h", "show this help")("version", "print kstuck's version and exit");

  // Global options stop at the first positional argument: the command.
  std::vector<std::string> rest;
  po::variables_map vm;
  try {
    po::options_description all;
    all.add(global).add_options()("command", po::value<std::string>())(
        "args", po::value<std::vector<std::string>>());
    po::positional_options_description pos;
    pos.add("command", 1).add("args", -1);
    // No guessing: a command's own "--comm" must not be taken for a prefix of "--command".
    auto parsed = po::command_line_parser(argc, argv)
                      .options(all)
                      .positional(pos)
                      .style(po::command_line_style::default_style & ~po::command_line_style::allow_guessing)
                      .allow_unregistered()
                      .run();
    po::store(parsed, vm);
    po::notify(vm);
    rest = po::collect_unrecognized(parsed.options, po::include_positional);
  } catch (const po::error& e) {
    std::cerr << "kstuck: " << e.what() << "\n";
    return 2;
  }

  if (vm.count("version")) {
    std::cout << "kstuck " << KSTUCK_VERSION << "\n";
    return 0;
  }
  if (!vm.count("command")) {
    print_usage(global);
    return vm.count("help") ? 0 : 2;
  }
  // collect_unrecognized returns the command name first: drop it.
  std::string name = vm["command"].as<std::string>();
  if (!rest.empty() && rest.front() == name) rest.erase(rest.begin());
  const auto* command = kstuck::cli::find_command(name);
  if (!command) {
    std::cerr << "kstuck: unknown command '" << name << "' (see kstuck --help)\n";
    return 2;
  }
  if (vm.count("help")) rest.insert(rest.begin(), "--help");
  return command->run(rest);
}
