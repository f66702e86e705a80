// Test-only TIFF writers: libtiff-written files in every layout StripReader
// reads, and hand-built byte images for headers libtiff would not write.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace defectkit::testing {

enum class SampleType { kUint8, kUint16, kFloat32, kFloat64, kInt16, kUint32, kFloat16, kUint12 };
enum class Layout { kPlanar, kContig, kPages };  // channels-first, channels-last, one channel per page

const char* sample_type_name(SampleType type);
const char* layout_name(Layout layout);

struct TiffSpec {
  SampleType type = SampleType::kUint8;
  Layout layout = Layout::kPlanar;
  int channels = 3;
  int height = 37;  // odd sizes: partial last strip, tiles overhanging both edges
  int width = 53;
  uint16_t compression = 1;  // COMPRESSION_*
  uint16_t predictor = 1;    // PREDICTOR_*; 1 = none
  bool tiled = false;
  uint32_t tile_width = 32;
  uint32_t tile_height = 16;
  uint32_t rows_per_strip = 5;
  std::string mode = "w";  // libtiff open mode: "wl", "wb" (big-endian), "w8" (BigTIFF), "wb8"
};

// The value written at (channel, row, column), in the sample type's own
// units (cast to the type when written). Varies along every axis.
using ValueFn = std::function<double(int c, int y, int x)>;
ValueFn default_values(SampleType type);

// Writes `spec` with libtiff, values from `values` (default_values if empty).
// Throws std::runtime_error if libtiff refuses.
void write_tiff(const std::string& path, const TiffSpec& spec, const ValueFn& values = {});

// What StripReader should return for a value written as `type`.
float expected_float(SampleType type, double value);

// A classic little-endian TIFF built byte by byte: header, then one IFD, then
// one uncompressed contiguous strip (so cutting the file cuts pixel data,
// unlike libtiff, which writes the IFD last).
struct RawTiff {
  uint32_t width = 8;
  uint32_t height = 4;
  uint16_t samples = 3;
  uint16_t bits = 8;
  uint16_t sample_format = 1;
  std::vector<unsigned char> pixels;  // the strip; zero-filled to width*height*samples*bits/8 if empty
  int64_t strip_byte_count = -1;      // -1: pixels.size()
  int64_t strip_offset = -1;          // -1: right after the IFD

  std::vector<unsigned char> bytes() const;
};

void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes);
std::vector<unsigned char> read_bytes(const std::string& path);

}  // namespace defectkit::testing
