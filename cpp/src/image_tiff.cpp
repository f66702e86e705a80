// TIFF camera images through libtiff (the strip reader's TiffFile and block
// walk, tiff_decode.h), read from memory: the first page, uint8 or uint16,
// grey or RGB with an optional extra (alpha) sample, to 8-bit HWC.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "defectkit/error.h"
#include "image_decode.h"
#include "tiff_decode.h"

namespace defectkit::detail {
namespace {

// What the photometric interpretation and sample count make of a page.
struct ImageLayout {
  int channels = 0;     // 1 or 3: the samples kept
  bool invert = false;  // MinIsWhite: 0 is white
};

std::string photometric_name(uint16_t photometric) {
  switch (photometric) {
    case PHOTOMETRIC_PALETTE:
      return "palette colour";
    case PHOTOMETRIC_SEPARATED:
      return "separated (CMYK)";
    case PHOTOMETRIC_YCBCR:
      return "YCbCr";
    case PHOTOMETRIC_CIELAB:
    case PHOTOMETRIC_ICCLAB:
    case PHOTOMETRIC_ITULAB:
      return "Lab";
    case PHOTOMETRIC_MASK:
      return "transparency mask";
    default:
      return "photometric interpretation " + std::to_string(photometric);
  }
}

ImageLayout layout_of(TIFF* tif, const TiffPage& page) {
  if (page.sample_format != SAMPLEFORMAT_UINT || (page.bits != 8 && page.bits != 16)) {
    throw Error(ErrorCode::kUnsupported,
                "unsupported TIFF sample format: " + page.sample_type_name() + " (expected uint8 or uint16)");
  }
  if (page.depth != 1) {
    throw Error(ErrorCode::kUnsupported, "unsupported 3-D TIFF (ImageDepth " + std::to_string(page.depth) + ")");
  }
  if (page.samples < 1 || page.samples > 4) {
    throw Error(ErrorCode::kUnsupported, "unsupported TIFF with " + std::to_string(page.samples) +
                                             " samples per pixel (expected grey or RGB, with an optional alpha)");
  }
  uint16_t photometric = 0;
  if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric)) {  // required, but often left out
    photometric = page.samples >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;
  }
  ImageLayout layout;
  if (photometric == PHOTOMETRIC_MINISBLACK || photometric == PHOTOMETRIC_MINISWHITE) {
    if (page.samples > 2) {
      throw Error(ErrorCode::kUnsupported, "unsupported grey TIFF with " + std::to_string(page.samples) +
                                               " samples per pixel (expected grey, or grey and alpha)");
    }
    layout.channels = 1;
    layout.invert = photometric == PHOTOMETRIC_MINISWHITE;
  } else if (photometric == PHOTOMETRIC_RGB) {
    if (page.samples < 3) {
      throw Error(ErrorCode::kBadFile, "an RGB TIFF with " + std::to_string(page.samples) + " samples per pixel");
    }
    layout.channels = 3;
  } else {
    throw Error(ErrorCode::kUnsupported,
                "unsupported TIFF colour: " + photometric_name(photometric) + " (expected grey or RGB)");
  }
  if (page.compression != COMPRESSION_NONE && !TIFFIsCODECConfigured(page.compression)) {
    throw Error(ErrorCode::kUnsupported,
                "unsupported TIFF compression: " + compression_name(page.compression) + " is not built into libtiff");
  }
  return layout;
}

// Converts `count` samples every `stride` bytes to 8 bits, into every `step`-th byte of `out`.
template <typename T>
void to_8bit(const unsigned char* src, size_t stride, size_t count, bool invert, uint8_t* out, size_t step) {
  for (size_t i = 0; i < count; ++i) {
    T value;
    std::memcpy(&value, src + i * stride, sizeof(T));
    uint8_t v;
    if constexpr (sizeof(T) == 1)
      v = value;
    else
      v = scale_16_to_8(value);
    out[i * step] = invert ? static_cast<uint8_t>(255 - v) : v;
  }
}

}  // namespace

Image decode_tiff_image(const uint8_t* data, size_t size, int64_t max_pixels) {
  // libtiff's own allocations (strip tables, compressed blocks) stay within a
  // few decoded images' worth; a fuzzed header asking for more is refused.
  const int64_t alloc_limit = max_pixels > (INT64_MAX >> 4) ? 0 : std::max<int64_t>(max_pixels * 16, 64 << 20);
  TiffFile file(data, size, alloc_limit);
  TIFF* tif = file.get();
  const TiffPage page = read_page(tif);
  const ImageLayout layout = layout_of(tif, page);
  Image image;
  allocate_image(image, page.width, page.height, layout.channels, max_pixels);
  const int channels = layout.channels;
  const size_t width = page.width;
  uint8_t* out = image.data.data();
  // Bounds block buffers (tiles may overhang the image): what max_pixels allows of this page's samples.
  const int64_t max_values = max_pixels > INT64_MAX / page.samples ? INT64_MAX : max_pixels * page.samples;
  walk_page(file, page, max_values,
            [&](const unsigned char* src, size_t stride, size_t count, uint16_t channel, uint32_t y, uint32_t x) {
              if (channel >= channels) return;  // alpha (or another extra sample): dropped
              uint8_t* row = out + (static_cast<size_t>(y) * width + x) * channels + channel;
              if (page.bits == 8)
                to_8bit<uint8_t>(src, stride, count, layout.invert, row, channels);
              else
                to_8bit<uint16_t>(src, stride, count, layout.invert, row, channels);
            });
  return image;
}

}  // namespace defectkit::detail
