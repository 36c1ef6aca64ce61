// SPDX-License-Identifier: GPL-2.0
// Error and Result: what every fallible analysis step returns.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <tl/expected.hpp>

namespace kstuck {

enum class ErrorKind { Fault, NotFound, Format, Os, Invalid, Limit };

// A failure with its kind, a message that gains context as it bubbles up, and the
// faulting address when a read failed.
class Error {
 public:
  Error(ErrorKind kind, std::string message, std::optional<uint64_t> address = std::nullopt)
      : kind_(kind), message_(std::move(message)), address_(address) {}

  ErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  std::optional<uint64_t> address() const { return address_; }

  // Prefixes context, e.g. "cpu 3: call_single_queue: " + inner message.
  Error with_context(std::string_view context) const;
  std::string describe() const;

 private:
  ErrorKind kind_;
  std::string message_;
  std::optional<uint64_t> address_;
};

template <typename T>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> fail(ErrorKind kind, std::string message,
                                  std::optional<uint64_t> address = std::nullopt) {
  return tl::unexpected<Error>(Error(kind, std::move(message), address));
}

const char* error_kind_name(ErrorKind kind);

}  // namespace kstuck
