// SPDX-License-Identifier: GPL-2.0
// Making strings from a dump safe to print: invalid UTF-8 and control bytes escaped.
#pragma once

#include <string>
#include <string_view>

namespace kstuck {

// Whether s is well-formed UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF).
bool is_valid_utf8(std::string_view s);

// Text output: every byte that is not part of a well-formed UTF-8 sequence, every C0
// control byte but '\n' and '\t', DEL and the C1 controls (U+0080..U+009F) become "\xNN"
// (lower-case hex, one escape per byte); a backslash that already starts "\x" is doubled so
// an escape in the input cannot pass for one made here. Valid UTF-8 is kept as it is.
// A comm set to "\xff\x1b[2J" prints as "\xff\x1b[2J" literally, never clearing a terminal.
std::string sanitize_text(std::string_view s);

// JSON: nlohmann::json refuses (throws type_error 316 on) invalid UTF-8; renderers dump
// with error_handler_t::replace, which turns each invalid byte into U+FFFD. This is the
// same rule for a single string, for code that builds JSON by other means.
std::string replace_invalid_utf8(std::string_view s);

}  // namespace kstuck
