// defectkit_image_fuzz_seeds DIR: writes the seed corpus of the image reader's
// harness, DIR/image_reader/: small PNG, JPEG and TIFF images of every kind
// ImageReader accepts, written by libpng, libjpeg-turbo and libtiff through
// the fixtures the reader's tests use, plus a few it refuses (CMYK JPEG,
// float and CMYK TIFF) so the fuzzer starts inside every decoder's refusals.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "image_fixtures.h"

namespace dt = defectkit::testing;
namespace fs = std::filesystem;

namespace {

void write_image_seeds(const fs::path& dir) {
  fs::create_directories(dir);
  int k = 0;
  auto seed = [&](const std::string& kind, const dt::Bytes& bytes) {
    dt::write_file((dir / ("seed_" + std::to_string(k++) + "_" + kind)).string(), bytes);
  };
  // Small images keep each execution fast; the variety is in the headers.
  const dt::PngSpec::Kind png_kinds[] = {dt::PngSpec::kGrey, dt::PngSpec::kGreyAlpha, dt::PngSpec::kRgb,
                                         dt::PngSpec::kRgba};
  for (const auto kind : png_kinds) {
    for (int bits : {8, 16}) {
      dt::PngSpec spec;
      spec.kind = kind;
      spec.bit_depth = bits;
      spec.height = 7, spec.width = 9;
      spec.interlaced = kind == dt::PngSpec::kRgb;
      seed("png", dt::encode_png(spec, dt::gradient(bits)));
    }
  }
  dt::PngSpec grey2;
  grey2.kind = dt::PngSpec::kGrey;
  grey2.bit_depth = 2;
  grey2.height = 5, grey2.width = 6;
  seed("png", dt::encode_png(grey2, dt::gradient(2)));
  dt::PngSpec palette;
  palette.kind = dt::PngSpec::kPalette;
  palette.bit_depth = 4;
  palette.trns = true;
  palette.height = 6, palette.width = 5;
  for (int i = 0; i < 16; ++i) palette.palette.push_back({uint8_t(i * 16), uint8_t(255 - i), uint8_t(i * 3)});
  seed("png", dt::encode_png(palette, [](int, int y, int x) { return (y + x) % 16; }));

  for (const auto kind : {dt::JpegSpec::kGrey, dt::JpegSpec::kRgb, dt::JpegSpec::kCmyk}) {
    for (bool progressive : {false, true}) {
      dt::JpegSpec spec;
      spec.kind = kind;
      spec.progressive = progressive;
      spec.height = 9, spec.width = 11;
      spec.quality = 75;
      seed("jpeg", dt::encode_jpeg(spec, dt::gradient(8)));
    }
  }

  struct TiffSeed {
    int samples, bits;
    uint16_t photometric;
    bool planar, tiled, float_samples;
    uint16_t compression;
  };
  const TiffSeed tiffs[] = {
      {1, 8, 1, false, false, false, 1}, {1, 16, 0, false, false, false, 5}, {2, 8, 1, false, false, false, 1},
      {3, 8, 2, false, false, false, 1}, {3, 8, 2, true, false, false, 8},   {4, 16, 2, false, true, false, 32773},
      {3, 16, 2, true, true, false, 5},  {1, 32, 1, false, false, true, 1},  {4, 8, 5, false, false, false, 1},
  };
  for (const auto& t : tiffs) {
    dt::ImageTiffSpec spec;
    spec.samples = t.samples;
    spec.bits = t.bits;
    spec.photometric = t.photometric;
    spec.planar = t.planar;
    spec.tiled = t.tiled;
    spec.float_samples = t.float_samples;
    spec.compression = t.compression;
    spec.height = 7, spec.width = 9;
    seed("tiff", dt::encode_tiff(spec, dt::gradient(t.bits == 16 ? 16 : 8)));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  try {
    write_image_seeds(fs::path(argv[1]) / "image_reader");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
