// SPDX-License-Identifier: GPL-2.0
// The tracing side of /dev/kstuck for the CLI: sessions, listings, symbol and syscall names.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "analysis/error.h"
#include "kmod/uapi/kstuck_ioctl.h"

namespace kstuck::cli {

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }
  int release();
  void reset();

 private:
  int fd_ = -1;
};

// The probes a user asked for: "fbt:GLOB" and "syscall:GLOB" items.
struct ProbeSpecs {
  std::vector<std::string> items;
  std::string joined() const;  // NUL-separated, as the START ioctl takes them
};

// Splits arguments like "fbt:a*,syscall:openat" into items; a bare name means fbt.
Result<ProbeSpecs> parse_probe_specs(const std::vector<std::string>& args);

Result<Fd> open_kstuck_device();

struct SessionOptions {
  uint32_t flags = 0;
  uint32_t ring_events = 0;
  int32_t tgid_filter = 0;
};

// A running session; the destructor (close) tears down whatever is still enabled.
struct Session {
  Fd fd;
  kstuck_trace_start info{};
};

Result<Session> start_session(const Fd& dev, const ProbeSpecs& specs, const SessionOptions& opts);
Result<kstuck_trace_stats> stop_session(const Session& s);

// Listing lines for kind (KSTUCK_PROBE_FBT / KSTUCK_PROBE_SYSCALL_ENTER) matching glob.
struct Listing {
  std::vector<std::string> lines;
  kstuck_trace_list info{};
};
Result<Listing> list_probes(const Fd& dev, uint32_t kind, const std::string& glob);

// Hands tracefs's function list to kstuck.ko for fbt listings; returns its size.
Result<uint32_t> publish_function_list(const Fd& dev);

// Syscall number -> name, from the module's listing.
Result<std::map<uint64_t, std::string>> syscall_names(const Fd& dev);

// Kernel text symbols from /proc/kallsyms, for naming function probe addresses.
class KallsymsIndex {
 public:
  static Result<KallsymsIndex> load(const std::string& path = "/proc/kallsyms");
  // The function at addr ("name [module]"); "name+0xoff" for addresses inside one
  // (always with with_offset), hex when no symbol is near.
  std::string name(uint64_t addr, bool with_offset = false) const;

 private:
  std::vector<std::pair<uint64_t, std::string>> syms_;
};

}  // namespace kstuck::cli
