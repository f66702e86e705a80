// ImageReader against images the libraries wrote here (every accepted PNG,
// JPEG and TIFF kind, from a file and from memory, pixels compared with what
// was written, JPEG with libjpeg's own decode) and against files broken on
// purpose (each refusal: its ErrorCode, a message starting with the path).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <tiffio.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "defectkit/error.h"
#include "defectkit/image_reader.h"
#include "image_fixtures.h"
#include "tiff_fixtures.h"

namespace fs = std::filesystem;
using defectkit::Error;
using defectkit::ErrorCode;
using defectkit::Image;
using defectkit::ImageFormat;
using defectkit::ImageReader;
using defectkit::ImageReaderOptions;
using namespace defectkit::testing;

namespace {

fs::path temp_dir() { return fs::temp_directory_path() / ("defectkit_image_tests_" + std::to_string(::getpid())); }

std::string temp_file(const std::string& name, const Bytes& bytes) {
  fs::create_directories(temp_dir());
  const std::string path = (temp_dir() / name).string();
  write_file(path, bytes);
  return path;
}

// What the reader must return at (channel, row, column).
using ExpectedFn = std::function<int(int c, int y, int x)>;

struct Case {
  std::string name;
  Bytes bytes;
  int channels;
  ExpectedFn expected;
};

void PrintTo(const Case& c, std::ostream* out) { *out << c.name; }

int round_257(int v) { return static_cast<int>(std::lround(v / 257.0)); }

std::vector<Case> accepted_cases() {
  std::vector<Case> cases;
  const SampleFn g8 = gradient(8), g16 = gradient(16);
  auto png = [&](const std::string& name, PngSpec spec, const SampleFn& samples, int channels, ExpectedFn expected) {
    cases.push_back({name, encode_png(spec, samples), channels, std::move(expected)});
  };
  PngSpec s;
  s.kind = PngSpec::kGrey;
  png("png_grey8", s, g8, 1, g8);
  s.kind = PngSpec::kGreyAlpha;
  png("png_grey_alpha8", s, g8, 1, g8);
  s.kind = PngSpec::kRgb;
  png("png_rgb8", s, g8, 3, g8);
  s.interlaced = true;
  png("png_rgb8_interlaced", s, g8, 3, g8);
  s.interlaced = false;
  s.kind = PngSpec::kRgba;
  png("png_rgba8", s, g8, 3, g8);
  const ExpectedFn scaled16 = [g16](int c, int y, int x) { return round_257(g16(c, y, x)); };
  s.bit_depth = 16;
  for (auto [kind, name, channels] :
       {std::tuple{PngSpec::kGrey, "png_grey16", 1}, std::tuple{PngSpec::kGreyAlpha, "png_grey_alpha16", 1},
        std::tuple{PngSpec::kRgb, "png_rgb16", 3}, std::tuple{PngSpec::kRgba, "png_rgba16", 3}}) {
    s.kind = kind;
    png(name, s, g16, channels, scaled16);
  }
  for (int bits : {1, 2, 4}) {
    s.kind = PngSpec::kGrey;
    s.bit_depth = bits;
    const int top = (1 << bits) - 1;
    const SampleFn low = gradient(bits);
    png("png_grey" + std::to_string(bits), s, low, 1,
        [low, top](int c, int y, int x) { return low(c, y, x) * 255 / top; });
  }
  for (int bits : {4, 8}) {
    for (bool trns : {false, true}) {
      PngSpec p;
      p.kind = PngSpec::kPalette;
      p.bit_depth = bits;
      p.trns = trns;
      const int entries = bits == 4 ? 16 : 200;
      for (int i = 0; i < entries; ++i)
        p.palette.push_back({static_cast<uint8_t>(i * 7), static_cast<uint8_t>(255 - i), static_cast<uint8_t>(i * 31)});
      const SampleFn index = [entries](int, int y, int x) { return (y * 5 + x * 3) % entries; };
      const auto palette = p.palette;
      png("png_palette" + std::to_string(bits) + (trns ? "_trns" : ""), p, index, 3,
          [palette, index](int c, int y, int x) { return palette[index(0, y, x)][c]; });
    }
  }

  auto tiff = [&](const std::string& name, const ImageTiffSpec& spec, int channels, ExpectedFn expected) {
    const SampleFn& samples = spec.bits == 16 ? g16 : g8;
    cases.push_back({name, encode_tiff(spec, samples), channels, std::move(expected)});
  };
  ImageTiffSpec t;
  t.samples = 1;
  t.photometric = PHOTOMETRIC_MINISBLACK;
  tiff("tiff_grey8", t, 1, g8);
  t.photometric = PHOTOMETRIC_MINISWHITE;
  tiff("tiff_grey8_miniswhite", t, 1, [g8](int c, int y, int x) { return 255 - g8(c, y, x); });
  t.photometric = PHOTOMETRIC_MINISBLACK;
  t.samples = 2;
  tiff("tiff_grey_alpha8", t, 1, g8);
  t.samples = 1;
  t.bits = 16;
  tiff("tiff_grey16", t, 1, scaled16);
  t = ImageTiffSpec();
  tiff("tiff_rgb8", t, 3, g8);
  t.planar = true;
  tiff("tiff_rgb8_planar", t, 3, g8);
  t.planar = false;
  t.tiled = true;
  t.compression = COMPRESSION_LZW;
  tiff("tiff_rgb8_tiled_lzw", t, 3, g8);
  t = ImageTiffSpec();
  t.samples = 4;
  tiff("tiff_rgba8", t, 3, g8);
  t.bits = 16;
  t.compression = COMPRESSION_ADOBE_DEFLATE;
  tiff("tiff_rgba16_deflate", t, 3, scaled16);
  t.samples = 3;
  t.planar = true;
  t.tiled = true;
  tiff("tiff_rgb16_planar_tiled", t, 3, scaled16);
  return cases;
}

void expect_pixels(const Image& image, const Case& c) {
  ASSERT_EQ(image.channels, c.channels) << c.name;
  ASSERT_EQ(image.height, 13) << c.name;
  ASSERT_EQ(image.width, 17) << c.name;
  ASSERT_EQ(image.data.size(), 13u * 17u * c.channels);
  int wrong = 0;
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x)
      for (int ch = 0; ch < image.channels; ++ch) {
        const int got = image.data[(static_cast<size_t>(y) * image.width + x) * image.channels + ch];
        if (got != c.expected(ch, y, x) && ++wrong <= 3) {
          ADD_FAILURE() << c.name << " at c" << ch << " y" << y << " x" << x << ": " << got << ", expected "
                        << c.expected(ch, y, x);
        }
      }
  EXPECT_EQ(wrong, 0) << c.name;
}

void expect_refused(const std::function<void()>& read, ErrorCode code, const std::string& prefix,
                    const std::string& says) {
  try {
    read();
    ADD_FAILURE() << "accepted; expected a refusal saying '" << says << "'";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.code(), code) << message;
    EXPECT_EQ(message.rfind(prefix + ": ", 0), 0u) << message;
    EXPECT_NE(message.find(says), std::string::npos) << message;
  }
}

void expect_file_refused(const std::string& name, const Bytes& bytes, ErrorCode code, const std::string& says,
                         ImageReaderOptions options = {}) {
  SCOPED_TRACE(name);
  const std::string path = temp_file(name, bytes);
  expect_refused([&] { ImageReader(options).read(path); }, code, path, says);
  expect_refused([&] { ImageReader(options).decode(bytes.data(), bytes.size(), "frame 7"); }, code, "frame 7", says);
}

// Rewrites the PNG's IHDR width and height, with a fresh CRC.
Bytes png_with_size(Bytes png, uint32_t width, uint32_t height) {
  for (int i = 0; i < 4; ++i) {
    png[16 + i] = static_cast<unsigned char>(width >> (24 - 8 * i));
    png[20 + i] = static_cast<unsigned char>(height >> (24 - 8 * i));
  }
  const uLong crc = crc32(0, png.data() + 12, 17);  // chunk type + 13 data bytes
  for (int i = 0; i < 4; ++i) png[29 + i] = static_cast<unsigned char>(crc >> (24 - 8 * i));
  return png;
}

// Rewrites the JPEG's frame header (SOF0/SOF2) height and width.
Bytes jpeg_with_size(Bytes jpeg, uint16_t width, uint16_t height) {
  for (size_t i = 2; i + 9 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xff && (jpeg[i + 1] == 0xc0 || jpeg[i + 1] == 0xc2)) {
      jpeg[i + 5] = height >> 8, jpeg[i + 6] = height & 0xff;
      jpeg[i + 7] = width >> 8, jpeg[i + 8] = width & 0xff;
      return jpeg;
    }
  }
  ADD_FAILURE() << "no SOF marker";
  return jpeg;
}

class AcceptedImage : public ::testing::TestWithParam<Case> {};

TEST_P(AcceptedImage, FromFileAndFromMemory) {
  const Case& c = GetParam();
  SCOPED_TRACE(c.name);
  // A misleading extension: the content decides.
  const std::string path = temp_file(c.name + ".jpg", c.bytes);
  expect_pixels(ImageReader().read(path), c);
  expect_pixels(ImageReader().decode(c.bytes.data(), c.bytes.size()), c);
}

INSTANTIATE_TEST_SUITE_P(EveryKind, AcceptedImage, ::testing::ValuesIn(accepted_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(ImageReaderTest, JpegMatchesLibjpegsOwnDecode) {
  const SampleFn g8 = gradient(8);
  const SampleFn smooth = [](int c, int y, int x) { return 40 + c * 60 + y * 2 + x; };
  for (auto kind : {JpegSpec::kGrey, JpegSpec::kRgb}) {
    for (bool progressive : {false, true}) {
      JpegSpec spec;
      spec.kind = kind;
      spec.progressive = progressive;
      const Bytes jpeg = encode_jpeg(spec, smooth);
      const Decoded reference = libjpeg_decode(jpeg);
      const int channels = kind == JpegSpec::kGrey ? 1 : 3;
      for (const Image& image :
           {ImageReader().read(temp_file("smooth.jpeg", jpeg)), ImageReader().decode(jpeg.data(), jpeg.size())}) {
        ASSERT_EQ(image.channels, channels);
        ASSERT_EQ(image.height, 24);
        ASSERT_EQ(image.width, 40);
        EXPECT_EQ(image.data, reference.data);
        // And near what was written (lossy, quality 95, a smooth image).
        double worst = 0.0;
        for (int y = 0; y < 24; ++y)
          for (int x = 0; x < 40; ++x)
            for (int c = 0; c < channels; ++c)
              worst = std::max(worst, std::fabs(image.data[(y * 40 + x) * channels + c] - smooth(c, y, x)));
        EXPECT_LE(worst, 6.0);
      }
    }
  }
  (void)g8;
}

TEST(ImageReaderTest, DetectsFormatsByTheirSignatures) {
  const Bytes png = encode_png(PngSpec(), gradient(8));
  const Bytes jpeg = encode_jpeg(JpegSpec(), gradient(8));
  const Bytes tiff = encode_tiff(ImageTiffSpec(), gradient(8));
  EXPECT_EQ(defectkit::detect_image_format(png.data(), png.size()), ImageFormat::kPng);
  EXPECT_EQ(defectkit::detect_image_format(jpeg.data(), jpeg.size()), ImageFormat::kJpeg);
  EXPECT_EQ(defectkit::detect_image_format(tiff.data(), tiff.size()), ImageFormat::kTiff);
  EXPECT_EQ(defectkit::detect_image_format("BM6", 3), ImageFormat::kUnknown);
  EXPECT_EQ(defectkit::detect_image_format(png.data(), 7), ImageFormat::kUnknown);
  EXPECT_EQ(defectkit::detect_image_format(nullptr, 8), ImageFormat::kUnknown);
  EXPECT_STREQ(defectkit::image_format_name(ImageFormat::kJpeg), "jpeg");
}

TEST(ImageReaderTest, RefusesMissingAndSpecialFiles) {
  const std::string missing = (temp_dir() / "missing.png").string();
  expect_refused([&] { ImageReader().read(missing); }, ErrorCode::kFileNotFound, missing, "no such file");
  fs::create_directories(temp_dir() / "folder.png");
  const std::string folder = (temp_dir() / "folder.png").string();
  expect_refused([&] { ImageReader().read(folder); }, ErrorCode::kFileNotFound, folder, "not a regular file");
  const std::string fifo = (temp_dir() / "fifo.png").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  expect_refused([&] { ImageReader().read(fifo); }, ErrorCode::kFileNotFound, fifo, "not a regular file");
  expect_refused([&] { ImageReader().decode(nullptr, 4); }, ErrorCode::kInvalidArgument, "image buffer", "no data");
}

TEST(ImageReaderTest, RefusesEmptyAndUnknownContent) {
  expect_file_refused("empty.png", {}, ErrorCode::kBadFile, "empty file");
  expect_file_refused("bitmap.png", {'B', 'M', 0x36, 0, 0, 0, 0, 0, 0, 0}, ErrorCode::kBadFile,
                      "not a PNG, JPEG or TIFF image (its first bytes are 42 4d 36 00)");
  const Bytes strip_like = {'h', 'e', 'l', 'l', 'o'};
  expect_file_refused("text.jpg", strip_like, ErrorCode::kBadFile, "not a PNG, JPEG or TIFF image");
}

TEST(ImageReaderTest, RefusesEveryTruncationOfPngAndJpeg) {
  PngSpec p;
  p.height = 6, p.width = 5;
  JpegSpec j;
  j.height = 8, j.width = 8;
  for (const auto& [kind, bytes] :
       {std::pair{"PNG", encode_png(p, gradient(8))}, std::pair{"JPEG", encode_jpeg(j, gradient(8))}}) {
    for (size_t keep = 1; keep < bytes.size(); ++keep) {
      const Bytes cut = truncated(bytes, keep);
      try {
        ImageReader().decode(cut.data(), cut.size(), "cut");
        ADD_FAILURE() << kind << " cut to " << keep << " of " << bytes.size() << " bytes was accepted";
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kBadFile) << kind << " cut to " << keep << ": " << e.what();
      }
    }
  }
}

TEST(ImageReaderTest, RefusesTruncatedAndCorruptData) {
  const Bytes png = encode_png(PngSpec(), gradient(8));
  expect_file_refused("cut.png", truncated(png, png.size() / 2), ErrorCode::kBadFile, "truncated PNG");
  Bytes bad_crc = png;
  bad_crc[bad_crc.size() / 2] ^= 0x5a;  // inside IDAT: its CRC no longer matches
  expect_file_refused("bad_crc.png", bad_crc, ErrorCode::kBadFile, "corrupt or truncated PNG");

  const Bytes jpeg = encode_jpeg(JpegSpec(), gradient(8));
  expect_file_refused("cut.jpg", truncated(jpeg, jpeg.size() - 40), ErrorCode::kBadFile, "Premature end of JPEG file");
  Bytes garbled = jpeg;
  for (size_t i = jpeg.size() - 200; i < jpeg.size() - 150; ++i) garbled[i] = 0xff;  // entropy-coded data
  expect_file_refused("garbled.jpg", garbled, ErrorCode::kBadFile, "corrupt or truncated JPEG");

  const Bytes tiff = encode_tiff(ImageTiffSpec(), gradient(8));
  expect_file_refused("cut.tif", truncated(tiff, tiff.size() / 2), ErrorCode::kBadFile, "truncated or corrupt");
  const Bytes raw = RawTiff().bytes();  // the pixels after the IFD: cutting the file cuts the strip
  expect_file_refused("short_strip.tif", truncated(raw, raw.size() - 10), ErrorCode::kBadFile,
                      "truncated or corrupt image data");
}

TEST(ImageReaderTest, RefusesAProgressiveJpegOfTooManyScans) {
  JpegSpec slow;
  slow.kind = JpegSpec::kGrey;
  slow.height = 8, slow.width = 8;
  slow.scan_per_bit = true;
  const Bytes jpeg = encode_jpeg(slow, gradient(8));
  EXPECT_EQ(libjpeg_decode(jpeg).data.size(), 64u);  // a valid file: libjpeg itself decodes it
  expect_file_refused("many_scans.jpg", jpeg, ErrorCode::kBadFile,
                      "JPEG refused: more than 500 scans (a progressive file built to decode slowly)");
}

TEST(ImageReaderTest, RefusesWhatItDoesNotRead) {
  JpegSpec cmyk;
  cmyk.kind = JpegSpec::kCmyk;
  expect_file_refused("cmyk.jpg", encode_jpeg(cmyk, gradient(8)), ErrorCode::kUnsupported, "CMYK with 4 components");

  ImageTiffSpec t;
  t.bits = 32;
  t.float_samples = true;
  expect_file_refused("float.tif", encode_tiff(t, gradient(8)), ErrorCode::kUnsupported, "float32");
  t = ImageTiffSpec();
  t.samples = 4;
  t.photometric = PHOTOMETRIC_SEPARATED;
  expect_file_refused("cmyk.tif", encode_tiff(t, gradient(8)), ErrorCode::kUnsupported, "separated (CMYK)");
  t = ImageTiffSpec();
  t.samples = 5;
  t.alpha = false;
  expect_file_refused("five.tif", encode_tiff(t, gradient(8)), ErrorCode::kUnsupported, "5 samples per pixel");
  t = ImageTiffSpec();
  t.samples = 3;
  t.photometric = PHOTOMETRIC_MINISBLACK;
  expect_file_refused("strip.tif", encode_tiff(t, gradient(8)), ErrorCode::kUnsupported,
                      "grey TIFF with 3 samples per pixel");
  RawTiff raw;
  raw.bits = 16;
  raw.sample_format = SAMPLEFORMAT_INT;
  expect_file_refused("int16.tif", raw.bytes(), ErrorCode::kUnsupported, "int16");
}

TEST(ImageReaderTest, RefusesZeroAndHugeSizes) {
  const Bytes png = encode_png(PngSpec(), gradient(8));
  expect_file_refused("zero.png", png_with_size(png, 0, 13), ErrorCode::kBadFile, "corrupt or truncated PNG");
  expect_file_refused("huge.png", png_with_size(png, 100000, 100000), ErrorCode::kBadFile,
                      "is too large: 100000 x 100000 pixels");
  const Bytes jpeg = encode_jpeg(JpegSpec(), gradient(8));
  expect_file_refused("zero.jpg", jpeg_with_size(jpeg, 40, 0), ErrorCode::kBadFile, "corrupt or truncated JPEG");
  expect_file_refused("huge.jpg", jpeg_with_size(jpeg, 65000, 65000), ErrorCode::kBadFile,
                      "is too large: 65000 x 65000 pixels");
  RawTiff raw;
  raw.width = 0;
  expect_file_refused("zero.tif", raw.bytes(), ErrorCode::kBadFile, "truncated or corrupt TIFF");
  raw.width = 1u << 20;
  raw.height = 1u << 20;
  raw.pixels.assign(16, 0);
  expect_file_refused("huge.tif", raw.bytes(), ErrorCode::kBadFile, "is too large: 1048576 x 1048576 pixels");

  ImageReaderOptions small;  // the bound is an option
  small.max_pixels = 13 * 17 - 1;
  expect_file_refused("over_limit.png", png, ErrorCode::kBadFile, "more than the limit of 220", small);
  small = ImageReaderOptions();
  small.max_file_bytes = 10;
  expect_file_refused("big_file.png", png, ErrorCode::kBadFile, "bytes, more than the limit of 10", small);
}

TEST(ImageReaderTest, DecodesFromManyThreadsAtOnce) {
  const std::vector<Case> cases = accepted_cases();
  const Bytes bad = truncated(cases[0].bytes, 30);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) {
        for (size_t i = t; i < cases.size(); i += 2) {
          const Image image = ImageReader().decode(cases[i].bytes.data(), cases[i].bytes.size());
          if (image.data[5] != cases[i].expected(5 % image.channels, 0, 5 / image.channels)) ++wrong;
          try {
            ImageReader().decode(bad.data(), bad.size());
            ++wrong;
          } catch (const Error&) {
          }
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
