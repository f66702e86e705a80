// defectkit::Inspector — the reference_unet head (cpp/src/heads/): strip in,
// inspection out: reading or converting the strip, tiling and batching (patch
// artifacts), the generic session, stitching, scoring, thresholds and regions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "defectkit/artifact.h"
#include "defectkit/heatmap.h"
#include "defectkit/model.h"

namespace defectkit {

enum class DType { kFloat32, kUInt8, kUInt16 };  // uint16 is divided by 257, as StripReader does
enum class Layout { kCHW, kHWC };                // planar or interleaved channels

// A strip in the caller's memory; the Inspector reads it, never keeps it.
struct StripView {
  const void* data = nullptr;
  size_t size_bytes = 0;  // bytes readable at `data`; less than the shape needs is Error(kInvalidArgument)
  DType dtype = DType::kFloat32;
  Layout layout = Layout::kCHW;
  int channels = 0;  // 3 (target, ref1, ref2) or 4 (+ ROI)
  int height = 0;
  int width = 0;
};

// Settings fixed when an Inspector opens an artifact.
struct InspectorOptions {
  ModelOptions model;  // threads, provider, optimisation level, ONNX Runtime library
  int max_batch = 16;  // patch artifacts: most tiles per run (bounds the run's memory)
  // Check the file's SHA-256 before loading it: against `expected_sha256`
  // when set (64 hex digits), else against the digest export_report.json
  // beside the artifact records. A mismatch is Error(kModel).
  bool verify = false;
  std::string expected_sha256;  // non-empty implies verify
};

// Per-call settings; unset thresholds come from the artifact.
struct InspectOptions {
  std::optional<float> image_threshold;  // score >= this: defective
  std::optional<float> pixel_threshold;  // heatmap >= this: part of a region
  // Zero the heatmap where channel 3 is 0 (needs a 4-channel strip). Always
  // on for artifacts exported with fourth_channel "roi".
  bool roi = false;
};

struct Inspection {
  int height = 0, width = 0;
  std::vector<float> heatmap;    // (H, W) row-major, defect probability in [0, 1]
  float score = 0.0f;            // image score (box mean max, see heatmap.h)
  bool is_defective = false;     // score >= image_threshold
  std::vector<Region> regions;   // connected components of heatmap >= pixel_threshold
  float image_threshold = 0.0f;  // the thresholds that were applied
  float pixel_threshold = 0.0f;
};

class Inspector {
 public:
  // Loads the reference_unet artifact at `path` (format 1 or 2; after
  // checking its SHA-256 if options ask) through an ArtifactSession and
  // validates its metadata against the graph. Throws Error(kFileNotFound,
  // kModel or kBackend) naming the file; an artifact of another family is
  // Error(kModel) ("a <family> artifact; ... ArtifactSession runs any").
  static Inspector open(const std::string& path, const InspectorOptions& options = {});

  Inspector(Inspector&&) noexcept;
  Inspector& operator=(Inspector&&) noexcept;
  ~Inspector();

  const ArtifactInfo& info() const;
  const Model& model() const;

  // Reads the strip at `path` with StripReader and inspects it. Throws what
  // StripReader throws, and Error(kInvalidArgument) for a strip the artifact
  // cannot take (size, channels), naming the file. Thread-safe.
  Inspection inspect(const std::string& path, const InspectOptions& options = {}) const;

  // Inspects a strip in the caller's memory, converting it at most once
  // (a float32 CHW strip at a full-image artifact's size is fed as it is).
  // Throws Error(kInvalidArgument) for a bad view or NaN/Inf values. Thread-safe.
  Inspection inspect(const StripView& strip, const InspectOptions& options = {}) const;

  // As inspect(), reusing `out`'s heatmap buffer: no allocation per frame
  // once it has the strip's size. Thread-safe (for distinct `out`s).
  void inspect_into(const StripView& strip, Inspection& out, const InspectOptions& options = {}) const;

  // Several strips, in order, each as inspect() would. Thread-safe.
  std::vector<Inspection> inspect_batch(const std::vector<std::string>& paths,
                                        const InspectOptions& options = {}) const;
  std::vector<Inspection> inspect_batch(const std::vector<StripView>& strips, const InspectOptions& options = {}) const;

 private:
  struct Impl;
  explicit Inspector(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace defectkit
