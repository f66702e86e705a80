// StripReader against TIFFs written here with libtiff (every layout, sample
// type, codec, storage and container of the data contract) and against files
// broken on purpose (each refusal: its ErrorCode, and a message that starts
// with the path and names the problem).
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <tiffio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <future>
#include <limits>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <vector>

#include "defectkit/error.h"
#include "defectkit/strip_reader.h"
#include "tiff_fixtures.h"

namespace fs = std::filesystem;
using defectkit::Error;
using defectkit::ErrorCode;
using defectkit::StripReader;
using defectkit::StripReaderOptions;
using defectkit::StripTensor;
using namespace defectkit::testing;

namespace {

fs::path temp_dir() { return fs::temp_directory_path() / ("defectkit_strip_tests_" + std::to_string(::getpid())); }

std::string temp_path(const std::string& name) {
  fs::create_directories(temp_dir());
  return (temp_dir() / name).string();
}

uint32_t bits_of(float v) {
  uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  return u;
}

// Every value of `strip` equals what `spec` wrote, bit for bit (so -0.0 and
// float32 denormals count too).
void expect_values(const StripTensor& strip, const TiffSpec& spec, const ValueFn& values = {}) {
  ASSERT_EQ(strip.channels, spec.channels);
  ASSERT_EQ(strip.height, spec.height);
  ASSERT_EQ(strip.width, spec.width);
  ASSERT_EQ(strip.data.size(), static_cast<size_t>(spec.channels) * spec.height * spec.width);
  const ValueFn fn = values ? values : default_values(spec.type);
  int mismatches = 0;
  for (int c = 0; c < spec.channels; ++c) {
    for (int y = 0; y < spec.height; ++y) {
      for (int x = 0; x < spec.width; ++x) {
        const float want = expected_float(spec.type, fn(c, y, x));
        const float got = strip.channel(c)[static_cast<size_t>(y) * spec.width + x];
        if (bits_of(got) != bits_of(want) && mismatches++ < 5) {
          ADD_FAILURE() << "at channel " << c << ", row " << y << ", column " << x << ": got " << got << ", want "
                        << want;
        }
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
}

// Reading `path` throws Error(code) whose message starts with "<path>: " and
// contains `fragment`; returns the message.
std::string expect_refused(const std::string& path, ErrorCode code, const std::string& fragment,
                           const StripReaderOptions& options = {}) {
  try {
    StripReader(options).read(path);
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.code(), code) << message;
    EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << "'" << fragment << "' not in: " << message;
    return message;
  }
  ADD_FAILURE() << path << " was read, expected a refusal containing '" << fragment << "'";
  return "";
}

// What a call threw: the code and message of a defectkit::Error, kOk and "" if it returned;
// `problem` says why the call could not be made at all (the test then fails).
struct Refusal {
  ErrorCode code = ErrorCode::kOk;
  std::string message;
  std::string problem;
};

Refusal refusal_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& e) {
    return {e.code(), e.what(), ""};
  }
  return {};
}

// As expect_refused, for a Refusal obtained elsewhere (another thread or process).
void expect_refusal(const Refusal& got, const std::string& path, ErrorCode code, const std::string& fragment) {
  ASSERT_EQ(got.problem, "");
  ASSERT_NE(got.code, ErrorCode::kOk) << path << " was read, expected a refusal containing '" << fragment << "'";
  EXPECT_EQ(got.code, code) << got.message;
  EXPECT_EQ(got.message.rfind(path + ": ", 0), 0u) << got.message;
  EXPECT_NE(got.message.find(fragment), std::string::npos) << "'" << fragment << "' not in: " << got.message;
}

// StripReader().read(path) in a forked child that runs as uid and gid 65534 if this process is
// root (else as this user); the child sends back its Refusal through a pipe: the code as an int
// (-1: it could not drop root), then the message.
Refusal refusal_as_ordinary_user(const std::string& path) {
  int fds[2];
  if (::pipe(fds) != 0) return {ErrorCode::kOk, "", std::string("pipe: ") + std::strerror(errno)};
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(fds[0]);
    int code = -1;
    std::string message;
    if (::geteuid() == 0 && (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0)) {
      message = std::string("cannot drop root: ") + std::strerror(errno);
    } else {
      const Refusal r = refusal_of([&path] { StripReader().read(path); });
      code = static_cast<int>(r.code);
      message = r.message;
    }
    bool written = ::write(fds[1], &code, sizeof code) == static_cast<ssize_t>(sizeof code);
    written = written && ::write(fds[1], message.data(), message.size()) == static_cast<ssize_t>(message.size());
    ::_exit(written ? 0 : 1);
  }
  ::close(fds[1]);
  if (child < 0) {
    ::close(fds[0]);
    return {ErrorCode::kOk, "", std::string("fork: ") + std::strerror(errno)};
  }
  std::string bytes;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) != 0;) {
    if (n > 0) {
      bytes.append(buffer, static_cast<size_t>(n));
    } else if (errno != EINTR) {
      break;
    }
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  int code = 0;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || bytes.size() < sizeof code) {
    return {ErrorCode::kOk, "", "the reading child failed (wait status " + std::to_string(status) + ")"};
  }
  std::memcpy(&code, bytes.data(), sizeof code);
  if (code < 0) return {ErrorCode::kOk, "", bytes.substr(sizeof code)};
  return {static_cast<ErrorCode>(code), bytes.substr(sizeof code), ""};
}

// ---- round trips: sample type x layout x codec x storage x container ----

enum class Codec { kNone, kLzw, kDeflatePredictor, kPackBits };

struct Container {
  const char* mode;
  int channels;  // alternate 3 and 4 channels across containers
  const char* name;
};
const Container kContainers[] = {{"wl", 3, "le"}, {"wb", 4, "be"}, {"wl8", 4, "bigtiff_le"}, {"wb8", 3, "bigtiff_be"}};

using RoundTripParam = std::tuple<SampleType, Layout, Codec, bool, int>;

TiffSpec spec_for(const RoundTripParam& param) {
  const auto [type, layout, codec, tiled, container] = param;
  TiffSpec spec;
  spec.type = type;
  spec.layout = layout;
  spec.tiled = tiled;
  spec.mode = kContainers[container].mode;
  spec.channels = kContainers[container].channels;
  const bool is_float = type == SampleType::kFloat32 || type == SampleType::kFloat64;
  switch (codec) {
    case Codec::kNone:
      spec.compression = COMPRESSION_NONE;
      break;
    case Codec::kLzw:
      spec.compression = COMPRESSION_LZW;
      break;
    case Codec::kPackBits:
      spec.compression = COMPRESSION_PACKBITS;
      break;
    case Codec::kDeflatePredictor:
      spec.compression = COMPRESSION_ADOBE_DEFLATE;
      spec.predictor = is_float ? PREDICTOR_FLOATINGPOINT : PREDICTOR_HORIZONTAL;
      break;
  }
  return spec;
}

std::string round_trip_name(const ::testing::TestParamInfo<RoundTripParam>& info) {
  static const char* codecs[] = {"none", "lzw", "deflate_predictor", "packbits"};
  const auto [type, layout, codec, tiled, container] = info.param;
  return std::string(sample_type_name(type)) + "_" + layout_name(layout) + "_" + codecs[static_cast<int>(codec)] +
         (tiled ? "_tiled_" : "_striped_") + kContainers[container].name;
}

class StripRoundTrip : public ::testing::TestWithParam<RoundTripParam> {};

TEST_P(StripRoundTrip, ValuesSurviveExactly) {
  const TiffSpec spec = spec_for(GetParam());
  const std::string path = temp_path(round_trip_name({GetParam(), 0}) + ".tif");
  write_tiff(path, spec);
  expect_values(StripReader().read(path), spec);
}

INSTANTIATE_TEST_SUITE_P(AllLayouts, StripRoundTrip,
                         ::testing::Combine(::testing::Values(SampleType::kUint8, SampleType::kUint16,
                                                              SampleType::kFloat32, SampleType::kFloat64),
                                            ::testing::Values(Layout::kPlanar, Layout::kContig, Layout::kPages),
                                            ::testing::Values(Codec::kNone, Codec::kLzw, Codec::kDeflatePredictor,
                                                              Codec::kPackBits),
                                            ::testing::Bool(), ::testing::Range(0, 4)),
                         round_trip_name);

TEST(StripReader, OtherLosslessCodecs) {
  const uint16_t codecs[] = {COMPRESSION_DEFLATE, COMPRESSION_ZSTD, COMPRESSION_LZMA};
  for (uint16_t codec : codecs) {
    if (!TIFFIsCODECConfigured(codec)) continue;
    for (SampleType type : {SampleType::kUint16, SampleType::kFloat32}) {
      TiffSpec spec;
      spec.type = type;
      spec.layout = Layout::kContig;
      spec.compression = codec;
      spec.predictor = type == SampleType::kFloat32 ? PREDICTOR_FLOATINGPOINT : PREDICTOR_HORIZONTAL;
      const std::string path = temp_path("codec_" + std::to_string(codec) + sample_type_name(type) + ".tif");
      write_tiff(path, spec);
      SCOPED_TRACE(path);
      expect_values(StripReader().read(path), spec);
    }
  }
}

TEST(StripReader, StripAndTileGeometries) {
  struct Case {
    bool tiled;
    uint32_t rows_per_strip, tile_width, tile_height;
    int height, width;
  };
  const Case cases[] = {{false, 1, 0, 0, 9, 7},     {false, 1000, 0, 0, 976, 176},  // one strip
                        {false, 7, 0, 0, 21, 5},    {true, 0, 16, 16, 16, 16},      // exactly one tile
                        {true, 0, 16, 16, 1, 1},    {true, 0, 64, 48, 100, 130},
                        {true, 0, 512, 512, 37, 53}};  // one tile, much bigger than the image
  int i = 0;
  for (const Case& k : cases) {
    TiffSpec spec;
    spec.type = SampleType::kFloat32;
    spec.layout = i % 2 ? Layout::kContig : Layout::kPlanar;
    spec.compression = COMPRESSION_LZW;
    spec.tiled = k.tiled;
    spec.rows_per_strip = k.rows_per_strip;
    spec.tile_width = k.tile_width;
    spec.tile_height = k.tile_height;
    spec.height = k.height;
    spec.width = k.width;
    const std::string path = temp_path("geometry_" + std::to_string(i++) + ".tif");
    write_tiff(path, spec);
    SCOPED_TRACE(path);
    expect_values(StripReader().read(path), spec);
  }
}

TEST(StripReader, Uint16ScalesToTheFullByteRange) {
  TiffSpec spec;
  spec.type = SampleType::kUint16;
  spec.height = 2;
  spec.width = 3;
  const std::string path = temp_path("uint16_extremes.tif");
  write_tiff(path, spec, [](int, int y, int x) { return y == 0 ? 0.0 : (x == 0 ? 65535.0 : 257.0 * x); });
  const StripTensor strip = StripReader().read(path);
  EXPECT_EQ(strip.channel(2)[0], 0.0f);
  EXPECT_EQ(strip.channel(2)[3], 255.0f);
  EXPECT_EQ(strip.channel(2)[4], 1.0f);
  EXPECT_EQ(strip.channel(2)[5], 2.0f);
}

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
