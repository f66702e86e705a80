// libFuzzer harness: arbitrary bytes -> artifact metadata -> the generic
// parser (parse_artifact_metadata, formats 1 and 2), its check against two
// fixed graphs (validate_against_graph), and the strip head's reading of it
// (artifact_info_from, parse_artifact_info). The bytes are read as lines
// "key=value" (the key without its `defectkit.` prefix, which is added), the
// shape of an artifact's metadata_props. Every input must parse or throw
// defectkit::Error; anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "defectkit/artifact.h"
#include "defectkit/artifact_metadata.h"
#include "defectkit/error.h"
#include "defectkit/model.h"

namespace {

defectkit::TensorInfo tensor(const std::string& name, std::vector<int64_t> shape, defectkit::ElementType dtype) {
  defectkit::TensorInfo t;
  t.name = name;
  t.dimension_names.assign(shape.size(), "");
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] < 0) t.dimension_names[d] = "batch";
  }
  t.shape = std::move(shape);
  t.dtype = dtype;
  return t;
}

struct Graph {
  std::vector<defectkit::TensorInfo> inputs, outputs;
};

// The graphs of the seed artifacts: the strip fixture's patch graph and the two-input session graph.
const std::vector<Graph>& graphs() {
  using defectkit::ElementType;
  static const std::vector<Graph> all = {
      {{tensor("patch", {-1, 3, 16, 16}, ElementType::kFloat32)},
       {tensor("heatmap", {-1, 1, 16, 16}, ElementType::kFloat32)}},
      {{tensor("image", {-1, -1, -1, 3}, ElementType::kUInt8), tensor("series", {-1, 8}, ElementType::kFloat32)},
       {tensor("score", {-1}, ElementType::kFloat32), tensor("peak", {-1}, ElementType::kInt64)}},
  };
  return all;
}

template <typename Fn>
void refused_cleanly(Fn&& fn) {
  try {
    fn();
  } catch (const defectkit::Error&) {
    // A clean refusal.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::map<std::string, std::string> metadata;
  for (size_t start = 0; start <= text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    const size_t eq = line.find('=');
    if (eq != std::string::npos) metadata["defectkit." + line.substr(0, eq)] = line.substr(eq + 1);
    start = end + 1;
  }
  refused_cleanly([&] { (void)defectkit::parse_artifact_info(metadata, "fuzz.onnx"); });
  refused_cleanly([&] {
    const defectkit::ArtifactMetadata parsed = defectkit::parse_artifact_metadata(metadata, "fuzz.onnx");
    for (const Graph& graph : graphs()) {
      refused_cleanly([&] {
        defectkit::ArtifactMetadata checked = parsed;
        defectkit::validate_against_graph(checked, graph.inputs, graph.outputs, "fuzz.onnx");
        (void)defectkit::artifact_info_from(checked, "fuzz.onnx");
      });
    }
  });
  return 0;
}
