// SPDX-License-Identifier: GPL-2.0
// take_nmi_capture: the ioctl path of `kstuck nmi capture`, returning the parsed snapshot.
#include "analysis/live_target/nmi_capture.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "nmi_dump/uapi/nmi_dump_ioctl.h"

namespace kstuck {
namespace {

constexpr uint64_t kMaxBufferBytes = 256ull << 20;

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Result<LiveCapture> take_nmi_capture(uint32_t timeout_ms, const std::string& device) {
  Fd dev{::open(device.c_str(), O_RDONLY | O_CLOEXEC)};
  if (dev.fd < 0) {
    int err = errno;
    if (err == ENOENT)
      return fail(ErrorKind::NotFound, device + ": " + std::strerror(err) + " (kstuck.ko is not loaded)");
    return fail(ErrorKind::Os, device + ": " + std::strerror(err));
  }
  kstuck_nmi_capture c{};
  c.size = sizeof(c);
  c.timeout_ms = timeout_ms;
  if (::ioctl(dev.fd, KSTUCK_IOC_NMI_CAPTURE, &c) != 0)
    return fail(ErrorKind::Os, std::string("KSTUCK_IOC_NMI_CAPTURE: ") + std::strerror(errno));
  kstuck_nmi_read r{};
  r.size = sizeof(r);
  if (::ioctl(dev.fd, KSTUCK_IOC_NMI_READ, &r) == 0 || errno != ENOSPC)
    return fail(ErrorKind::Os, std::string("KSTUCK_IOC_NMI_READ (size): ") + std::strerror(errno));
  if (r.buffer_size == 0 || r.buffer_size > kMaxBufferBytes)
    return fail(ErrorKind::Format, "kstuck.ko reports a history of " + std::to_string(r.buffer_size) + " bytes");
  std::vector<std::byte> buf(r.buffer_size);
  r.buf = reinterpret_cast<uintptr_t>(buf.data());
  r.len = buf.size();
  if (::ioctl(dev.fd, KSTUCK_IOC_NMI_READ, &r) != 0)
    return fail(ErrorKind::Os, std::string("KSTUCK_IOC_NMI_READ: ") + std::strerror(errno));
  auto h = parse_nmi_history(buf);
  if (!h) return tl::unexpected(h.error().with_context("NMI history"));
  const NmiSnapshot* s = h->find(c.seq);
  if (!s) return fail(ErrorKind::Format, "NMI history lacks the new snapshot " + std::to_string(c.seq));
  LiveCapture out;
  out.snapshot = *s;
  out.nr_requested = c.nr_requested;
  out.nr_answered = c.nr_answered;
  out.duration_ns = c.duration_ns;
  return out;
}

}  // namespace kstuck
