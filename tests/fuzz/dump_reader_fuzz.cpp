// SPDX-License-Identifier: GPL-2.0
// libFuzzer target: the whole vmcore reader (header checks, flattened reassembly, libkdumpfile, notes) on bytes in memory.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "analysis/kdump_target/dump_file.h"

// The input is the dump file itself (seed: tests/fuzz/make_seed_dump.py), kept in a
// memfd so DumpFile opens it by path like any file: /proc/self/fd/N.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int fd = memfd_create("fuzz_vmcore", MFD_CLOEXEC);
  if (fd < 0) std::abort();
  if (size && write(fd, data, size) != static_cast<ssize_t>(size)) std::abort();
  auto dump = kstuck::DumpFile::open("/proc/self/fd/" + std::to_string(fd));
  if (dump) {
    auto& d = **dump;
    for (int cpu = 0; cpu < d.cpu_count() && cpu < 64; cpu++) (void)d.cpu_registers(cpu);
    (void)d.vmcoreinfo("OSRELEASE");
    (void)d.vmcoreinfo("KERNELOFFSET");
    std::byte page[4096];
    // Physical pages (every page descriptor of a small dump), then kernel virtual
    // addresses through the page tables VMCOREINFO names.
    for (uint64_t pfn = 0; pfn < 80; pfn++) (void)d.read_phys(pfn << 12, page);
    (void)d.read_phys(0xffc, std::span(page, 16));  // across a page boundary
    for (uint64_t va : {0xffffffff81000000ull, 0xffff888000000000ull, 0xffffc90000003f00ull})
      (void)d.read(va, std::span(page, 64));
    (void)d.read_problems();
  }
  close(fd);
  return 0;
}
