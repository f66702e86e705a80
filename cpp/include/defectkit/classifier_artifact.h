// defectkit::ClassifierInfo — what the image head (ImageClassifier) needs of
// a guided_classifier artifact: its family section, thresholds and tensors,
// typed and validated against docs/ARTIFACT.md ("The guided_classifier
// family section"), read through the generic ArtifactMetadata.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "defectkit/artifact_metadata.h"

namespace defectkit {

struct ClassifierInfo {
  int format_version = 0;            // as written in the file (2)
  std::string family;                // "guided_classifier"
  std::vector<std::string> classes;  // class names, in the order of the `probabilities` output
  int defect_class = 0;              // index into classes compared with the `defect` threshold
  int input_height = 0;              // family section input_size: the size the network runs at
  int input_width = 0;               // (informational; the graph resizes); 0 when not given
  // The channel counts the graph's `image` input takes: 1 or 3 when its
  // channel axis is fixed, 0 when symbolic (then both: the graph repeats grey).
  int channels = 0;
  std::vector<float> mean, std;   // the graph's normalisation (informational); empty when not given
  std::string backbone;           // "dinov2", "dinov3", ... ("" when not given)
  std::string pooling;            // "guided" or "mean" ("" when not given)
  float defect_threshold = 0.5f;  // defect-class probability >= this: the image is defective
  float pixel_threshold = 0.5f;   // mask >= this: the pixel belongs to a region
  std::string precision = "fp32";
  std::string provenance_json = "{}";
  ArtifactMetadata metadata;  // the generic metadata this was read from
};

// The image head's view of generic metadata: refuses another family ("<path>:
// a reference_unet artifact; defectkit::ImageClassifier runs guided_classifier
// artifacts, ArtifactSession runs any"), a family section missing `classes`
// or `defect_class` or holding a wrong type, missing `defect` or `pixel`
// thresholds, and tensors the head cannot feed or read: the one input must be
// `image` uint8 (N, H, W, C) NHWC with N 1 (or symbolic) and C 1, 3 or
// symbolic; outputs `probabilities` float32 (N, K) with K the class count
// (or symbolic) and `mask` float32 (N, 1, H, W). Error(kModel) whose message
// starts with `path`. Thread-safe.
ClassifierInfo classifier_info_from(const ArtifactMetadata& metadata, const std::string& path);

// classifier_info_from(parse_artifact_metadata(metadata, path), path). Thread-safe.
ClassifierInfo parse_classifier_info(const std::map<std::string, std::string>& metadata, const std::string& path);

}  // namespace defectkit
