// StripReader against files broken on purpose: each refusal has its ErrorCode and a message that
// starts with the path and names the problem (the file itself, channels, values, sizes).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <tiffio.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <future>
#include <limits>
#include <string>
#include <system_error>
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

// ---- refusals: the file itself ----

TEST(StripReaderRefuses, MissingFile) {
  expect_refused(temp_path("does_not_exist.tif"), ErrorCode::kFileNotFound, "no such file");
  expect_refused("/nonexistent/strip.tif", ErrorCode::kFileNotFound, "no such file");
}

TEST(StripReaderRefuses, Directory) {
  const std::string path = temp_path("a_directory.tif");
  fs::create_directories(path);
  expect_refused(path, ErrorCode::kFileNotFound, "not a regular file");
}

TEST(StripReaderRefuses, Fifo) {
  // open() of a FIFO for reading waits for a writer: the reader must refuse it without opening
  // it. Should a read block all the same, opening and closing the write end wakes it (it then
  // sees end of file), so the test fails instead of hanging.
  const std::string path = temp_path("a_fifo.tif");
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0) << std::strerror(errno);
  auto pending = std::async(std::launch::async, [&path] { return refusal_of([&path] { StripReader().read(path); }); });
  for (int waits = 0; pending.wait_for(std::chrono::seconds(waits ? 1 : 10)) != std::future_status::ready; ++waits) {
    if (waits == 0) ADD_FAILURE() << "reading a FIFO blocked for 10 s";
    const int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
  }
  expect_refusal(pending.get(), path, ErrorCode::kFileNotFound, "not a regular file");
}

TEST(StripReaderRefuses, UnreadableFile) {
  // Root reads any file, so the read runs in a child process that drops to uid and gid 65534
  // (nobody) when the tests run as root, as CI does: the refusal is tested either way.
  const std::string path = temp_path("unreadable.tif");
  write_tiff(path, TiffSpec{});
  fs::permissions(temp_dir(), fs::perms::others_exec, fs::perm_options::add);  // nobody reaches the file
  ASSERT_EQ(::chmod(path.c_str(), 0), 0);
  expect_refusal(refusal_as_ordinary_user(path), path, ErrorCode::kFileNotFound, "cannot open: Permission denied");
}

TEST(StripReaderRefuses, EmptyFile) {
  const std::string path = temp_path("empty.tif");
  write_bytes(path, {});
  expect_refused(path, ErrorCode::kBadFile, "empty file");
}

TEST(StripReaderRefuses, NotATiff) {
  const std::string png = temp_path("really_a.png");
  write_bytes(png, {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 0});
  expect_refused(png, ErrorCode::kBadFile, "not a TIFF file");
  const std::string tiny = temp_path("two_bytes.tif");
  write_bytes(tiny, {'I', 'I'});
  expect_refused(tiny, ErrorCode::kBadFile, "not a TIFF file");
  const std::string mixed = temp_path("mixed_order.tif");  // II with a big-endian 42
  write_bytes(mixed, {'I', 'I', 0, 42, 0, 0, 0, 8});
  expect_refused(mixed, ErrorCode::kBadFile, "not a TIFF file");
}

TEST(StripReaderRefuses, SignatureOnly) {
  const std::string path = temp_path("signature_only.tif");
  write_bytes(path, {'M', 'M', 0, 42});
  expect_refused(path, ErrorCode::kBadFile, "truncated or corrupt");
}

TEST(StripReaderRefuses, TruncatedLibtiffFile) {  // libtiff writes the IFD last: the cut loses it
  TiffSpec spec;
  spec.compression = COMPRESSION_LZW;
  const std::string path = temp_path("truncated_half.tif");
  write_tiff(path, spec);
  std::vector<unsigned char> bytes = read_bytes(path);
  bytes.resize(bytes.size() / 2);
  write_bytes(path, bytes);
  expect_refused(path, ErrorCode::kBadFile, "truncated or corrupt");
}

TEST(StripReaderRefuses, TruncatedPageChain) {  // a cut one-channel-per-page file must not pass for fewer channels
  TiffSpec spec;
  spec.layout = Layout::kPages;
  spec.channels = 4;
  const std::string path = temp_path("truncated_pages.tif");
  write_tiff(path, spec);
  const std::vector<unsigned char> whole = read_bytes(path);
  for (size_t keep : {whole.size() / 2, whole.size() * 3 / 4, whole.size() - 1}) {
    write_bytes(path, std::vector<unsigned char>(whole.begin(), whole.begin() + keep));
    SCOPED_TRACE("cut to " + std::to_string(keep) + " of " + std::to_string(whole.size()) + " bytes");
    expect_refused(path, ErrorCode::kBadFile, "truncated or corrupt");
  }
}

TEST(StripReaderRefuses, TruncatedPixelData) {  // IFD first: the cut loses pixels
  std::vector<unsigned char> bytes = RawTiff{}.bytes();
  bytes.resize(bytes.size() - 10);
  const std::string path = temp_path("truncated_pixels.tif");
  write_bytes(path, bytes);
  const std::string message = expect_refused(path, ErrorCode::kBadFile, "strip 0");
  EXPECT_NE(message.find("truncated or corrupt"), std::string::npos) << message;
}

TEST(StripReaderRefuses, StripOffsetPastTheEnd) {
  RawTiff raw;
  raw.strip_offset = 1 << 20;
  const std::string path = temp_path("offset_past_end.tif");
  write_bytes(path, raw.bytes());
  expect_refused(path, ErrorCode::kBadFile, "truncated or corrupt");
}

TEST(StripReaderRefuses, EveryCutOfAFile) {
  const std::vector<unsigned char> whole = RawTiff{}.bytes();
  const std::string path = temp_path("cut.tif");
  for (size_t size = 0; size < whole.size(); ++size) {
    write_bytes(path, std::vector<unsigned char>(whole.begin(), whole.begin() + size));
    SCOPED_TRACE("cut to " + std::to_string(size) + " bytes");
    expect_refused(path, ErrorCode::kBadFile, "");
  }
  write_bytes(path, whole);
  EXPECT_NO_THROW(StripReader().read(path));
}

// ---- refusals: channels ----

TEST(StripReaderRefuses, WrongChannelCounts) {
  struct Case {
    Layout layout;
    int channels;
    const char* fragment;
  };
  const Case cases[] = {{Layout::kContig, 2, "has 2 channels (samples per pixel); expected 3 or 4"},
                        {Layout::kPlanar, 2, "has 2 channels"},
                        {Layout::kContig, 5, "has 5 channels"},
                        {Layout::kPlanar, 5, "has 5 channels"},
                        {Layout::kPages, 1, "has 1 channel (one per page); expected 3 or 4"},
                        {Layout::kPages, 2, "has 2 channels (one per page)"},
                        {Layout::kPages, 5, "has 5 channels (one per page)"}};
  for (const Case& k : cases) {
    TiffSpec spec;
    spec.layout = k.layout;
    spec.channels = k.channels;
    const std::string path = temp_path(std::string("channels_") + layout_name(k.layout) + std::to_string(k.channels));
    write_tiff(path, spec);
    expect_refused(path, ErrorCode::kBadFile, k.fragment);
  }
}

TEST(StripReaderRefuses, ChannelRangeFromOptions) {
  TiffSpec spec;
  spec.channels = 4;
  const std::string path = temp_path("four_channels.tif");
  write_tiff(path, spec);
  StripReaderOptions three_only;
  three_only.max_channels = 3;
  expect_refused(path, ErrorCode::kBadFile, "has 4 channels (samples per pixel); expected 3 ", three_only);
}

// Pages written one by one, so they can disagree.
void write_pages(const std::string& path, const std::vector<TiffSpec>& pages) {
  // libtiff appends a directory when opened with "a".
  for (size_t i = 0; i < pages.size(); ++i) {
    TiffSpec page = pages[i];
    page.mode = i == 0 ? "w" : "a";
    page.layout = Layout::kContig;
    write_tiff(path, page);
  }
}

TEST(StripReaderRefuses, PagesThatDisagree) {
  TiffSpec one;
  one.channels = 1;
  TiffSpec wider = one;
  wider.width += 1;
  TiffSpec other_type = one;
  other_type.type = SampleType::kUint16;
  TiffSpec three = one;
  three.channels = 3;
  const std::string path = temp_path("disagreeing_pages.tif");
  write_pages(path, {one, one, wider});
  expect_refused(path, ErrorCode::kBadFile, "page 3 is 37 x 54 (H x W) but page 1 is 37 x 53");
  write_pages(path, {one, other_type, one});
  expect_refused(path, ErrorCode::kBadFile, "page 2 holds uint16 but page 1 holds uint8");
  write_pages(path, {one, three, one});
  expect_refused(path, ErrorCode::kBadFile, "page 2 has 3 samples per pixel");
  write_pages(path, {one, one, one});
  EXPECT_EQ(StripReader().read(path).channels, 3);
}

// ---- refusals: values ----

TEST(StripReaderRefuses, NanAndInf) {
  struct Case {
    SampleType type;
    Layout layout;
    double bad;
    const char* name;
  };
  const double inf = std::numeric_limits<double>::infinity();
  const Case cases[] = {{SampleType::kFloat32, Layout::kPlanar, std::nan(""), "nan32"},
                        {SampleType::kFloat32, Layout::kContig, inf, "inf32"},
                        {SampleType::kFloat64, Layout::kPages, -inf, "inf64"},
                        {SampleType::kFloat64, Layout::kContig, 1e300, "huge64"}};
  for (const Case& k : cases) {
    TiffSpec spec;
    spec.type = k.type;
    spec.layout = k.layout;
    spec.compression = COMPRESSION_LZW;
    spec.tiled = k.layout == Layout::kContig;
    const std::string path = temp_path(std::string(k.name) + ".tif");
    const double bad = k.bad;
    write_tiff(path, spec, [bad](int c, int y, int x) {  // bad from (1, 2, 3) on, in CHW order
      return (c == 1 && (y > 2 || (y == 2 && x >= 3))) || c > 1 ? bad : 1.0;
    });
    expect_refused(path, ErrorCode::kBadFile, "contains NaN or Inf values (first at channel 1, row 2, column 3)");
  }
}

TEST(StripReaderRefuses, UnsupportedSampleFormats) {
  const std::pair<SampleType, const char*> cases[] = {{SampleType::kInt16, "unsupported sample format: int16"},
                                                      {SampleType::kUint32, "unsupported sample format: uint32"},
                                                      {SampleType::kFloat16, "unsupported sample format: float16"},
                                                      {SampleType::kUint12, "unsupported sample format: 12-bit uint"}};
  for (const auto& [type, fragment] : cases) {
    TiffSpec spec;
    spec.type = type;
    spec.layout = Layout::kContig;
    const std::string path = temp_path(std::string("format_") + sample_type_name(type) + ".tif");
    write_tiff(path, spec);
    expect_refused(path, ErrorCode::kUnsupported, fragment);
  }
}

TEST(StripReaderRefuses, LossyCompression) {
  if (!TIFFIsCODECConfigured(COMPRESSION_JPEG)) GTEST_SKIP() << "libtiff built without JPEG";
  TiffSpec spec;
  spec.layout = Layout::kContig;
  spec.compression = COMPRESSION_JPEG;
  spec.height = 32;
  spec.width = 32;
  spec.rows_per_strip = 16;
  const std::string path = temp_path("jpeg.tif");
  write_tiff(path, spec);
  expect_refused(path, ErrorCode::kUnsupported, "unsupported compression: JPEG");
}

// ---- refusals: sizes ----

TEST(StripReaderRefuses, MoreValuesThanTheLimit) {
  const std::string path = temp_path("limit.tif");
  write_tiff(path, TiffSpec{});
  StripReaderOptions small;
  small.max_values = 3 * 37 * 53 - 1;
  expect_refused(path, ErrorCode::kBadFile, "is too large: 3 x 37 x 53 values", small);
  small.max_values += 1;
  EXPECT_NO_THROW(StripReader(small).read(path));
}

TEST(StripReaderRefuses, HugeHeaderWithoutAllocating) {
  RawTiff raw;
  raw.width = 4000000000u;
  raw.height = 4000000000u;
  raw.pixels.assign(16, 0);
  const std::string path = temp_path("huge_header.tif");
  write_bytes(path, raw.bytes());
  expect_refused(path, ErrorCode::kBadFile, "");
  raw.width = 100000;
  raw.height = 100000;
  write_bytes(path, raw.bytes());
  expect_refused(path, ErrorCode::kBadFile, "too large");
}

TEST(StripReaderRefuses, ImplausiblyLargeTiles) {  // would make the reader allocate far more than the image
  TiffSpec spec;
  spec.layout = Layout::kContig;
  spec.compression = COMPRESSION_LZW;
  spec.tiled = true;
  spec.tile_width = 2048;
  spec.tile_height = 2048;
  spec.height = 10;
  spec.width = 10;
  const std::string path = temp_path("huge_tiles.tif");
  write_tiff(path, spec);
  expect_refused(path, ErrorCode::kBadFile, "implausibly large tiles (2048 x 2048) for a 10 x 10 image");
}

TEST(StripReaderRefuses, ZeroSizedImage) {
  RawTiff raw;
  raw.width = 0;
  raw.pixels.assign(16, 0);
  const std::string path = temp_path("zero_width.tif");
  write_bytes(path, raw.bytes());
  expect_refused(path, ErrorCode::kBadFile, "");
}

}  // namespace
