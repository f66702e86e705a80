// Tile positions, nearest-centre ownership, the box-mean score and regions,
// each against values computed by hand or by a brute-force reference here.
#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "defectkit/error.h"
#include "defectkit/heatmap.h"
#include "defectkit/tiling.h"

using defectkit::Error;

TEST(PositionsAlong, MatchesThePythonRule) {
  // The seed strip: 976 px, patch 128, overlap 16 -> 9 tiles every 106 px.
  EXPECT_EQ(defectkit::positions_along(976, 128, 1, 16), (std::vector<int>{0, 106, 212, 318, 424, 530, 636, 742, 848}));
  EXPECT_EQ(defectkit::positions_along(176, 128, 1, 16), (std::vector<int>{0, 48}));
  EXPECT_EQ(defectkit::positions_along(128, 128, 1, 16), (std::vector<int>{0}));
  EXPECT_EQ(defectkit::positions_along(129, 128, 5, 16), (std::vector<int>{0, 1}));  // capped at length - patch + 1
  EXPECT_EQ(defectkit::positions_along(37, 16, 1, 4), (std::vector<int>{0, 11, 21}));
  EXPECT_THROW(defectkit::positions_along(15, 16, 1, 4), Error);
  EXPECT_THROW(defectkit::positions_along(40, 16, 1, 16), Error);
  EXPECT_THROW(defectkit::positions_along(40, 0, 1, 0), Error);
}

TEST(NearestCentre, OwnersMinimiseDoubledDistanceWithTiesToTheEarlierTile) {
  for (int length : {16, 17, 29, 37, 40, 101}) {
    const auto starts = defectkit::positions_along(length, 16, 1, 4);
    const auto owner = defectkit::nearest_centre_owner(starts, 16, length);
    for (int i = 0; i < length; ++i) {
      int best = 0;  // brute force over every tile
      for (size_t t = 1; t < starts.size(); ++t) {
        if (std::abs(2 * i - (2 * starts[t] + 16)) < std::abs(2 * i - (2 * starts[best] + 16)))
          best = static_cast<int>(t);
      }
      EXPECT_EQ(owner[i], best) << "length " << length << " row " << i;
    }
  }
  // A tie: tiles at 0 and 2 of size 4 have centres 2 and 4; row 3 is 1 from both.
  EXPECT_EQ(defectkit::nearest_centre_owner({0, 2}, 4, 6), (std::vector<int>{0, 0, 0, 0, 1, 1}));
}

TEST(BoxMeanMax, MirrorsTheBorderLikeBorderReflect) {
  // One hot pixel in a corner: with BORDER_REFLECT the 3 x 3 box at (0, 0)
  // sees the pixel 4 times (itself and three mirror images): 4 / 9.
  std::vector<float> map(5 * 6, 0.0f);
  map[0] = 1.0f;
  EXPECT_FLOAT_EQ(defectkit::box_mean_max(map.data(), 5, 6, 3), 4.0f / 9.0f);
  // Inside the map the pixel counts once.
  std::fill(map.begin(), map.end(), 0.0f);
  map[2 * 6 + 3] = 0.9f;
  EXPECT_FLOAT_EQ(defectkit::box_mean_max(map.data(), 5, 6, 3), 0.1f);
  // A row 'abc' = 1 2 4 with box 5 reflects to 'ba|abc|cb'; the best window,
  // at x=2, is a b c c b = 13, and the single row repeats 5 times vertically.
  const std::vector<float> row = {1.0f, 2.0f, 4.0f};
  EXPECT_FLOAT_EQ(defectkit::box_mean_max(row.data(), 1, 3, 5), 13.0f * 5.0f / 25.0f);
  EXPECT_FLOAT_EQ(defectkit::box_mean_max(row.data(), 1, 3, 1), 4.0f);
  EXPECT_THROW(defectkit::box_mean_max(row.data(), 1, 3, 2), Error);
}

TEST(BoxMeanMax, EqualsABruteForceReflectFilter) {
  const int h = 7, w = 5, box = 5;
  std::vector<float> map(h * w);
  for (int i = 0; i < h * w; ++i) map[i] = static_cast<float>((i * 37) % 11) / 10.0f;
  auto reflect = [](int i, int n) { return i < 0 ? -i - 1 : (i >= n ? 2 * n - i - 1 : i); };
  float best = -1.0f;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      double sum = 0.0;
      for (int dy = -2; dy <= 2; ++dy)
        for (int dx = -2; dx <= 2; ++dx) sum += map[reflect(y + dy, h) * w + reflect(x + dx, w)];
      best = std::max(best, static_cast<float>(sum / (box * box)));
    }
  }
  EXPECT_FLOAT_EQ(defectkit::box_mean_max(map.data(), h, w, box), best);
}

TEST(Regions, EightConnectedComponentsWithBoxAreaPeakAndCentroid) {
  // . X . . .
  // . . X . X      the first blob joins across a corner (8-connectivity)
  // . . . . X
  // X . . . .
  const int h = 4, w = 5;
  std::vector<float> map(h * w, 0.1f);
  map[0 * w + 1] = 0.7f;
  map[1 * w + 2] = 0.9f;
  map[1 * w + 4] = 0.5f;
  map[2 * w + 4] = 0.8f;
  map[3 * w + 0] = 0.5f;
  const auto regions = defectkit::find_regions(map.data(), h, w, 0.5f);
  ASSERT_EQ(regions.size(), 3u);
  EXPECT_EQ(regions[0].x, 1);
  EXPECT_EQ(regions[0].y, 0);
  EXPECT_EQ(regions[0].width, 2);
  EXPECT_EQ(regions[0].height, 2);
  EXPECT_EQ(regions[0].area, 2);
  EXPECT_FLOAT_EQ(regions[0].peak, 0.9f);
  EXPECT_FLOAT_EQ(regions[0].centroid_x, 1.5f);
  EXPECT_FLOAT_EQ(regions[0].centroid_y, 0.5f);
  EXPECT_EQ(regions[1].x, 4);
  EXPECT_EQ(regions[1].height, 2);
  EXPECT_EQ(regions[1].area, 2);
  EXPECT_FLOAT_EQ(regions[1].peak, 0.8f);
  EXPECT_FLOAT_EQ(regions[1].centroid_y, 1.5f);
  EXPECT_EQ(regions[2].area, 1);  // threshold is inclusive: 0.5 >= 0.5
  EXPECT_EQ(regions[2].y, 3);
  EXPECT_TRUE(defectkit::find_regions(map.data(), h, w, 0.95f).empty());
}
