// StripReader against TIFFs written here with libtiff: every layout, sample type, codec,
// storage and container of the data contract, values compared bit for bit. Refusals of broken
// files: test_strip_reader_refusals.cpp; robustness: test_strip_reader_robustness.cpp.
#include <gtest/gtest.h>
#include <tiffio.h>

#include <cstdint>
#include <string>
#include <tuple>

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

}  // namespace
