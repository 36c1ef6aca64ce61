// SPDX-License-Identifier: GPL-2.0
// Sanity checks of a dump's headers before libkdumpfile trusts (and allocates by) them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "analysis/error.h"

namespace kstuck {

// libkdumpfile sizes its buffers by header fields (block size, bitmap blocks, CPU count,
// note sizes): a flipped byte there asked it for 32 GiB. These checks hold every such
// field to what the file can actually contain. Problems that only lose data (a truncated
// ELF segment) are returned as notes instead of errors.
struct HeaderCheck {
  std::vector<std::string> notes;  // data lost (truncation, invalid page descriptors)
  // The ELF note area (kdump-compressed: the notes after the sub-header; ELF: the
  // PT_NOTE segments, concatenated), read here so the CPU registers and VMCOREINFO can
  // be parsed by kstuck's own walker (dump_notes.h). Empty when there is none.
  std::vector<std::byte> note_area;
  bool note_area_read = false;     // false: the format has none, or it could not be read
  // kdump-compressed only: where the note area is in the file and where the sub-header
  // keeps its size (DumpFile shortens a damaged note area in its private copy); 0 if none.
  uint64_t note_area_offset = 0;
  uint64_t note_size_field = 0;
  // kdump-compressed only: the sub-header's own copy of VMCOREINFO and its file offset
  // (libkdumpfile parses it too; DumpFile blanks its damaged lines in the private copy).
  std::vector<std::byte> vmcoreinfo;
  uint64_t vmcoreinfo_offset = 0;
  // File offsets of kdump page descriptors libkdumpfile must never follow: a compressed
  // size above the block size, data past the end of the file or past 2^62. DumpFile
  // gives libkdumpfile a copy in which these read as corrupt pages.
  std::vector<uint64_t> bad_descriptors;
  // The same descriptors as indexes into the table (the n-th dumped page), and those whose
  // data lies past the end of a truncated file: DumpFile refuses their pages itself, so
  // libkdumpfile never fails a page read on them (dump_file_read.cpp says why).
  std::vector<uint64_t> bad_descriptor_indexes;
  std::vector<uint64_t> past_eof_descriptor_indexes;
  uint32_t block_size = 0;
  // kdump-compressed only: the page descriptor table's file offset and how many pages the
  // second bitmap says it describes (0 and 0 for other formats).
  uint64_t descriptors_offset = 0;
  uint64_t dumped_pages = 0;
};

Result<HeaderCheck> check_dump_headers(int fd);

}  // namespace kstuck
