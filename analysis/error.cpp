// SPDX-License-Identifier: GPL-2.0
// Error formatting.
#include "analysis/error.h"

#include <cstdio>

namespace kstuck {

const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::Fault: return "fault";
    case ErrorKind::NotFound: return "not found";
    case ErrorKind::Format: return "format";
    case ErrorKind::Os: return "os";
    case ErrorKind::Invalid: return "invalid";
    case ErrorKind::Limit: return "limit";
  }
  return "unknown";
}

Error Error::with_context(std::string_view context) const {
  std::string joined(context);
  joined += ": ";
  joined += message_;
  return Error(kind_, std::move(joined), address_);
}

std::string Error::describe() const {
  if (!address_) return message_;
  char buf[32];
  std::snprintf(buf, sizeof(buf), " (address 0x%llx)", static_cast<unsigned long long>(*address_));
  return message_ + buf;
}

}  // namespace kstuck
