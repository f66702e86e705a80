// Builds tiny ONNX models in memory for the tests, so the C++ suite needs
// neither Python nor the onnx package. Only the handful of protobuf fields
// small graphs use are written: nodes with int/ints/float attributes,
// float32 and int64 initializers, inputs and outputs of any element type,
// metadata_props.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace defectkit::testing {

struct OnnxAttribute {
  enum class Kind { kInt, kInts, kFloat };
  std::string name;
  Kind kind = Kind::kInt;
  int64_t i = 0;
  std::vector<int64_t> ints;
  float f = 0.0f;

  static OnnxAttribute integer(const std::string& n, int64_t v) { return {n, Kind::kInt, v, {}, 0.0f}; }
  static OnnxAttribute integers(const std::string& n, std::vector<int64_t> v) { return {n, Kind::kInts, 0, v, 0.0f}; }
  static OnnxAttribute real(const std::string& n, float v) { return {n, Kind::kFloat, 0, {}, v}; }
};

struct OnnxNode {
  std::string op_type;  // "Mul", "Add", "Relu", ...
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::vector<OnnxAttribute> attributes;
};

// A constant tensor of the graph: int64 when `int64s` is non-empty, else float32.
struct OnnxInitializer {
  std::string name;
  std::vector<int64_t> dims;
  std::vector<float> floats;
  std::vector<int64_t> int64s;
};

// ONNX TensorProto element types the tests use.
enum OnnxType : int { kOnnxFloat = 1, kOnnxUInt8 = 2, kOnnxInt64 = 7, kOnnxFloat16 = 10 };

struct OnnxValue {
  std::string name;
  std::vector<int64_t> shape;  // -1: a dynamic dimension, named by `symbols` or else "N"
  int elem_type = kOnnxFloat;
  std::vector<std::string> symbols;  // names of the dynamic dimensions, in order (optional)
};

struct OnnxGraph {
  std::vector<OnnxNode> nodes;
  std::vector<OnnxInitializer> initializers;
  std::vector<OnnxValue> inputs;
  std::vector<OnnxValue> outputs;
  std::map<std::string, std::string> metadata;
  int opset = 13;
};

// Serialises the graph as an ONNX ModelProto.
std::string serialize_onnx(const OnnxGraph& graph);

// Writes serialize_onnx(graph) to `path`.
void write_onnx(const OnnxGraph& graph, const std::string& path);

}  // namespace defectkit::testing
