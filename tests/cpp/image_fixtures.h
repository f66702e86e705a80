// Test-only image encoders: PNG, JPEG and TIFF written by the libraries
// themselves (libpng, libjpeg-turbo, libtiff) from a function of (channel,
// row, column), and a plain libjpeg decode to compare JPEG pixels against.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace defectkit::testing {

using Bytes = std::vector<unsigned char>;

// The sample at (channel, row, column) in the file's own units (0..255 for
// 8 bits, 0..65535 for 16, a palette index for palette PNGs).
using SampleFn = std::function<int(int c, int y, int x)>;

// A function that varies along every axis and fills the sample's range.
SampleFn gradient(int bits);

struct PngSpec {
  enum Kind { kGrey, kGreyAlpha, kRgb, kRgba, kPalette } kind = kRgb;
  int bit_depth = 8;  // 1, 2, 4 (grey, palette), 8 or 16 (not palette)
  int height = 13, width = 17;
  bool interlaced = false;
  // Palette PNGs: RGB entries; `trns` adds a tRNS chunk (alpha per entry).
  std::vector<std::array<uint8_t, 3>> palette;
  bool trns = false;
};

// Samples the file holds per pixel: 1, 2, 3, 4 (palette: 1 index).
int png_samples(const PngSpec& spec);
Bytes encode_png(const PngSpec& spec, const SampleFn& samples);

struct JpegSpec {
  enum Kind { kGrey, kRgb, kCmyk } kind = kRgb;
  int height = 24, width = 40;
  int quality = 95;
  bool progressive = false;
  // Grey only: a progressive script giving every coefficient and every bit
  // its own scan (704 scans: a file built to decode slowly).
  bool scan_per_bit = false;
};

Bytes encode_jpeg(const JpegSpec& spec, const SampleFn& samples);

// libjpeg's own decode (default settings, grey or RGB out): channels, then
// H * W * channels bytes. Aborts the test process on a libjpeg error.
struct Decoded {
  int height = 0, width = 0, channels = 0;
  std::vector<uint8_t> data;
};
Decoded libjpeg_decode(const Bytes& jpeg);

struct ImageTiffSpec {
  int samples = 3;  // samples per pixel
  int bits = 8;     // 8 or 16 (32 with float_samples)
  bool float_samples = false;
  uint16_t photometric = 2;  // PHOTOMETRIC_RGB; 1: MinIsBlack, 0: MinIsWhite, 5: separated (CMYK)
  bool planar = false;       // PLANARCONFIG_SEPARATE
  bool tiled = false;
  uint16_t compression = 1;  // COMPRESSION_*
  int height = 13, width = 17;
  bool alpha = true;  // with one extra sample: ExtraSamples says associated alpha
};

// Written by libtiff (to a temp file read back).
Bytes encode_tiff(const ImageTiffSpec& spec, const SampleFn& samples);

// The first bytes of `bytes`: a cut file.
Bytes truncated(const Bytes& bytes, size_t keep);

void write_file(const std::string& path, const Bytes& bytes);

}  // namespace defectkit::testing
