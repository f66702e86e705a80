// Test artifacts: tiny ONNX graphs with `defectkit.` metadata per
// docs/ARTIFACT.md whose heatmaps are known functions of the input, so the
// runtime's tiling, stitching and scoring can be checked exactly.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace defectkit::testing {

struct ArtifactSpec {
  int format_version = 1;       // 1: the keys of format 1; 2: docs/ARTIFACT.md's typed schema
  std::string graph = "patch";  // "patch", "tiled" or "full_frame"
  int patch = 16;               // patch graphs: tile side
  int min_overlap = 4;
  int height = 40, width = 24;  // image_size
  // Patch graphs: heatmap = 0.5 target / 255 + 0.5 mean(ref1 over the tile) / 255,
  // so each pixel shows which tile it came from; false: target / 255 only.
  bool tile_dependent = true;
  int fixed_batch = -1;     // patch graphs: a fixed N instead of a dynamic one
  bool roi = false;         // fourth_channel "roi"
  bool seed3ch = false;     // output format seed3ch
  bool graph_score = true;  // full-image graphs: a `score` output (mean of the heatmap)
  float image_threshold = 0.4f;
  float pixel_threshold = 0.6f;
  std::map<std::string, std::string> overrides;  // metadata key (no prefix) -> value, replacing the default
  std::vector<std::string> removed;              // metadata keys (no prefix) left out
  // Format 2: family_section fields -> JSON text replacing them ("null": removed).
  std::map<std::string, std::string> section_overrides;
};

// The metadata ArtifactSpec writes, keys with the `defectkit.` prefix.
std::map<std::string, std::string> artifact_metadata(const ArtifactSpec& spec);

// Writes the artifact under the test temp folder; returns its path.
std::string write_artifact(const ArtifactSpec& spec, const std::string& filename);

// A format-2 artifact of family "test_fusion" with two inputs and two outputs:
//   image  uint8 (batch, height, width, 3) NHWC, series float32 (batch, 8) NT;
//   score  float32 (batch,) = mean(image) / 255 + max(series over T),
//   peak   int64 (batch,) = argmax(series over T).
// Thresholds {"score": 0.5}; family section {"classes": ["good", "bad"], "bank_size": 4}.
// `overrides` replaces metadata keys (no prefix). Writes it to `path`.
void write_session_artifact(const std::string& path, const std::map<std::string, std::string>& overrides = {});

// The metadata write_session_artifact writes, keys with the `defectkit.` prefix.
std::map<std::string, std::string> session_artifact_metadata(const std::map<std::string, std::string>& overrides = {});

// A per-process temp folder for test files.
std::string temp_path(const std::string& filename);

}  // namespace defectkit::testing
