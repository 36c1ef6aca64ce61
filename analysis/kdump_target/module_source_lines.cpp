// SPDX-License-Identifier: GPL-2.0
// Module frames to file:line: find the .ko, check it against the dump, ask libdwfl.
#include "analysis/kdump_target/module_source_lines.h"

#include <elfutils/libdwfl.h>
#include <gelf.h>

#include <filesystem>

#include "analysis/kdump_target/module_match.h"
#include "analysis/kdump_target/module_object.h"

namespace kstuck {

namespace {

// The .ko carries its own DWARF; never go looking in /usr/lib/debug or debuginfod
// for a file that could belong to another build.
int no_separate_debuginfo(Dwfl_Module*, void**, const char*, Dwarf_Addr, const char*, const char*, GElf_Word,
                          char**) {
  return -1;
}

const Dwfl_Callbacks kOfflineCallbacks = {
    .find_elf = dwfl_build_id_find_elf,  // not called: dwfl_report_offline is given the file
    .find_debuginfo = no_separate_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = nullptr,
};

std::string dwfl_error() {
  const char* m = dwfl_errmsg(-1);
  return m ? m : "libdwfl error";
}

}  // namespace

struct ModuleSourceLines::Loaded {
  std::string name;     // the module's
  std::string problem;  // non-empty: no lines for this module, and why
  Dwfl* dwfl = nullptr;
  Dwfl_Module* module = nullptr;
  LoadedSections sections;
  std::map<uint32_t, uint64_t> dwfl_address;  // .ko section index -> where dwfl laid it out
  std::string source_root;                    // the .ko's directory + "/"
  ~Loaded() {
    if (dwfl) dwfl_end(dwfl);
  }
};

ModuleSourceLines::ModuleSourceLines(Target& target, const ModuleSet& modules, std::vector<std::string> dirs)
    : target_(target), modules_(modules), files_(std::move(dirs)) {}

ModuleSourceLines::~ModuleSourceLines() = default;

Result<std::unique_ptr<ModuleSourceLines::Loaded>> ModuleSourceLines::load(const ModuleInfo& m,
                                                                           const std::string& path) {
  // struct module's name as the .ko's .gnu.linkonce.this_module holds it: same layout,
  // since a module is built against its kernel's headers.
  auto name = target_.member("module", "name");
  if (!name) return tl::unexpected(name.error().with_context("struct module"));
  auto object = ModuleObject::open(path, name->offset, name->size);
  if (!object) return tl::unexpected(object.error());
  auto sections = match_module_object(target_, m, *object);
  if (!sections) return tl::unexpected(sections.error());

  auto l = std::make_unique<Loaded>();
  l->name = m.name;
  l->sections = std::move(*sections);
  std::error_code ec;
  auto dir = std::filesystem::weakly_canonical(std::filesystem::path(path).parent_path(), ec);
  if (!ec) l->source_root = dir.string() + "/";
  l->dwfl = dwfl_begin(&kOfflineCallbacks);
  if (!l->dwfl) return fail(ErrorKind::Os, path + ": dwfl_begin: " + dwfl_error());
  dwfl_report_begin(l->dwfl);
  l->module = dwfl_report_offline(l->dwfl, m.name.c_str(), path.c_str(), -1);
  if (!l->module) return fail(ErrorKind::Format, path + ": " + dwfl_error());
  if (dwfl_report_end(l->dwfl, nullptr, nullptr) != 0) return fail(ErrorKind::Format, path + ": " + dwfl_error());
  Dwarf_Addr dwarf_bias = 0;
  if (!dwfl_module_getdwarf(l->module, &dwarf_bias))
    return fail(ErrorKind::NotFound, path + ": no DWARF (" + dwfl_error() + "); build it with CONFIG_DEBUG_INFO");
  GElf_Addr bias = 0;
  Elf* elf = dwfl_module_getelf(l->module, &bias);
  if (!elf) return fail(ErrorKind::Format, path + ": " + dwfl_error());
  for (const auto& p : l->sections.placements) {
    GElf_Shdr shdr;
    Elf_Scn* scn = elf_getscn(elf, p.section);
    if (!scn || !gelf_getshdr(scn, &shdr) || shdr.sh_size != p.size)
      return fail(ErrorKind::Format, path + ": section " + std::to_string(p.section) + " changed under libdwfl");
    l->dwfl_address[p.section] = shdr.sh_addr + bias;
  }
  return l;
}

ModuleSourceLines::Loaded& ModuleSourceLines::loaded(const ModuleInfo& m) {
  auto it = by_module_.find(m.address);
  if (it != by_module_.end()) return *it->second;
  auto fallback = std::make_unique<Loaded>();
  fallback->name = m.name;
  const ModuleFiles::Candidates* found = files_.find(m.name);
  if (!found || found->objects.empty()) {
    if (found && !found->compressed.empty())
      fallback->problem = found->compressed.front() + " is compressed: only plain .ko files are read (decompress it)";
    else
      fallback->problem = "no " + m.name + ".ko found";
    return *by_module_.emplace(m.address, std::move(fallback)).first->second;
  }
  // Several copies (a build tree and an install tree): the first one that matches.
  std::string refusals;
  for (const auto& path : found->objects) {
    auto l = load(m, path);
    if (l) return *by_module_.emplace(m.address, std::move(*l)).first->second;
    refusals += (refusals.empty() ? "" : "; ") + l.error().message();
  }
  fallback->problem = refusals + "; not used";
  return *by_module_.emplace(m.address, std::move(fallback)).first->second;
}

Result<std::string> ModuleSourceLines::at(uint64_t address) {
  const ModuleInfo* m = modules_.containing(address);
  if (!m) return fail(ErrorKind::NotFound, "not in a loaded module", address);
  Loaded& l = loaded(*m);
  if (!l.problem.empty()) return fail(ErrorKind::NotFound, m->name + ": " + l.problem, address);
  // Sections the dump's kallsyms names no function in (init code freed after load,
  // data) have no known load address: no line rather than a guessed one.
  const auto* placed = l.sections.containing(address);
  if (!placed) return fail(ErrorKind::NotFound, m->name + ": no section with a known load address here", address);
  Dwfl_Line* line = dwfl_module_getsrc(l.module, l.dwfl_address[placed->section] + (address - placed->address));
  int lineno = 0;
  const char* file = line ? dwfl_lineinfo(line, nullptr, &lineno, nullptr, nullptr, nullptr) : nullptr;
  if (!file) return fail(ErrorKind::NotFound, m->name + ": no line information (" + dwfl_error() + ")", address);
  std::string path = file;
  if (!l.source_root.empty() && path.compare(0, l.source_root.size(), l.source_root) == 0)
    path.erase(0, l.source_root.size());
  return path + ":" + std::to_string(lineno);
}

std::vector<std::string> ModuleSourceLines::problems() {
  std::vector<std::string> out = files_.problems();
  for (const auto& [address, l] : by_module_)
    if (!l->problem.empty()) out.push_back("--module-dir: " + l->name + ": " + l->problem);
  return out;
}

}  // namespace kstuck
