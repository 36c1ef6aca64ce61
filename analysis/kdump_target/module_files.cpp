// SPDX-License-Identifier: GPL-2.0
// One bounded recursive walk of the --module-dir directories, indexed by module name.
#include "analysis/kdump_target/module_files.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

namespace kstuck {

namespace fs = std::filesystem;

namespace {

// "foo-bar.ko.xz" -> name "foo_bar", compressed; false for a file that is no module.
bool module_name_of(const std::string& file, std::string& name, bool& compressed) {
  static constexpr std::string_view kCompressed[] = {".ko.xz", ".ko.zst", ".ko.gz"};
  auto ends = [&](std::string_view suffix) {
    return file.size() > suffix.size() && file.compare(file.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  size_t cut = 0;
  compressed = false;
  if (ends(".ko")) {
    cut = 3;
  } else {
    for (auto s : kCompressed)
      if (ends(s)) {
        cut = s.size();
        compressed = true;
      }
  }
  if (!cut) return false;
  name = file.substr(0, file.size() - cut);
  std::replace(name.begin(), name.end(), '-', '_');
  return true;
}

}  // namespace

void ModuleFiles::scan() {
  if (scanned_) return;
  scanned_ = true;
  size_t entries = 0;
  for (const auto& dir : dirs_) {
    std::error_code ec;
    fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
    if (ec) {
      problems_.push_back("--module-dir " + dir + ": " + ec.message());
      continue;
    }
    // Directory order is good enough: every candidate is checked against the dump
    // before it is used, so the order only decides which of two equal copies wins.
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) {
        problems_.push_back("--module-dir " + dir + ": " + ec.message());
        break;
      }
      if (++entries > kMaxEntries) {
        problems_.push_back("--module-dir: stopped after " + std::to_string(kMaxEntries) + " entries");
        return;
      }
      if (it.depth() >= kMaxDepth) it.disable_recursion_pending();
      std::error_code type_ec;
      if (!it->is_regular_file(type_ec)) continue;
      std::string name;
      bool compressed = false;
      if (!module_name_of(it->path().filename().string(), name, compressed)) continue;
      auto& c = by_name_[name];
      (compressed ? c.compressed : c.objects).push_back(it->path().string());
    }
  }
}

const ModuleFiles::Candidates* ModuleFiles::find(std::string_view name) {
  scan();
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &it->second;
}

}  // namespace kstuck
