// Reading a caller's strip buffer (StripView) into the float32 CHW windows a
// graph takes: the one conversion between the caller's layout and the model's.
#pragma once

#include <string>

#include "defectkit/inspector.h"

namespace defectkit::detail {

// Checks pointer, dimensions, channel count (3 or 4) and that size_bytes
// covers the shape. Throws Error(kInvalidArgument) whose message starts with
// `source` (a path, or "strip buffer").
void validate_strip(const StripView& strip, const std::string& source);

// Refuses NaN or Inf in a float32 strip, naming the first bad value.
void check_finite(const StripView& strip, const std::string& source);

// Writes channels [0, channels) of the window (y0, x0, height, width) as
// float32 CHW on the 0..255 scale: channels * height * width floats at `out`.
void copy_window(const StripView& strip, int channels, int y0, int x0, int height, int width, float* out);

// Zeroes heatmap pixels (H x W of the strip) where channel 3 is 0.
void zero_outside_roi(const StripView& strip, float* heatmap);

}  // namespace defectkit::detail
