// defectkit::ArtifactMetadata — the typed `defectkit.` metadata every
// artifact carries, whatever its family (docs/ARTIFACT.md, format version 2):
// a common header, named tensor specs, thresholds and the family's own
// section as JSON text for its head. Format 1 files are read as format 2.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "defectkit/tensor.h"  // ElementType, element_type_name

namespace defectkit {

class Model;
struct TensorInfo;

// The newest artifact format this runtime reads; newer files are refused.
constexpr int kArtifactFormatVersion = 2;

// One axis of a tensor spec: a fixed size, or a symbol ("batch") the caller chooses.
struct Dim {
  int64_t size = -1;   // >= 0: a fixed size; -1: symbolic
  std::string symbol;  // the symbolic axis's name; "" when fixed (or unnamed in the graph)

  static Dim fixed(int64_t n) { return {n, ""}; }
  static Dim symbolic(std::string name) { return {-1, std::move(name)}; }
  bool is_fixed() const { return size >= 0; }
  // "160", "batch", or "?" for an unnamed symbolic axis.
  std::string str() const;
  bool operator==(const Dim& other) const { return size == other.size && symbol == other.symbol; }
  bool operator!=(const Dim& other) const { return !(*this == other); }
};

// One graph input or output as the artifact describes it.
struct TensorSpec {
  std::string name;                           // the graph's tensor name
  ElementType dtype = ElementType::kFloat32;  // the graph's element type
  std::vector<Dim> shape;                     // one per axis, as in the graph
  std::string layout;                         // axis letters, one per axis ("NCHW", "NHWC", "N"); "" if not given
  std::optional<float> scale;                 // inputs: top of the expected value range (255: 0..255); none: n/a
  std::string meaning;                        // one line for people
};

struct ArtifactMetadata {
  int format_version = 0;                   // as written in the file: 1 or 2
  std::string family;                       // "reference_unet", "guided_classifier", "weld_fusion", ...
  std::string precision;                    // "fp32" or "int8"
  int int8_weight_bits = 0;                 // int8: 7 (weights within +-64) or 8 (+-127, older files); fp32: 0
  std::string provenance_json = "{}";       // defectkit.provenance, verbatim JSON text
  std::vector<TensorSpec> inputs;           // one per graph input, in the graph's order (see graph_checked)
  std::vector<TensorSpec> outputs;          // one per graph output, in the graph's order
  std::map<std::string, float> thresholds;  // operating points the runtime applies, by name
  std::string family_json = "{}";           // defectkit.family_section, verbatim JSON (format 1: built from its keys)
  // True once validate_against_graph() has run. Format 1 files name only the
  // tensors their head uses, without shapes; their specs are complete only then.
  bool graph_checked = false;

  // The spec named `name`, or nullptr.
  const TensorSpec* find_input(const std::string& name) const;
  const TensorSpec* find_output(const std::string& name) const;
};

// "(batch, 3, 160, 96)". Thread-safe.
std::string shape_string(const std::vector<Dim>& shape);

// Parses the `defectkit.` keys of an artifact's metadata_props. Format 2 is
// read as docs/ARTIFACT.md says, format 1 converted (tensor specs for the
// tensors it names, without shapes: see validate_against_graph). Refuses a
// missing, non-integer or newer format_version, a missing key, invalid JSON,
// a value of the wrong JSON type or range, an unknown dtype or precision,
// each with Error(kModel) whose message starts with `path` and names the key.
// Any family name is accepted. Thread-safe.
ArtifactMetadata parse_artifact_metadata(const std::map<std::string, std::string>& props, const std::string& path);

// Checks `metadata` against the ONNX graph's inputs and outputs. Format 2:
// the specs' count, names and order, ranks, fixed sizes and dtypes must be
// the graph's (an axis fixed in one must be fixed to the same size in the
// other; symbol names are not compared). Format 1: every tensor the metadata
// names must exist in the graph with its dtype; the specs are then rebuilt
// from the graph, one per tensor in its order, keeping what the metadata
// said of each. Sets graph_checked. Throws Error(kModel) starting with `path`.
void validate_against_graph(ArtifactMetadata& metadata, const std::vector<TensorInfo>& graph_inputs,
                            const std::vector<TensorInfo>& graph_outputs, const std::string& path);

// parse_artifact_metadata(model.metadata(), model.path()), then
// validate_against_graph() with the model's graph, then refuses an INT8
// artifact this CPU would compute wrongly (int8_weights.h). Throws
// Error(kModel). Thread-safe.
ArtifactMetadata read_artifact_metadata(const Model& model);

}  // namespace defectkit
