#include "defectkit/tiling.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "defectkit/error.h"

namespace defectkit {

std::vector<int> positions_along(int length, int patch, int min_count, int min_overlap) {
  if (patch < 1 || min_count < 1) {
    throw Error(ErrorCode::kInvalidArgument, "positions_along needs patch >= 1 and min_count >= 1, got patch " +
                                                 std::to_string(patch) + ", min_count " + std::to_string(min_count));
  }
  if (length < patch) {
    throw Error(ErrorCode::kInvalidArgument,
                "length " + std::to_string(length) + " is smaller than one patch (" + std::to_string(patch) + ")");
  }
  if (min_overlap < 0 || min_overlap >= patch) {
    throw Error(ErrorCode::kInvalidArgument, "positions_along needs 0 <= min_overlap < patch (" +
                                                 std::to_string(patch) + "), got " + std::to_string(min_overlap));
  }
  // Integer ceiling; every quantity stays an integer, as in the Python rule.
  const int64_t needed = (int64_t{length} - min_overlap + (patch - min_overlap) - 1) / (patch - min_overlap);
  const int64_t count = std::min<int64_t>(std::max<int64_t>(min_count, needed), int64_t{length} - patch + 1);
  if (count == 1) return {0};
  const int64_t span = length - patch;
  std::vector<int> starts(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    starts[static_cast<size_t>(i)] = static_cast<int>((2 * i * span + (count - 1)) / (2 * (count - 1)));
  }
  return starts;
}

std::vector<int> nearest_centre_owner(const std::vector<int>& starts, int patch, int length) {
  std::vector<int> owner(static_cast<size_t>(length));
  size_t t = 0;
  for (int i = 0; i < length; ++i) {
    // Starts ascend, so the owner only moves forward: advance while the next
    // centre is strictly nearer (equal distance keeps the earlier tile).
    while (t + 1 < starts.size() &&
           std::abs(2 * i - (2 * starts[t + 1] + patch)) < std::abs(2 * i - (2 * starts[t] + patch))) {
      ++t;
    }
    if (i < starts[t] || i >= starts[t] + patch) {
      throw Error(ErrorCode::kInvalidArgument,
                  "tiles of size " + std::to_string(patch) + " do not cover length " + std::to_string(length));
    }
    owner[static_cast<size_t>(i)] = static_cast<int>(t);
  }
  return owner;
}

void stitch_nearest_centre(const float* tiles, size_t tile_stride, int patch, const std::vector<int>& ys,
                           const std::vector<int>& xs, int height, int width, float* out) {
  const std::vector<int> row_owner = nearest_centre_owner(ys, patch, height);
  const std::vector<int> col_owner = nearest_centre_owner(xs, patch, width);
  for (int y = 0; y < height; ++y) {
    const int ty = row_owner[static_cast<size_t>(y)];
    const int dy = y - ys[static_cast<size_t>(ty)];
    float* row = out + static_cast<size_t>(y) * width;
    // Copy runs of columns owned by one tile at once.
    for (int x = 0; x < width;) {
      const int tx = col_owner[static_cast<size_t>(x)];
      int end = x + 1;
      while (end < width && col_owner[static_cast<size_t>(end)] == tx) ++end;
      const size_t tile = static_cast<size_t>(ty) * xs.size() + static_cast<size_t>(tx);
      const float* src =
          tiles + tile * tile_stride + static_cast<size_t>(dy) * patch + (x - xs[static_cast<size_t>(tx)]);
      std::copy(src, src + (end - x), row + x);
      x = end;
    }
  }
}

}  // namespace defectkit
