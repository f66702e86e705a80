// defectkit::ImageReader — decodes PNG, JPEG and TIFF camera images (libpng,
// libjpeg-turbo, libtiff) into 8-bit (H, W, C) images with 1 or 3 channels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace defectkit {

// A decoded image: 8-bit, interleaved (H, W, C), C = 1 (grey) or 3 (RGB).
struct Image {
  int height = 0;
  int width = 0;
  int channels = 0;           // 1 or 3
  std::vector<uint8_t> data;  // height * width * channels bytes, row-major HWC
};

// The container an image's first bytes name.
enum class ImageFormat { kUnknown, kPng, kJpeg, kTiff };

// Returns "png", "jpeg", "tiff" or "unknown".
const char* image_format_name(ImageFormat format) noexcept;

// The format whose signature starts `data` (PNG's 8 bytes, JPEG's FF D8 FF,
// TIFF's II*, MM*, II+, MM+); kUnknown otherwise. Thread-safe.
ImageFormat detect_image_format(const void* data, size_t size) noexcept;

// Settings for reading; the defaults suit camera frames.
struct ImageReaderOptions {
  // Refuse images of more pixels than this (headers claim anything): 2^28 is
  // 16384 x 16384, 768 MiB as RGB.
  int64_t max_pixels = int64_t{1} << 28;
  // Refuse files (and buffers) larger than this before reading them.
  int64_t max_file_bytes = int64_t{1} << 31;
};

// Decodes by content, never by extension:
//   PNG  any colour type and bit depth: palette expanded to RGB, grey of 1-4
//        bits scaled to 8, interlaced or not;
//   JPEG baseline or progressive, grey or colour (YCbCr, RGB);
//   TIFF (first page) uint8/uint16, grey (MinIsBlack or MinIsWhite) or RGB,
//        contiguous or planar, striped or tiled, any codec this libtiff has.
// Always: alpha (grey+alpha, RGBA, a PNG's tRNS) is dropped; 16-bit samples
// become round(value / 257). Refused with Error whose message starts with the
// file's path (or the buffer's name): kFileNotFound (missing, unreadable, not
// a regular file), kBadFile (empty, unknown signature, truncated or corrupt
// data, zero or too-large size, libjpeg warnings such as a cut stream),
// kUnsupported (CMYK/YCCK JPEG, 12-bit JPEG, float or signed TIFF samples,
// palette/CMYK/YCbCr/Lab TIFFs, bilevel or > 4 samples per pixel).
class ImageReader {
 public:
  explicit ImageReader(ImageReaderOptions options = {}) : options_(options) {}

  // Reads and decodes the file at `path`. Thread-safe: no state is shared between calls.
  Image read(const std::string& path) const;

  // Decodes `size` bytes at `data` (a frame grabber's JPEG, a PNG from a
  // socket); `name` starts error messages. The bytes are not kept. Thread-safe.
  Image decode(const void* data, size_t size, const std::string& name = "image buffer") const;

 private:
  ImageReaderOptions options_;
};

}  // namespace defectkit
