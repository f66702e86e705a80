#include "defectkit/heatmap.h"

#include <algorithm>
#include <limits>
#include <string>

#include "defectkit/error.h"

namespace defectkit {
namespace {

// OpenCV's BORDER_REFLECT index (the edge pixel repeated: fedcba|abcdefgh|hgfedcb),
// folded as often as needed for a box wider than the map.
int reflect(int i, int n) {
  if (n == 1) return 0;
  const int period = 2 * n;
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - 1 - i;
}

}  // namespace

float box_mean_max(const float* heatmap, int height, int width, int box) {
  if (box < 1 || box % 2 == 0) {
    throw Error(ErrorCode::kInvalidArgument, "box must be a positive odd number, got " + std::to_string(box));
  }
  if (height < 1 || width < 1) throw Error(ErrorCode::kInvalidArgument, "box_mean_max needs a non-empty map");
  const int r = box / 2;
  // Separable: column sums over box rows (double, so long maps sum exactly
  // enough for a float result), then a sliding sum along each row.
  std::vector<double> column_sums(static_cast<size_t>(width) + 2 * r);
  float best = -std::numeric_limits<float>::infinity();
  for (int y = 0; y < height; ++y) {
    for (int xp = 0; xp < width + 2 * r; ++xp) {
      const int x = reflect(xp - r, width);
      double sum = 0.0;
      for (int dy = -r; dy <= r; ++dy) sum += heatmap[static_cast<size_t>(reflect(y + dy, height)) * width + x];
      column_sums[static_cast<size_t>(xp)] = sum;
    }
    double window = 0.0;
    for (int k = 0; k < box; ++k) window += column_sums[static_cast<size_t>(k)];
    for (int x = 0; x < width; ++x) {
      if (x > 0) window += column_sums[static_cast<size_t>(x + box - 1)] - column_sums[static_cast<size_t>(x - 1)];
      best = std::max(best, static_cast<float>(window / (static_cast<double>(box) * box)));
    }
  }
  return best;
}

std::vector<Region> find_regions(const float* heatmap, int height, int width, float threshold) {
  const size_t n = static_cast<size_t>(height) * width;
  std::vector<int> label(n, -1);
  std::vector<Region> regions;
  std::vector<size_t> stack;
  for (size_t start = 0; start < n; ++start) {
    if (label[start] >= 0 || !(heatmap[start] >= threshold)) continue;
    const int id = static_cast<int>(regions.size());
    int x0 = width, y0 = height, x1 = -1, y1 = -1;
    double sum_x = 0.0, sum_y = 0.0;
    Region region;
    region.peak = heatmap[start];
    label[start] = id;
    stack.assign(1, start);
    while (!stack.empty()) {  // depth-first flood fill; an explicit stack, no recursion limit
      const size_t p = stack.back();
      stack.pop_back();
      const int y = static_cast<int>(p / width), x = static_cast<int>(p % width);
      ++region.area;
      sum_x += x;
      sum_y += y;
      region.peak = std::max(region.peak, heatmap[p]);
      x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
      for (int ny = std::max(0, y - 1); ny <= std::min(height - 1, y + 1); ++ny) {
        for (int nx = std::max(0, x - 1); nx <= std::min(width - 1, x + 1); ++nx) {
          const size_t q = static_cast<size_t>(ny) * width + nx;
          if (label[q] < 0 && heatmap[q] >= threshold) {
            label[q] = id;
            stack.push_back(q);
          }
        }
      }
    }
    region.x = x0, region.y = y0, region.width = x1 - x0 + 1, region.height = y1 - y0 + 1;
    region.centroid_x = static_cast<float>(sum_x / region.area);
    region.centroid_y = static_cast<float>(sum_y / region.area);
    regions.push_back(region);
  }
  return regions;
}

void apply_roi(float* heatmap, const float* mask, int height, int width) {
  const size_t n = static_cast<size_t>(height) * width;
  for (size_t i = 0; i < n; ++i) {
    if (mask[i] == 0.0f) heatmap[i] = 0.0f;
  }
}

}  // namespace defectkit
