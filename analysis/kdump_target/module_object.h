// SPDX-License-Identifier: GPL-2.0
// ModuleObject: what a kernel module file (.ko, ET_REL) says about itself, read with libelf.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "analysis/error.h"

namespace kstuck {

// A .ko is hostile input like the dump: every size and index is checked, and a
// truncated or garbage file is an Error, never a crash.
class ModuleObject {
 public:
  struct Section {
    std::string name;
    uint64_t size = 0;
    uint64_t flags = 0;  // SHF_*
  };
  // A defined function symbol: its offset inside its section (ET_REL values are
  // section-relative) and that section's index.
  struct Function {
    std::string name;
    uint32_t section = 0;
    uint64_t offset = 0;
    uint64_t size = 0;
  };

  // this_module_name_offset/size: where struct module keeps `name` (from the dump's
  // type info), to read the name out of the .gnu.linkonce.this_module section.
  static Result<ModuleObject> open(const std::string& path, uint64_t this_module_name_offset,
                                   uint64_t this_module_name_size);

  const std::string& path() const { return path_; }
  // The name from .gnu.linkonce.this_module (what the kernel lists), e.g. "kstuck_scenario".
  const std::string& name() const { return name_; }
  // modinfo "name=" when present (modpost writes it); empty otherwise.
  const std::string& modinfo_name() const { return modinfo_name_; }
  const std::string& build_id() const { return build_id_; }  // lowercase hex, may be empty
  const std::vector<Section>& sections() const { return sections_; }  // by ELF index
  const std::vector<Function>& functions() const { return functions_; }
  // Indexes into functions() of every function called name.
  std::vector<size_t> functions_named(std::string_view name) const;

 private:
  ModuleObject() = default;
  std::string path_, name_, modinfo_name_, build_id_;
  std::vector<Section> sections_;
  std::vector<Function> functions_;
  std::unordered_multimap<std::string, size_t> by_name_;
};

}  // namespace kstuck
