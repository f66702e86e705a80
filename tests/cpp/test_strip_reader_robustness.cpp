// StripReader under abuse: corrupted bytes never crash it, it prints nothing, and concurrent
// reads keep their own errors.
#include <gtest/gtest.h>
#include <tiffio.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "defectkit/error.h"
#include "defectkit/strip_reader.h"
#include "strip_reader_checks.h"
#include "tiff_fixtures.h"

namespace fs = std::filesystem;
using defectkit::Error;
using defectkit::ErrorCode;
using defectkit::StripReader;
using defectkit::StripReaderOptions;
using defectkit::StripTensor;
using namespace defectkit::testing;
using namespace defectkit::testing::strip_reader;

namespace {

// ---- robustness ----

TEST(StripReaderRobustness, CorruptedBytesNeverCrash) {
  TiffSpec lzw_tiles;
  lzw_tiles.type = SampleType::kUint16;
  lzw_tiles.layout = Layout::kContig;
  lzw_tiles.compression = COMPRESSION_LZW;
  lzw_tiles.predictor = PREDICTOR_HORIZONTAL;
  lzw_tiles.tiled = true;
  TiffSpec deflate_pages;
  deflate_pages.type = SampleType::kFloat32;
  deflate_pages.layout = Layout::kPages;
  deflate_pages.compression = COMPRESSION_ADOBE_DEFLATE;
  deflate_pages.predictor = PREDICTOR_FLOATINGPOINT;
  deflate_pages.mode = "wb8";
  StripReaderOptions bounded;
  bounded.max_values = 1 << 20;  // corrupted sizes must not allocate much
  std::mt19937 rng(1234);
  int refused = 0, read = 0;
  ::testing::internal::CaptureStderr();
  for (const TiffSpec& spec : {lzw_tiles, deflate_pages}) {
    const std::string original = temp_path("fuzz_original.tif"), path = temp_path("fuzz.tif");
    write_tiff(original, spec);
    const std::vector<unsigned char> bytes = read_bytes(original);
    for (int round = 0; round < 300; ++round) {
      std::vector<unsigned char> copy = bytes;
      const int flips = 1 + static_cast<int>(rng() % 4);
      // Half the rounds hit the header/IFD (where libtiff writes it: the end), half anywhere.
      for (int f = 0; f < flips; ++f) {
        const size_t at =
            round % 2 ? rng() % copy.size() : copy.size() - 1 - rng() % std::min<size_t>(400, copy.size());
        copy[at] ^= static_cast<unsigned char>(1u << (rng() % 8));
      }
      write_bytes(path, copy);
      try {
        StripReader(bounded).read(path);
        ++read;
      } catch (const Error& e) {
        EXPECT_TRUE(e.code() == ErrorCode::kBadFile || e.code() == ErrorCode::kUnsupported) << e.what();
        EXPECT_EQ(std::string(e.what()).rfind(path + ": ", 0), 0u) << e.what();
        ++refused;
      }
    }
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_GT(refused, 0);
  EXPECT_GT(read, 0);
}

TEST(StripReaderRobustness, PrintsNothingToStderr) {
  RawTiff cut;
  std::vector<unsigned char> bytes = cut.bytes();
  bytes.resize(bytes.size() - 5);
  const std::string truncated = temp_path("quiet_truncated.tif"), corrupt_ifd = temp_path("quiet_ifd.tif");
  write_bytes(truncated, bytes);
  RawTiff odd;
  odd.strip_offset = 12345678;
  write_bytes(corrupt_ifd, odd.bytes());
  ::testing::internal::CaptureStderr();
  for (const std::string& path : {truncated, corrupt_ifd}) EXPECT_THROW(StripReader().read(path), Error);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(StripReaderRobustness, ConcurrentReadsKeepTheirOwnErrors) {
  TiffSpec good_spec;
  good_spec.type = SampleType::kFloat32;
  good_spec.layout = Layout::kContig;
  good_spec.compression = COMPRESSION_LZW;
  good_spec.tiled = true;
  const std::string good = temp_path("threads_good.tif");
  write_tiff(good, good_spec);
  std::vector<unsigned char> bytes = RawTiff{}.bytes();
  bytes.resize(bytes.size() - 7);
  const std::string truncated = temp_path("threads_truncated.tif");
  write_bytes(truncated, bytes);
  const std::string missing = temp_path("threads_missing.tif");

  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      const StripReader reader;
      for (int i = 0; i < 20; ++i) {
        const int which = (t + i) % 3;
        const std::string& path = which == 0 ? good : which == 1 ? truncated : missing;
        try {
          const StripTensor strip = reader.read(path);
          if (which != 0 || strip.channels != 3 || strip.data.size() != 3u * 37 * 53) ++failures;
        } catch (const Error& e) {
          const bool right =
              (which == 1 && e.code() == ErrorCode::kBadFile) || (which == 2 && e.code() == ErrorCode::kFileNotFound);
          if (!right || std::string(e.what()).rfind(path + ": ", 0) != 0) ++failures;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
