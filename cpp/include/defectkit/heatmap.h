// Heatmap post-processing shared by every graph kind: the image score, the
// connected defect regions and the ROI mask.
#pragma once

#include <vector>

namespace defectkit {

// One connected component of heatmap >= pixel threshold (8-connectivity:
// pixels touching by an edge or a corner belong together).
struct Region {
  int x = 0, y = 0;           // top-left corner of the bounding box, pixels
  int width = 0, height = 0;  // bounding box size, pixels
  int area = 0;               // pixels in the component
  float peak = 0.0f;          // highest heatmap value inside it
  float centroid_x = 0.0f;    // mean column of its pixels
  float centroid_y = 0.0f;    // mean row of its pixels
};

// The image score: max over the (H, W) map after a box x box mean filter
// whose border is mirrored as OpenCV's BORDER_REFLECT (fedcba|abcdefgh|hgfedcb).
// `box` must be odd and >= 1 (1: the plain maximum); Error(kInvalidArgument)
// otherwise. Thread-safe.
float box_mean_max(const float* heatmap, int height, int width, int box);

// Connected components (8-connectivity) of heatmap >= threshold, ordered by
// their first pixel in row-major order. Thread-safe.
std::vector<Region> find_regions(const float* heatmap, int height, int width, float threshold);

// Zeroes heatmap pixels whose mask value is 0 (the ROI channel of a strip).
void apply_roi(float* heatmap, const float* mask, int height, int width);

}  // namespace defectkit
