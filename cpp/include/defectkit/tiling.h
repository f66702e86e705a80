// Tiling a strip into overlapping patches and stitching their heatmaps back,
// the rule shared with training and export (docs/ARTIFACT.md, `tiling`).
#pragma once

#include <cstddef>
#include <vector>

namespace defectkit {

// Evenly spaced tile starts covering [0, length): first 0, last length - patch.
// count = ceil((length - min_overlap) / (patch - min_overlap)), raised to
// min_count, capped at length - patch + 1; start i = floor((2 i span + count - 1)
// / (2 (count - 1))) with span = length - patch; {0} when count is 1.
// Throws Error(kInvalidArgument) for length < patch, patch < 1, min_count < 1
// or min_overlap outside [0, patch). Thread-safe.
std::vector<int> positions_along(int length, int patch, int min_count, int min_overlap);

// For each output coordinate along one axis, the tile that owns it: the one
// minimising |2 i - (2 start + patch)|, ties to the earlier tile. `starts`
// must be ascending and cover [0, length). Thread-safe.
std::vector<int> nearest_centre_owner(const std::vector<int>& starts, int patch, int length);

// Assembles an (H, W) map from tiles (T, p, p) laid out row-major over
// ys x xs (tile k sits at ys[k / xs.size()], xs[k % xs.size()]), each pixel
// taken from its nearest-centre tile. `tiles` holds T * p * p floats with
// consecutive tiles `tile_stride` floats apart (p * p for (T, 1, p, p); 3 p p
// for a seed3ch (T, 3, p, p) output, reading channel 0). Writes H * W floats
// to `out`. Thread-safe.
void stitch_nearest_centre(const float* tiles, std::size_t tile_stride, int patch, const std::vector<int>& ys,
                           const std::vector<int>& xs, int height, int width, float* out);

}  // namespace defectkit
