// SPDX-License-Identifier: GPL-2.0
// The tracing side of /dev/kstuck for the CLI: sessions, listings, symbol and syscall names.
#include "cli/trace/trace_device.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace kstuck::cli {

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    reset();
    fd_ = o.release();
  }
  return *this;
}

Fd::~Fd() { reset(); }

int Fd::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void Fd::reset() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

std::string ProbeSpecs::joined() const {
  std::string out;
  for (const auto& i : items) {
    out += i;
    out.push_back('\0');
  }
  return out;
}

Result<ProbeSpecs> parse_probe_specs(const std::vector<std::string>& args) {
  ProbeSpecs specs;
  for (const auto& arg : args) {
    std::stringstream ss(arg);
    std::string item;
    while (std::getline(ss, item, ',')) {
      if (item.empty()) continue;
      if (item.rfind("fbt:", 0) != 0 && item.rfind("syscall:", 0) != 0) {
        if (item.find(':') != std::string::npos)
          return fail(ErrorKind::Invalid, "unknown probe provider in '" + item + "' (use fbt: or syscall:)");
        item = "fbt:" + item;
      }
      std::string glob = item.substr(item.find(':') + 1);
      if (glob.empty()) return fail(ErrorKind::Invalid, "empty glob in '" + item + "'");
      if (glob.size() >= KSTUCK_TRACE_GLOB_MAX)
        return fail(ErrorKind::Invalid, "glob too long in '" + item.substr(0, 40) + "...'");
      specs.items.push_back(item);
    }
  }
  if (specs.items.empty()) return fail(ErrorKind::Invalid, "no probe given (e.g. 'fbt:vfs_*' or 'syscall:openat')");
  return specs;
}

namespace {

Error os_error(const std::string& what, int err) {
  std::string hint;
  if (err == EPERM || err == EACCES) hint = " (tracing needs root: CAP_SYS_ADMIN)";
  if (err == ENOENT && what == KSTUCK_DEVICE_PATH) hint = " (is kstuck.ko loaded?)";
  return Error(ErrorKind::Os, what + ": " + std::strerror(err) + hint);
}

}  // namespace

Result<Fd> open_kstuck_device() {
  int fd = open(KSTUCK_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return tl::unexpected(os_error(KSTUCK_DEVICE_PATH, errno));
  return Fd(fd);
}

Result<Session> start_session(const Fd& dev, const ProbeSpecs& specs, const SessionOptions& opts) {
  std::string joined = specs.joined();
  Session s;
  s.info.size = sizeof(s.info);
  s.info.flags = opts.flags;
  s.info.specs = reinterpret_cast<uintptr_t>(joined.data());
  s.info.specs_len = static_cast<uint32_t>(joined.size());
  s.info.ring_events = opts.ring_events;
  s.info.tgid_filter = opts.tgid_filter;
  int fd = ioctl(dev.get(), KSTUCK_IOC_TRACE_START, &s.info);
  if (fd < 0) {
    int err = errno;
    switch (err) {
      case ENOENT:
        return fail(ErrorKind::NotFound, "no traceable probe matches the given probes");
      case EINVAL:
        return fail(ErrorKind::Invalid, "invalid probe: a glob may use letters, digits, _ . * ? and [...] classes");
      case EBUSY:
        return fail(ErrorKind::Limit, "too many trace sessions (at most " +
                                          std::to_string(KSTUCK_TRACE_MAX_SESSIONS) + " at once)");
      case EOPNOTSUPP:
        return fail(ErrorKind::NotFound, "this kernel has no syscall tracepoints");
      default:
        return tl::unexpected(os_error("KSTUCK_IOC_TRACE_START", err));
    }
  }
  s.fd = Fd(fd);
  return s;
}

Result<kstuck_trace_stats> stop_session(const Session& s) {
  kstuck_trace_stats st{};
  st.size = sizeof(st);
  if (ioctl(s.fd.get(), KSTUCK_IOC_TRACE_STOP, &st) != 0)
    return tl::unexpected(os_error("KSTUCK_IOC_TRACE_STOP", errno));
  return st;
}

Result<uint32_t> publish_function_list(const Fd& dev) {
  // Reading this takes ftrace_lock (it waits for an enable in progress): done once per
  // module load, after which every listing is served from the module's snapshot.
  std::string text;
  for (const char* path : {"/sys/kernel/tracing/available_filter_functions",
                           "/sys/kernel/debug/tracing/available_filter_functions"}) {
    std::ifstream in(path);
    if (!in) continue;
    std::ostringstream all;
    all << in.rdbuf();
    text = all.str();
    if (!text.empty()) break;
  }
  if (text.empty())
    return fail(ErrorKind::NotFound, "no available_filter_functions (is tracefs mounted at /sys/kernel/tracing?)");
  if (text.size() > KSTUCK_TRACE_FUNCS_MAX) return fail(ErrorKind::Limit, "available_filter_functions too large");
  kstuck_trace_funcs req{};
  req.size = sizeof(req);
  req.text = reinterpret_cast<uintptr_t>(text.data());
  req.text_len = text.size();
  if (ioctl(dev.get(), KSTUCK_IOC_TRACE_FUNCS, &req) != 0)
    return tl::unexpected(os_error("KSTUCK_IOC_TRACE_FUNCS", errno));
  return req.lines;
}

Result<Listing> list_probes(const Fd& dev, uint32_t kind, const std::string& glob) {
  std::vector<char> buf(1 << 16);
  bool published = false;
  // The snapshot may grow between calls (a republish): retry a few times, bounded.
  for (int attempt = 0; attempt < 5; attempt++) {
    Listing l;
    l.info.size = sizeof(l.info);
    l.info.kind = kind;
    l.info.glob = reinterpret_cast<uintptr_t>(glob.c_str());
    l.info.buf = reinterpret_cast<uintptr_t>(buf.data());
    l.info.buf_len = static_cast<uint32_t>(buf.size());
    if (ioctl(dev.get(), KSTUCK_IOC_TRACE_LIST, &l.info) != 0) {
      int err = errno;
      if (err == ENOSPC && l.info.bytes_needed > buf.size()) {
        buf.resize(l.info.bytes_needed + 4096);
        continue;
      }
      if (err == EINVAL) return fail(ErrorKind::Invalid, "invalid glob '" + glob + "'");
      if (err == ENODATA && !published) {
        auto n = publish_function_list(dev);
        if (!n) return tl::unexpected(n.error());
        published = true;
        continue;
      }
      if (err == ENODATA) return fail(ErrorKind::NotFound, "kstuck.ko has no function list");
      return tl::unexpected(os_error("KSTUCK_IOC_TRACE_LIST", err));
    }
    size_t len = std::min<size_t>(l.info.bytes_needed, buf.size());
    std::string_view text(buf.data(), len);
    while (!text.empty()) {
      size_t nl = text.find('\n');
      std::string_view line = text.substr(0, nl);
      if (!line.empty()) l.lines.emplace_back(line);
      if (nl == std::string_view::npos) break;
      text.remove_prefix(nl + 1);
    }
    return l;
  }
  return fail(ErrorKind::Limit, "probe listing kept growing; try again");
}

Result<std::map<uint64_t, std::string>> syscall_names(const Fd& dev) {
  auto l = list_probes(dev, KSTUCK_PROBE_SYSCALL_ENTER, "*");
  if (!l) return tl::unexpected(l.error());
  std::map<uint64_t, std::string> names;
  for (const auto& line : l->lines) {
    std::istringstream in(line);
    std::string name;
    uint64_t nr = 0;
    if (in >> name >> nr) names[nr] = name;
  }
  return names;
}

Result<KallsymsIndex> KallsymsIndex::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(ErrorKind::Os, path + ": cannot open");
  // ~120,000 lines on a distribution kernel: split by hand, no stream per line, since
  // every traced run pays for this under emulation too.
  KallsymsIndex idx;
  std::string line;
  while (std::getline(in, line)) {
    std::string_view rest(line);
    auto field = [&rest]() {
      size_t start = rest.find_first_not_of(" \t");
      if (start == std::string_view::npos) return std::string_view();
      rest.remove_prefix(start);
      size_t end = rest.find_first_of(" \t");
      std::string_view f = rest.substr(0, end);
      rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
      return f;
    };
    std::string_view addr = field(), type = field(), name = field(), mod = field();
    if (name.empty() || (type != "t" && type != "T")) continue;
    uint64_t a = 0;
    auto [end, ec] = std::from_chars(addr.data(), addr.data() + addr.size(), a, 16);
    if (ec != std::errc() || end != addr.data() + addr.size() || a == 0)
      continue;  // malformed, or addresses hidden (kptr_restrict): names stay hex
    std::string full(name);
    if (!mod.empty()) {
      full.push_back(' ');
      full.append(mod);
    }
    idx.syms_.emplace_back(a, std::move(full));
  }
  std::sort(idx.syms_.begin(), idx.syms_.end());
  return idx;
}

std::string KallsymsIndex::name(uint64_t addr, bool with_offset) const {
  auto it = std::upper_bound(syms_.begin(), syms_.end(), std::make_pair(addr, std::string("\xff")));
  char buf[40];
  if (it != syms_.begin()) {
    --it;
    uint64_t off = addr - it->first;
    // A probe's address is its function's fentry: at the start or after an endbr64.
    if (!with_offset && off < 16) return it->second;
    if (off < (1 << 20)) {
      std::snprintf(buf, sizeof(buf), "+0x%llx", static_cast<unsigned long long>(off));
      auto space = it->second.find(' ');
      if (space == std::string::npos) return it->second + buf;
      return it->second.substr(0, space) + buf + it->second.substr(space);
    }
  }
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(addr));
  return buf;
}

}  // namespace kstuck::cli
