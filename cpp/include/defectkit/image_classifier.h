// defectkit::ImageClassifier — the guided_classifier head: an image in (a
// PNG/JPEG/TIFF file, encoded bytes, or pixels in the caller's memory), class
// probabilities, the defect decision, the defect mask and its regions out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "defectkit/classifier_artifact.h"
#include "defectkit/heatmap.h"
#include "defectkit/image_reader.h"
#include "defectkit/model.h"

namespace defectkit {

enum class PixelType { kUInt8, kUInt16 };  // uint16 becomes round(value / 257), as ImageReader does

// An image in the caller's memory, interleaved (H, W, C); the classifier
// reads it, never keeps it.
struct ImageView {
  const void* data = nullptr;
  size_t size_bytes = 0;  // bytes readable at `data`; fewer than the shape needs is Error(kInvalidArgument)
  PixelType pixel_type = PixelType::kUInt8;
  int height = 0;
  int width = 0;
  int channels = 0;       // 1 (grey), 3 (RGB) or 4 (RGBA: alpha is dropped)
  size_t row_stride = 0;  // bytes from one row's start to the next; 0: packed (width * channels * sample size)
};

// A view of a decoded image (valid while `image` lives and is not resized).
ImageView view_of(const Image& image);

// Settings fixed when a classifier opens an artifact.
struct ImageClassifierOptions {
  ModelOptions model;  // threads, provider, optimisation level, ONNX Runtime library
  // Check the file's SHA-256 before loading it: against `expected_sha256`
  // when set (64 hex digits), else against the digest export_report.json
  // beside the artifact records. A mismatch is Error(kModel).
  bool verify = false;
  std::string expected_sha256;  // non-empty implies verify
  ImageReaderOptions reader;    // limits for classify(path) and classify_encoded()
};

// Per-call settings; unset thresholds come from the artifact.
struct ClassifyOptions {
  std::optional<float> defect_threshold;  // defect-class probability >= this: defective
  std::optional<float> pixel_threshold;   // mask >= this: part of a region
};

struct Classification {
  std::vector<float> probabilities;  // one per class, in the artifact's class order
  std::vector<std::string> classes;  // the class names, same order
  int top_class = 0;                 // index of the most probable class (the first on a tie)
  int defect_class = 0;              // index of the class compared with the defect threshold
  float defect_probability = 0.0f;   // probabilities[defect_class]
  bool is_defective = false;         // defect_probability >= defect_threshold
  int height = 0, width = 0;         // the input image's size
  std::vector<float> mask;           // (H, W) row-major, the defect probability per pixel
  std::vector<Region> regions;       // connected components of mask >= pixel_threshold
  float defect_threshold = 0.0f;     // the thresholds that were applied
  float pixel_threshold = 0.0f;
};

class ImageClassifier {
 public:
  // Loads the guided_classifier artifact at `path` (after checking its
  // SHA-256 if options ask) through an ArtifactSession and checks its
  // metadata (classifier_artifact.h). Throws Error(kFileNotFound, kModel or
  // kBackend) naming the file; another family is Error(kModel).
  static ImageClassifier open(const std::string& path, const ImageClassifierOptions& options = {});

  ImageClassifier(ImageClassifier&&) noexcept;
  ImageClassifier& operator=(ImageClassifier&&) noexcept;
  ~ImageClassifier();

  const ClassifierInfo& info() const;
  const Model& model() const;

  // Reads the image at `path` with ImageReader and classifies it. Throws
  // what ImageReader throws, and Error(kInvalidArgument) for an image the
  // artifact cannot take, naming the file. Thread-safe.
  Classification classify(const std::string& path, const ClassifyOptions& options = {}) const;

  // Classifies pixels in the caller's memory, converted at most once into
  // what the graph takes (uint8, 1 or 3 channels, packed); a packed uint8
  // image of 1 or 3 channels the graph takes is fed in place, not copied.
  // Throws Error(kInvalidArgument) for a bad view. Thread-safe.
  Classification classify(const ImageView& image, const ClassifyOptions& options = {}) const;

  // Decodes an encoded image (PNG, JPEG or TIFF bytes: a frame grabber's
  // JPEG) and classifies it; `name` starts error messages. Thread-safe.
  Classification classify_encoded(const void* data, size_t size, const ClassifyOptions& options = {},
                                  const std::string& name = "image buffer") const;

  // How many classify() calls so far had to convert their pixels (the others
  // were fed in place). Thread-safe.
  uint64_t conversions() const;

 private:
  struct Impl;
  explicit ImageClassifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace defectkit
