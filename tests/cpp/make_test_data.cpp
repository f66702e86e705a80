// defectkit_test_data DIR: writes the artifacts and strips that the C test,
// the tools' tests and the line-controller test run on (a CTest fixture):
//   DIR/patch.onnx  patch artifact, patch 16, overlap 4, thresholds image 0.4, pixel 0.61
//       (heatmap: see artifact_fixtures.h)
//   DIR/tiled.onnx  tiled artifact taking 37 x 29 strips (heatmap = target / 255)
//   DIR/patch_v2.onnx  patch.onnx's graph with format-2 metadata
//   DIR/session.onnx  a format-2 "test_fusion" artifact with two inputs and two
//       outputs (write_session_artifact in artifact_fixtures.h)
//   DIR/strip_0.tif, strip_1.tif  4-channel float32 37 x 29 strips, values
//       channel c < 3: (c * 50 + y * 13 + x * 29 + k * 40) % 256 for strip k;
//       channel 3: 0 where (y / 5 + x / 4) % 3 == 0, else 1 (an ROI)
//   DIR/strips.txt  the two strip paths, one a line
//   DIR/expected_patch.txt  what patch.onnx must give on each strip, computed
//       here from the formulas above without the runtime: a line per strip,
//       "NAME SCORE_MICRO IS_DEFECTIVE N_REGIONS" (score in units of 1e-6, rounded)
//   DIR/classifier.onnx  a guided_classifier artifact (classifier_fixtures.h),
//       thresholds defect 0.31, pixel 0.61
//   DIR/image_0.png  RGB 8-bit 20 x 30, values image_value(0, c, y, x) below
//   DIR/image_1.jpg  grey JPEG 24 x 16 (quality 90) of image_value(1, 0, y, x)
//   DIR/image_2.tif  RGB uint16 18 x 22 TIFF of image_value(2, c, y, x) * 257
//       image_value(k, c, y, x): 200 + 20 c inside the blob (rows 3..7, columns
//       4..11, shifted by 2 k), else (c * 30 + y * 3 + x * 2 + k * 40) % 120
//   DIR/images.txt  the three image paths, one a line
//   DIR/expected_classifier.txt  what classifier.onnx must give on each image,
//       computed here from the decoded pixels without the runtime: a line per
//       image, "NAME DEFECT_MICRO IS_DEFECTIVE TOP_CLASS N_REGIONS"
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "artifact_fixtures.h"
#include "classifier_fixtures.h"
#include "defectkit/tiling.h"
#include "image_fixtures.h"
#include "onnx_builder.h"
#include "tiff_fixtures.h"

namespace dt = defectkit::testing;

namespace {

double strip_value(int k, int c, int y, int x) {
  if (c == 3) return (y / 5 + x / 4) % 3 == 0 ? 0.0 : 1.0;
  return (c * 50 + y * 13 + x * 29 + k * 40) % 256;
}

struct Expected {
  double score = 0.0;
  bool defective = false;
  int regions = 0;
  double margin = 0.0;  // closest any pixel or the score comes to its threshold
};

// What the runtime must report for strip k through `spec`'s tile-dependent patch
// graph (fourth channel ignored), brute force and in double: each pixel is
// 0.5 target / 255 + 0.5 mean(ref1 over its tile) / 255, the tile being the one
// whose centre is nearest along each axis (ties: the earlier); the score is the
// largest 3 x 3 box mean, the border reflected with the edge pixel repeated;
// regions are 8-connected groups of pixels >= the pixel threshold.
Expected expect_patch_graph(const dt::ArtifactSpec& spec, int k) {
  const int h = spec.height, w = spec.width, p = spec.patch;
  const auto ys = defectkit::positions_along(h, p, 1, spec.min_overlap);
  const auto xs = defectkit::positions_along(w, p, 1, spec.min_overlap);
  auto owner = [p](const std::vector<int>& starts, int i) {
    int best = starts[0];
    for (int s : starts)
      if (std::abs(2 * i - (2 * s + p)) < std::abs(2 * i - (2 * best + p))) best = s;
    return best;
  };
  std::vector<double> heat(static_cast<size_t>(h) * w);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const int ty = owner(ys, y), tx = owner(xs, x);
      double sum = 0.0;
      for (int dy = 0; dy < p; ++dy)
        for (int dx = 0; dx < p; ++dx) sum += strip_value(k, 1, ty + dy, tx + dx);
      heat[static_cast<size_t>(y) * w + x] = 0.5 * strip_value(k, 0, y, x) / 255.0 + 0.5 * sum / (p * p) / 255.0;
    }
  }
  Expected e;
  auto reflect = [](int i, int n) { return i < 0 ? -i - 1 : i >= n ? 2 * n - 1 - i : i; };
  e.score = -1.0;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      double sum = 0.0;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) sum += heat[static_cast<size_t>(reflect(y + dy, h)) * w + reflect(x + dx, w)];
      e.score = std::max(e.score, sum / 9.0);
    }
  }
  e.defective = e.score >= spec.image_threshold;
  e.margin = std::fabs(e.score - spec.image_threshold);
  std::vector<int> label(heat.size(), -1);
  for (size_t start = 0; start < heat.size(); ++start) {
    e.margin = std::min(e.margin, std::fabs(heat[start] - spec.pixel_threshold));
    if (label[start] >= 0 || heat[start] < spec.pixel_threshold) continue;
    std::vector<size_t> todo{start};
    label[start] = e.regions;
    while (!todo.empty()) {
      const size_t q = todo.back();
      todo.pop_back();
      const int y = static_cast<int>(q / w), x = static_cast<int>(q % w);
      for (int ny = y - 1; ny <= y + 1; ++ny) {
        for (int nx = x - 1; nx <= x + 1; ++nx) {
          if (ny < 0 || ny >= h || nx < 0 || nx >= w) continue;
          const size_t n = static_cast<size_t>(ny) * w + nx;
          if (label[n] < 0 && heat[n] >= spec.pixel_threshold) {
            label[n] = e.regions;
            todo.push_back(n);
          }
        }
      }
    }
    ++e.regions;
  }
  return e;
}

int image_value(int k, int c, int y, int x) {
  const bool blob = y >= 3 + 2 * k && y < 8 + 2 * k && x >= 4 + 2 * k && x < 12 + 2 * k;
  return blob ? 200 + 20 * c : (c * 30 + y * 3 + x * 2 + k * 40) % 120;
}

// What classifier.onnx must report for an 8-bit image (`pixel(c, y, x)`, grey
// when channels is 1), in double, and how close any value comes to a threshold.
struct ExpectedClass {
  double defect = 0.0;
  int top_class = 0;
  int regions = 0;
  double margin = 1.0;
};

ExpectedClass expect_classifier(int height, int width, int channels, const std::function<int(int, int, int)>& pixel,
                                double defect_threshold, double pixel_threshold) {
  std::vector<double> mask(static_cast<size_t>(height) * width);
  double sum = 0.0;
  ExpectedClass e;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const int r = pixel(0, y, x), g = pixel(channels == 1 ? 0 : 1, y, x), b = pixel(channels == 1 ? 0 : 2, y, x);
      mask[static_cast<size_t>(y) * width + x] = dt::classifier_mask_value(r, g, b);
      sum += mask[static_cast<size_t>(y) * width + x];
      e.margin = std::min(e.margin, std::fabs(mask[static_cast<size_t>(y) * width + x] - pixel_threshold));
    }
  }
  e.defect = sum / mask.size();
  e.margin = std::min(e.margin, std::fabs(e.defect - defect_threshold));
  e.top_class = (1 - e.defect) / 2 >= e.defect ? 0 : 1;  // [(1 - m) / 2, m, (1 - m) / 2]: first on a tie
  // 8-connected components of mask >= pixel_threshold.
  std::vector<int> label(mask.size(), -1);
  for (size_t start = 0; start < mask.size(); ++start) {
    if (label[start] >= 0 || mask[start] < pixel_threshold) continue;
    std::vector<size_t> todo{start};
    label[start] = e.regions;
    while (!todo.empty()) {
      const size_t q = todo.back();
      todo.pop_back();
      const int y = static_cast<int>(q / width), x = static_cast<int>(q % width);
      for (int ny = std::max(0, y - 1); ny <= std::min(height - 1, y + 1); ++ny) {
        for (int nx = std::max(0, x - 1); nx <= std::min(width - 1, x + 1); ++nx) {
          const size_t n = static_cast<size_t>(ny) * width + nx;
          if (label[n] < 0 && mask[n] >= pixel_threshold) {
            label[n] = e.regions;
            todo.push_back(n);
          }
        }
      }
    }
    ++e.regions;
  }
  return e;
}

// classifier.onnx, the three images, images.txt and expected_classifier.txt (see the top).
bool write_classifier_data(const std::string& dir) {
  dt::ClassifierSpec spec;
  spec.defect_threshold = 0.31f;
  spec.pixel_threshold = 0.61f;
  dt::write_classifier_artifact(dir + "/classifier.onnx", spec);
  dt::PngSpec png;
  png.height = 20, png.width = 30;
  dt::write_file(dir + "/image_0.png",
                 dt::encode_png(png, [](int c, int y, int x) { return image_value(0, c, y, x); }));
  dt::JpegSpec jpeg;
  jpeg.kind = dt::JpegSpec::kGrey;
  jpeg.height = 24, jpeg.width = 16, jpeg.quality = 90;
  const dt::Bytes jpeg_bytes = dt::encode_jpeg(jpeg, [](int c, int y, int x) { return image_value(1, c, y, x); });
  dt::write_file(dir + "/image_1.jpg", jpeg_bytes);
  dt::ImageTiffSpec tiff;
  tiff.bits = 16;
  tiff.height = 18, tiff.width = 22;
  dt::write_file(dir + "/image_2.tif",
                 dt::encode_tiff(tiff, [](int c, int y, int x) { return image_value(2, c, y, x) * 257; }));

  const dt::Decoded decoded = dt::libjpeg_decode(jpeg_bytes);
  const std::function<int(int, int, int)> pixels[3] = {
      [](int c, int y, int x) { return image_value(0, c, y, x); },
      [&decoded](int, int y, int x) {
        return static_cast<int>(decoded.data[static_cast<size_t>(y) * decoded.width + x]);
      },
      [](int c, int y, int x) { return image_value(2, c, y, x); }};
  const int sizes[3][3] = {{20, 30, 3}, {24, 16, 1}, {18, 22, 3}};
  const char* names[3] = {"image_0.png", "image_1.jpg", "image_2.tif"};
  std::ofstream list(dir + "/images.txt");
  std::ofstream expected(dir + "/expected_classifier.txt");
  for (int k = 0; k < 3; ++k) {
    const ExpectedClass e = expect_classifier(sizes[k][0], sizes[k][1], sizes[k][2], pixels[k], 0.31, 0.61);
    if (e.margin < 1e-5) {
      std::fprintf(stderr, "error: %s: a value lies within %g of a threshold; change the test images\n", names[k],
                   e.margin);
      return false;
    }
    list << dir + "/" + names[k] << "\n";
    expected << names[k] << " " << std::llround(e.defect * 1e6) << " " << (e.defect >= 0.31 ? 1 : 0) << " "
             << e.top_class << " " << e.regions << "\n";
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  try {
    std::filesystem::create_directories(dir);
    dt::ArtifactSpec patch;
    patch.height = 37;
    patch.width = 29;
    // The heatmap's values are multiples of 1 / (2 * 255 * 256) and 0.6 is one of them, which
    // some pixels hit; 0.61 lies between two, so no pixel sits on it (see the margin below).
    patch.pixel_threshold = 0.61f;
    dt::ArtifactSpec tiled = patch;
    tiled.graph = "tiled";
    dt::ArtifactSpec patch_v2 = patch;
    patch_v2.format_version = 2;
    std::filesystem::path scratch;
    for (const auto& [spec, name] :
         {std::pair{patch, "patch.onnx"}, std::pair{tiled, "tiled.onnx"}, std::pair{patch_v2, "patch_v2.onnx"}}) {
      // write_artifact writes under its temp folder; copy it into DIR.
      const std::string written = dt::write_artifact(spec, name);
      scratch = std::filesystem::path(written).parent_path();
      std::ifstream in(written, std::ios::binary);
      std::ofstream(dir + "/" + name, std::ios::binary) << in.rdbuf();
    }
    std::error_code ignored;
    std::filesystem::remove_all(scratch, ignored);  // the temp folder, not left in /tmp
    dt::write_session_artifact(dir + "/session.onnx");
    std::ofstream list(dir + "/strips.txt");
    std::ofstream expected(dir + "/expected_patch.txt");
    for (int k = 0; k < 2; ++k) {
      dt::TiffSpec tiff;
      tiff.type = dt::SampleType::kFloat32;
      tiff.channels = 4;
      tiff.height = 37;
      tiff.width = 29;
      const std::string name = "strip_" + std::to_string(k) + ".tif";
      dt::write_tiff(dir + "/" + name, tiff, [k](int c, int y, int x) { return strip_value(k, c, y, x); });
      list << dir + "/" + name << "\n";
      const Expected e = expect_patch_graph(patch, k);
      // The runtime computes in float32 (errors under 1e-6 here): a value this close to a
      // threshold could fall either side, and the tests would then check rounding, not the runtime.
      if (e.margin < 1e-6) {
        std::fprintf(stderr, "error: %s: a value lies within %g of a threshold; change the test strips\n", name.c_str(),
                     e.margin);
        return 1;
      }
      expected << name << " " << std::llround(e.score * 1e6) << " " << (e.defective ? 1 : 0) << " " << e.regions
               << "\n";
    }
    if (!write_classifier_data(dir)) return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
