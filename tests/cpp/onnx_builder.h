// Builds tiny ONNX models in memory for the tests, so the C++ suite needs
// neither Python nor the onnx package. Only the handful of protobuf fields a
// one-op graph uses are written.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace defectkit::testing {

struct OnnxNode {
  std::string op_type;  // "Mul", "Add", "Relu", ...
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
};

struct OnnxValue {
  std::string name;
  std::vector<int64_t> shape;  // -1: a dynamic dimension named "N"
};

struct OnnxGraph {
  std::vector<OnnxNode> nodes;
  std::vector<OnnxValue> inputs;
  std::vector<OnnxValue> outputs;
  std::map<std::string, std::string> metadata;
  int opset = 13;
};

// Serialises the graph as an ONNX ModelProto (float32 tensors only).
std::string serialize_onnx(const OnnxGraph& graph);

// Writes serialize_onnx(graph) to `path`.
void write_onnx(const OnnxGraph& graph, const std::string& path);

}  // namespace defectkit::testing
