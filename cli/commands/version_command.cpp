// SPDX-License-Identifier: GPL-2.0
// "kstuck version": this program's version and, when kstuck.ko is loaded, the module's.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "cli/command.h"
#include "kmod/uapi/kstuck_ioctl.h"

namespace {

int run_version(const std::vector<std::string>& args) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::printf("usage: kstuck version\n  prints kstuck's version and the loaded kstuck.ko's ABI\n");
    return 0;
  }
  std::printf("kstuck %s (control ABI %d.%d)\n", KSTUCK_VERSION, KSTUCK_ABI_MAJOR, KSTUCK_ABI_MINOR);
  int fd = open(KSTUCK_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::printf("kstuck.ko: not available (%s: %s)\n", KSTUCK_DEVICE_PATH, std::strerror(errno));
    return 0;
  }
  kstuck_version v{};
  int rc = ioctl(fd, KSTUCK_IOC_VERSION, &v);
  int saved = errno;
  close(fd);
  if (rc != 0) {
    std::fprintf(stderr, "kstuck: KSTUCK_IOC_VERSION: %s\n", std::strerror(saved));
    return 1;
  }
  std::printf("kstuck.ko %.*s (control ABI %u.%u, record format %u.%u) on %.*s\n",
              static_cast<int>(sizeof(v.module_version)), v.module_version, v.abi_major, v.abi_minor,
              v.record_major, v.record_minor, static_cast<int>(sizeof(v.kernel_release)), v.kernel_release);
  return 0;
}

}  // namespace

KSTUCK_REGISTER_COMMAND({"version", "print kstuck's and kstuck.ko's versions", run_version});
