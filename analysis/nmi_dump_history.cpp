// SPDX-License-Identifier: GPL-2.0
// The NMI history of a dump: kstuck.ko's buffer found by module symbol, read page by page.
#include "analysis/nmi_dump_history.h"

#include <algorithm>

#include "nmi_dump/uapi/nmi_dump_record.h"

namespace kstuck {
namespace {
// A history larger than this is a corrupt header, not a configuration.
constexpr uint64_t kMaxBufferBytes = 256ull << 20;
}  // namespace

Result<DumpedNmiHistory> read_dumped_nmi_history(Target& target, Symbolizer& symbolizer) {
  auto where = symbolizer.module_symbol("kstuck", "nmi_dump_buffer");
  if (!where) return fail(ErrorKind::NotFound, "kstuck.ko or its nmi_dump_buffer symbol is not in the dump");
  auto ptr = read_u64(target, *where);
  if (!ptr) return tl::unexpected(ptr.error().with_context("nmi_dump_buffer"));
  if (*ptr == 0) return fail(ErrorKind::NotFound, "nmi_dump_buffer: NULL (collector not initialized)");
  std::vector<std::byte> head(NMI_DUMP_BUFFER_HEADER_SIZE);
  if (auto r = target.read(*ptr, head); !r) return tl::unexpected(r.error().with_context("NMI buffer header"));
  auto info = parse_nmi_header(head);
  if (!info) return tl::unexpected(info.error());
  if (info->buffer_size > kMaxBufferBytes)
    return fail(ErrorKind::Format, "implausible NMI buffer size " + std::to_string(info->buffer_size));
  DumpedNmiHistory out;
  out.buffer_address = *ptr;
  std::vector<std::byte> bytes(info->buffer_size);
  for (uint64_t off = 0; off < bytes.size(); off += 4096) {
    size_t n = std::min<uint64_t>(4096, bytes.size() - off);
    if (auto r = target.read(*ptr + off, std::span(bytes).subspan(off, n)); !r)
      out.warnings.push_back(r.error().describe());
  }
  auto h = parse_nmi_history(bytes);
  if (!h) return tl::unexpected(h.error());
  out.history = std::move(*h);
  return out;
}

}  // namespace kstuck
