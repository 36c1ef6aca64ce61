// SPDX-License-Identifier: GPL-2.0
// The flattened-stream reassembler on synthetic streams, good and hostile.
#include "analysis/kdump_target/flattened.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace kstuck {
namespace {

// An anonymous in-memory file, closed at scope exit.
struct MemFd {
  int fd;
  MemFd() : fd(memfd_create("flattened_test", MFD_CLOEXEC)) {}
  ~MemFd() { close(fd); }
  void write_all(const std::vector<std::byte>& b) const { ASSERT_EQ(pwrite(fd, b.data(), b.size(), 0), ssize_t(b.size())); }
  std::vector<std::byte> read_all() const {
    off_t size = lseek(fd, 0, SEEK_END);
    std::vector<std::byte> b(static_cast<size_t>(size));
    EXPECT_EQ(pread(fd, b.data(), b.size(), 0), size);
    return b;
  }
};

void put_be64(std::vector<std::byte>& out, int64_t v) {
  for (int i = 7; i >= 0; i--) out.push_back(static_cast<std::byte>(static_cast<uint64_t>(v) >> (8 * i)));
}

std::vector<std::byte> header() {
  std::vector<std::byte> h(kFlattenedHeaderSize);
  std::memcpy(h.data(), "makedumpfile", 12);
  std::vector<std::byte> tail;
  put_be64(tail, 1);
  put_be64(tail, 1);
  std::memcpy(h.data() + 16, tail.data(), 16);
  return h;
}

void record(std::vector<std::byte>& s, int64_t offset, const std::string& data) {
  put_be64(s, offset);
  put_be64(s, static_cast<int64_t>(data.size()));
  for (char c : data) s.push_back(static_cast<std::byte>(c));
}

void end(std::vector<std::byte>& s) {
  put_be64(s, -1);
  put_be64(s, -1);
}

std::string as_string(const std::vector<std::byte>& b) { return std::string(reinterpret_cast<const char*>(b.data()), b.size()); }

TEST(Flattened, DetectsHeader) {
  auto h = header();
  EXPECT_TRUE(is_flattened(h));
  h[0] = std::byte{'M'};
  EXPECT_FALSE(is_flattened(h));
  EXPECT_FALSE(is_flattened(std::span(header().data(), 20)));
}

TEST(Flattened, PlacesRecordsAtTheirOffsetsInAnyOrder) {
  auto s = header();
  record(s, 7, "world");
  record(s, 0, "hello, ");
  record(s, 20, "!");  // leaves a hole at 13..19
  end(s);
  s.push_back(std::byte{'x'});  // trailing bytes after the end marker are ignored
  MemFd in, out;
  in.write_all(s);
  auto stats = reassemble_flattened(in.fd, out.fd);
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(stats->records, 3u);
  EXPECT_EQ(stats->bytes, 13u);  // 7 + 5 + 1
  EXPECT_EQ(stats->output_size, 21u);
  EXPECT_FALSE(stats->truncated);
  auto got = out.read_all();
  ASSERT_EQ(got.size(), 21u);
  EXPECT_EQ(as_string(got).substr(0, 12), "hello, world");
  EXPECT_EQ(std::to_integer<int>(got[15]), 0);
  EXPECT_EQ(std::to_integer<char>(got[20]), '!');
}

TEST(Flattened, TruncatedDataKeepsCompleteRecordsAndSaysWhere) {
  auto s = header();
  record(s, 0, "complete");
  record(s, 100, "cut short here");
  s.resize(s.size() - 5);
  MemFd in, out;
  in.write_all(s);
  auto stats = reassemble_flattened(in.fd, out.fd);
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_TRUE(stats->truncated);
  EXPECT_EQ(stats->truncated_at, s.size());
  EXPECT_EQ(as_string(out.read_all()).substr(0, 8), "complete");
  EXPECT_EQ(stats->output_size, 100u + 9u);
}

TEST(Flattened, TruncatedBeforeAnyRecordIsAnError) {
  auto s = header();
  put_be64(s, 0);  // half a record header
  MemFd in, out;
  in.write_all(s);
  auto stats = reassemble_flattened(in.fd, out.fd);
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().kind(), ErrorKind::Format);
  EXPECT_NE(stats.error().message().find("truncated"), std::string::npos);
}

TEST(Flattened, ShortOrWrongHeaderIsAnError) {
  MemFd in, out;
  auto h = header();
  h.resize(100);
  in.write_all(h);
  auto stats = reassemble_flattened(in.fd, out.fd);
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().kind(), ErrorKind::Format);
  EXPECT_NE(stats.error().message().find("not a flattened"), std::string::npos);
}

TEST(Flattened, NegativeOffsetOrSizeIsAnError) {
  for (auto [offset, size] : {std::pair<int64_t, int64_t>{-5, 4}, {0, -2}, {-1, 0}}) {
    auto s = header();
    put_be64(s, offset);
    put_be64(s, size);
    s.resize(s.size() + 16);
    MemFd in, out;
    in.write_all(s);
    auto stats = reassemble_flattened(in.fd, out.fd);
    ASSERT_FALSE(stats) << offset << " " << size;
    EXPECT_EQ(stats.error().kind(), ErrorKind::Format);
    EXPECT_NE(stats.error().message().find("invalid record at input offset 0x1000"), std::string::npos)
        << stats.error().message();
  }
}

TEST(Flattened, OffsetsBeyondTheLimitAreRefusedWithoutWriting) {
  auto s = header();
  record(s, INT64_MAX - 2, "overflow");
  end(s);
  MemFd in, out;
  in.write_all(s);
  FlattenedLimits limits;
  limits.max_output_size = 1 << 20;
  auto stats = reassemble_flattened(in.fd, out.fd, limits);
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().kind(), ErrorKind::Format);
  EXPECT_TRUE(out.read_all().empty());
}

TEST(Flattened, RecordCountIsLimited) {
  auto s = header();
  for (int i = 0; i < 10; i++) record(s, i, "a");
  end(s);
  MemFd in, out;
  in.write_all(s);
  FlattenedLimits limits;
  limits.max_records = 5;
  auto stats = reassemble_flattened(in.fd, out.fd, limits);
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().kind(), ErrorKind::Limit);
}

TEST(Flattened, HugeClaimedSizeOnlyCopiesWhatExists) {
  // A record claiming 1 TiB of data in a tiny file must not allocate or loop for long.
  auto s = header();
  put_be64(s, 0);
  put_be64(s, int64_t{1} << 40);
  for (int i = 0; i < 10; i++) s.push_back(std::byte{'z'});
  MemFd in, out;
  in.write_all(s);
  auto stats = reassemble_flattened(in.fd, out.fd);
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_TRUE(stats->truncated);
  EXPECT_EQ(stats->bytes, 10u);
}

}  // namespace
}  // namespace kstuck
