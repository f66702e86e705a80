// defectkit::ArtifactInfo — what the strip head (Inspector) needs of a
// reference_unet artifact: its family section and tensors, typed and
// validated against docs/ARTIFACT.md. Read from format 2 and format 1 alike,
// through the generic ArtifactMetadata (artifact_metadata.h).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "defectkit/artifact_metadata.h"

namespace defectkit {

class Model;

enum class GraphKind {
  kTiled,      // (N, C, H, W) at image_size in; tiling baked into the graph
  kFullFrame,  // (N, C, H, W) at image_size in; one pass over the padded strip
  kPatch,      // (B, 3, p, p) in; the runtime tiles, stitches and scores
};

enum class FourthChannel {
  kIgnore,  // a fourth channel is passed along and not used
  kRoi,     // the heatmap is zeroed where channel 3 is 0; strips must have 4 channels
};

enum class OutputFormat {
  kRaw,      // heatmap (N, 1, H, W)
  kSeed3ch,  // heatmap (N, 3, H, W): the map in channel 0, zeros in 1-2
};

struct InputSpec {
  std::string name;                    // graph input, "strip" or "patch"
  std::string layout = "NCHW";         // the only layout the strip head feeds
  std::string dtype = "float32";       // the only dtype the strip head feeds
  float scale = 255.0f;                // inputs are on the 0..scale range
  std::vector<std::string> channels;   // model channels, in order: target, ref1, ref2
  std::vector<int> accepted_channels;  // strip channel counts the graph accepts: a subset of {3, 4}
  FourthChannel fourth_channel = FourthChannel::kIgnore;
};

struct TilingSpec {
  int patch = 0;                 // tile side, pixels (patch graphs: the graph's p)
  int min_overlap = 0;           // least overlap of neighbouring tiles, pixels
  std::vector<int> positions_y;  // tile starts for image_size (informational at other sizes)
  std::vector<int> positions_x;
  std::string stitch = "nearest_centre";
  std::string mode;  // "baked", "none" or "runtime"
};

struct ScoreSpec {
  std::string reduction = "box_mean_max";  // max of the heatmap after a box x box mean filter
  int box = 3;                             // odd side of the mean filter
  std::string border = "reflect";          // OpenCV BORDER_REFLECT: fedcba|abcdefgh|hgfedcb
};

struct OutputSpec {
  OutputFormat format = OutputFormat::kRaw;  // family section `output_format`
  std::string heatmap = "heatmap";           // graph output holding the heatmap
  std::string score;                         // graph output holding the score; empty: the runtime computes it
};

struct Thresholds {
  float image = 0.5f;  // score >= image: the strip is defective
  float pixel = 0.5f;  // heatmap >= pixel: the pixel belongs to a region
};

struct ArtifactInfo {
  int format_version = 0;  // as written in the file: 1 or 2
  std::string family;      // "reference_unet"
  GraphKind graph = GraphKind::kPatch;
  InputSpec input;
  int image_height = 0;  // family section image_size
  int image_width = 0;
  TilingSpec tiling;  // required for patch graphs; else as written (may be empty)
  ScoreSpec score;
  OutputSpec outputs;
  Thresholds thresholds;
  std::string precision = "fp32";      // "fp32" or "int8"
  std::string provenance_json = "{}";  // defectkit.provenance, verbatim JSON text
  ArtifactMetadata metadata;           // the generic metadata this was read from
};

// Returns "tiled", "full_frame" or "patch".
const char* graph_kind_name(GraphKind kind) noexcept;

// The strip head's view of generic metadata: refuses another family
// ("<path>: a weld_fusion artifact; defectkit::Inspector runs reference_unet
// artifacts, ArtifactSession runs any"), a family section or input spec this
// runtime cannot feed, or an inconsistent tiling; when the tensor shapes are
// known (format 2, or after validate_against_graph) also tensors whose ranks,
// channels or sizes disagree with the family section. Error(kModel) whose
// message starts with `path`. Thread-safe.
ArtifactInfo artifact_info_from(const ArtifactMetadata& metadata, const std::string& path);

// artifact_info_from(parse_artifact_metadata(metadata, path), path): the
// `defectkit.` keys of ONNX metadata_props, format 1 or 2. Thread-safe.
ArtifactInfo parse_artifact_info(const std::map<std::string, std::string>& metadata, const std::string& path);

// artifact_info_from(read_artifact_metadata(model), model.path()): the
// metadata checked against the graph, then the strip head's checks.
// Throws Error(kModel). Thread-safe.
ArtifactInfo read_artifact_info(const Model& model);

}  // namespace defectkit
