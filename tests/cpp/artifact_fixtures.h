// Test artifacts: tiny ONNX graphs with `defectkit.` metadata per
// docs/ARTIFACT.md whose heatmaps are known functions of the input, so the
// runtime's tiling, stitching and scoring can be checked exactly.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace defectkit::testing {

struct ArtifactSpec {
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
};

// The metadata ArtifactSpec writes, keys with the `defectkit.` prefix.
std::map<std::string, std::string> artifact_metadata(const ArtifactSpec& spec);

// Writes the artifact under the test temp folder; returns its path.
std::string write_artifact(const ArtifactSpec& spec, const std::string& filename);

// A per-process temp folder for test files.
std::string temp_path(const std::string& filename);

}  // namespace defectkit::testing
