#include "strip_view.h"

#include <cmath>
#include <cstdint>
#include <limits>

#include "defectkit/error.h"

namespace defectkit::detail {
namespace {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return 4;
    case DType::kUInt8:
      return 1;
    case DType::kUInt16:
      return 2;
  }
  return 0;
}

// The StripReader's scaling, so a buffer and the same strip read from a TIFF
// give the model identical floats.
inline float to_float(float v) { return v; }
inline float to_float(uint8_t v) { return static_cast<float>(v); }
inline float to_float(uint16_t v) { return static_cast<float>(v) / 257.0f; }

template <typename T>
void copy_window_typed(const StripView& s, int channels, int y0, int x0, int height, int width, float* out) {
  const T* src = static_cast<const T*>(s.data);
  const size_t plane = static_cast<size_t>(height) * width;
  if (s.layout == Layout::kCHW) {
    for (int c = 0; c < channels; ++c) {
      for (int y = 0; y < height; ++y) {
        const T* row = src + (static_cast<size_t>(c) * s.height + (y0 + y)) * s.width + x0;
        float* dst = out + c * plane + static_cast<size_t>(y) * width;
        for (int x = 0; x < width; ++x) dst[x] = to_float(row[x]);
      }
    }
    return;
  }
  for (int y = 0; y < height; ++y) {  // HWC: read each pixel's channels together
    const T* row = src + (static_cast<size_t>(y0 + y) * s.width + x0) * s.channels;
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < channels; ++c) {
        out[c * plane + static_cast<size_t>(y) * width + x] = to_float(row[static_cast<size_t>(x) * s.channels + c]);
      }
    }
  }
}

template <typename T>
void zero_outside_roi_typed(const StripView& s, float* heatmap) {
  const T* src = static_cast<const T*>(s.data);
  const size_t n = static_cast<size_t>(s.height) * s.width;
  for (size_t i = 0; i < n; ++i) {
    const T v = s.layout == Layout::kCHW ? src[3 * n + i] : src[i * s.channels + 3];
    if (v == T{0}) heatmap[i] = 0.0f;
  }
}

}  // namespace

void validate_strip(const StripView& s, const std::string& source) {
  auto fail = [&](const std::string& what) { throw Error(ErrorCode::kInvalidArgument, source + ": " + what); };
  if (s.data == nullptr) fail("the strip buffer is a null pointer");
  if (s.channels != 3 && s.channels != 4) {
    fail("a strip has 3 channels (target, ref1, ref2) or 4 (+ ROI), got " + std::to_string(s.channels));
  }
  if (s.height < 1 || s.width < 1) {
    fail("strip size must be positive, got " + std::to_string(s.height) + " x " + std::to_string(s.width));
  }
  const size_t element = dtype_size(s.dtype);
  if (element == 0) fail("unknown dtype (expected float32, uint8 or uint16)");
  const size_t needed = static_cast<size_t>(s.channels) * s.height * s.width * element;
  if (s.size_bytes < needed) {
    fail("the buffer holds " + std::to_string(s.size_bytes) + " bytes but its shape (" + std::to_string(s.channels) +
         " x " + std::to_string(s.height) + " x " + std::to_string(s.width) + ") needs " + std::to_string(needed));
  }
}

void check_finite(const StripView& s, const std::string& source) {
  if (s.dtype != DType::kFloat32) return;
  const float* v = static_cast<const float*>(s.data);
  const size_t n = static_cast<size_t>(s.channels) * s.height * s.width;
  for (size_t i = 0; i < n; ++i) {
    if (std::isfinite(v[i])) continue;
    const size_t pixel = s.layout == Layout::kCHW ? i % (static_cast<size_t>(s.height) * s.width) : i / s.channels;
    const size_t c = s.layout == Layout::kCHW ? i / (static_cast<size_t>(s.height) * s.width) : i % s.channels;
    throw Error(ErrorCode::kInvalidArgument, source + ": contains NaN or Inf values (first at channel " +
                                                 std::to_string(c) + ", row " + std::to_string(pixel / s.width) +
                                                 ", column " + std::to_string(pixel % s.width) + ")");
  }
}

void copy_window(const StripView& s, int channels, int y0, int x0, int height, int width, float* out) {
  switch (s.dtype) {
    case DType::kFloat32:
      return copy_window_typed<float>(s, channels, y0, x0, height, width, out);
    case DType::kUInt8:
      return copy_window_typed<uint8_t>(s, channels, y0, x0, height, width, out);
    case DType::kUInt16:
      return copy_window_typed<uint16_t>(s, channels, y0, x0, height, width, out);
  }
}

void zero_outside_roi(const StripView& s, float* heatmap) {
  switch (s.dtype) {
    case DType::kFloat32:
      return zero_outside_roi_typed<float>(s, heatmap);
    case DType::kUInt8:
      return zero_outside_roi_typed<uint8_t>(s, heatmap);
    case DType::kUInt16:
      return zero_outside_roi_typed<uint16_t>(s, heatmap);
  }
}

}  // namespace defectkit::detail
