// A test guided_classifier artifact: a tiny ONNX graph with format-2 metadata
// per docs/ARTIFACT.md whose outputs are known functions of the image, so the
// image head (ImageClassifier) can be checked exactly:
//   image (1, height, width, channels) uint8, NHWC; a grey channel repeated;
//   mask (1, 1, H, W) = (0.5 R + 0.3 G + 0.2 B) / 255 per pixel;
//   probabilities (1, 3) = [(1 - m) / 2, m, (1 - m) / 2], m = mean(mask);
//   classes ["good", "defect", "unsure"], defect_class 1.
#pragma once

#include <map>
#include <string>

namespace defectkit::testing {

struct ClassifierSpec {
  int channels = -1;             // the image's channel axis: -1 symbolic, or fixed 1 or 3
  int height = -1, width = -1;   // a fixed image size, or -1 (symbolic)
  bool wrong_mask_size = false;  // a broken graph: the mask one column wide, whatever the image
  float defect_threshold = 0.5f;
  float pixel_threshold = 0.6f;
  std::map<std::string, std::string> overrides;          // metadata key (no prefix) -> value
  std::map<std::string, std::string> section_overrides;  // family_section field -> JSON ("null": removed)
};

// The mask the graph computes for one pixel of an 8-bit image (grey: r = g = b).
double classifier_mask_value(int r, int g, int b);

// The metadata ClassifierSpec writes, keys with the `defectkit.` prefix.
std::map<std::string, std::string> classifier_metadata(const ClassifierSpec& spec);

void write_classifier_artifact(const std::string& path, const ClassifierSpec& spec = {});

}  // namespace defectkit::testing
