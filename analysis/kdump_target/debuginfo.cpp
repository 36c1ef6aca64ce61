// SPDX-License-Identifier: GPL-2.0
// find_vmlinux_debuginfo: standard debug paths by build-id, then libdebuginfod's client.
#include "analysis/kdump_target/debuginfo.h"

#include <dlfcn.h>
#include <elfutils/debuginfod.h>
#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <libelf.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace kstuck {
namespace {

bool is_hex_id(const std::string& id) {
  if (id.size() < 8 || id.size() > 128 || id.size() % 2) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// A release is a path component here: no '/', no "..".
bool is_plain_release(const std::string& r) {
  return !r.empty() && r.find('/') == std::string::npos && r != "." && r != "..";
}

// libdebuginfod is opened when a download is wanted, as libdw itself does: linked in,
// it brought libcurl and 30 more libraries into every run, whose relocations were 22M
// instructions of a `kstuck --version` and a fifth of a no-vmlinux `analyze`.
struct DebuginfodApi {
  decltype(&debuginfod_begin) begin = nullptr;
  decltype(&debuginfod_end) end = nullptr;
  decltype(&debuginfod_set_user_data) set_user_data = nullptr;
  decltype(&debuginfod_get_user_data) get_user_data = nullptr;
  decltype(&debuginfod_set_progressfn) set_progressfn = nullptr;
  decltype(&debuginfod_find_debuginfo) find_debuginfo = nullptr;
  std::string error;  // why it is not usable
};

template <typename Fn>
void bind(void* lib, const char* name, Fn& fn, std::string& error) {
  fn = reinterpret_cast<Fn>(dlsym(lib, name));
  if (!fn && error.empty()) error = std::string("libdebuginfod.so.1 has no ") + name;
}

const DebuginfodApi& debuginfod_api() {
  static const DebuginfodApi api = [] {
    DebuginfodApi a;
    void* lib = dlopen("libdebuginfod.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* e = dlerror();
      a.error = std::string("cannot load libdebuginfod.so.1 (Debian: libdebuginfod1): ") + (e ? e : "dlopen failed");
      return a;
    }
    bind(lib, "debuginfod_begin", a.begin, a.error);
    bind(lib, "debuginfod_end", a.end, a.error);
    bind(lib, "debuginfod_set_user_data", a.set_user_data, a.error);
    bind(lib, "debuginfod_get_user_data", a.get_user_data, a.error);
    bind(lib, "debuginfod_set_progressfn", a.set_progressfn, a.error);
    bind(lib, "debuginfod_find_debuginfo", a.find_debuginfo, a.error);
    return a;  // the library stays loaded for the process's life
  }();
  return api;
}

int report_progress(debuginfod_client* c, long done, long total) {
  auto* q = static_cast<const DebuginfoQuery*>(debuginfod_api().get_user_data(c));
  if (q && q->progress) q->progress(done, total);
  return 0;  // non-zero would cancel
}

}  // namespace

std::string elf_build_id(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  elf_version(EV_CURRENT);
  Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
  std::string out;
  if (elf && elf_kind(elf) == ELF_K_ELF) {
    const void* id = nullptr;
    ssize_t n = dwelf_elf_gnu_build_id(elf, &id);
    static const char digits[] = "0123456789abcdef";
    for (ssize_t i = 0; i < n && id; i++) {
      auto b = static_cast<const unsigned char*>(id)[i];
      out += digits[b >> 4];
      out += digits[b & 15];
    }
  }
  if (elf) elf_end(elf);
  ::close(fd);
  return out;
}

Result<std::string> find_vmlinux_debuginfo(const DebuginfoQuery& q) {
  if (!is_hex_id(q.build_id))
    return fail(ErrorKind::NotFound, "the dump carries no BUILD-ID to look the vmlinux up by");
  std::string root = q.debug_root.empty() ? "/usr/lib/debug" : q.debug_root;
  std::vector<std::string> candidates = {root + "/.build-id/" + q.build_id.substr(0, 2) + "/" + q.build_id.substr(2) + ".debug"};
  if (is_plain_release(q.release)) {
    candidates.push_back(root + "/boot/vmlinux-" + q.release);
    candidates.push_back(root + "/lib/modules/" + q.release + "/vmlinux");
  }
  std::string tried;
  for (const auto& c : candidates) {
    if (::access(c.c_str(), R_OK) != 0) {
      tried += (tried.empty() ? "" : ", ") + c;
      continue;
    }
    // VMCOREINFO may carry a prefix of a longer id: compare that much.
    std::string id = elf_build_id(c);
    if (!id.empty() && id.compare(0, q.build_id.size(), q.build_id) == 0) return c;
    tried += (tried.empty() ? "" : ", ") + c + " (another build)";
  }
  const char* urls = std::getenv("DEBUGINFOD_URLS");
  if (!urls || !*urls)
    return fail(ErrorKind::NotFound, "no vmlinux with build-id " + q.build_id + " (tried " + tried +
                                         "; DEBUGINFOD_URLS is not set)");
  const DebuginfodApi& api = debuginfod_api();
  if (!api.error.empty())
    return fail(ErrorKind::NotFound, "no vmlinux with build-id " + q.build_id + " (tried " + tried + "; DEBUGINFOD_URLS is set but " +
                                         api.error + ")");
  std::unique_ptr<debuginfod_client, void (*)(debuginfod_client*)> client(api.begin(), api.end);
  if (!client) return fail(ErrorKind::Os, "debuginfod_begin failed");
  api.set_user_data(client.get(), const_cast<DebuginfoQuery*>(&q));
  api.set_progressfn(client.get(), report_progress);
  char* path = nullptr;
  // A build-id length of 0: the id is given as a hex string.
  int fd = api.find_debuginfo(client.get(), reinterpret_cast<const unsigned char*>(q.build_id.c_str()), 0, &path);
  if (fd < 0)
    return fail(ErrorKind::NotFound, "no vmlinux with build-id " + q.build_id + " (tried " + tried + "; debuginfod at " +
                                         urls + ": " + std::strerror(-fd) + ")");
  ::close(fd);
  std::string out = path ? path : "";
  std::free(path);
  if (out.empty()) return fail(ErrorKind::Os, "debuginfod returned no path");
  return out;
}

}  // namespace kstuck
