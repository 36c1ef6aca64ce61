// SPDX-License-Identifier: GPL-2.0
// ModuleFiles: the kernel module files (.ko, .ko.xz, ...) under the --module-dir directories.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace kstuck {

class ModuleFiles {
 public:
  struct Candidates {
    std::vector<std::string> objects;     // plain .ko files, in directory order
    std::vector<std::string> compressed;  // .ko.xz/.ko.zst/.ko.gz: found but not read
  };

  // Nothing is read until the first find().
  explicit ModuleFiles(std::vector<std::string> dirs) : dirs_(std::move(dirs)) {}

  // The files that may hold module `name` as the kernel spells it: the file name
  // with '-' read as '_' (kbuild names "foo-bar.ko" module "foo_bar"). nullptr: none.
  const Candidates* find(std::string_view name);
  // Directories that could not be read, and limits hit while searching.
  const std::vector<std::string>& problems() { scan(); return problems_; }

  // Bounds of the recursive search: a --module-dir of / must not walk the whole disk.
  static constexpr int kMaxDepth = 8;
  static constexpr size_t kMaxEntries = 200000;

 private:
  void scan();
  std::vector<std::string> dirs_;
  bool scanned_ = false;
  std::map<std::string, Candidates, std::less<>> by_name_;
  std::vector<std::string> problems_;
};

}  // namespace kstuck
