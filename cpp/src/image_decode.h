// Internal: the three decoders behind ImageReader, one per library (libpng,
// libjpeg-turbo, libtiff), and what they share. Each takes the whole encoded
// image in memory and throws defectkit::Error whose message does NOT yet
// carry the file's path or the buffer's name (ImageReader prefixes it).
#pragma once

#include <cstddef>
#include <cstdint>

#include "defectkit/image_reader.h"

namespace defectkit::detail {

Image decode_png(const uint8_t* data, size_t size, int64_t max_pixels);
Image decode_jpeg(const uint8_t* data, size_t size, int64_t max_pixels);
Image decode_tiff_image(const uint8_t* data, size_t size, int64_t max_pixels);

// Throws Error(kBadFile) for an empty image or one of more than `max_pixels`
// pixels (or a side beyond INT_MAX), before anything of that size is allocated.
void check_image_size(uint64_t width, uint64_t height, int64_t max_pixels);

// Allocates `image` (height * width * channels bytes) after check_image_size.
void allocate_image(Image& image, uint32_t width, uint32_t height, int channels, int64_t max_pixels);

// round(value / 257): 65535 -> 255, exact (no value lies halfway).
inline uint8_t scale_16_to_8(uint16_t value) { return static_cast<uint8_t>((2u * value + 257u) / 514u); }

}  // namespace defectkit::detail
