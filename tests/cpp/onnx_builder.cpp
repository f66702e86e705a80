#include "onnx_builder.h"

#include <fstream>
#include <stdexcept>

namespace defectkit::testing {
namespace {

// Protobuf wire format: varints and length-delimited fields are all we need.
void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void int_field(std::string& out, int field, int64_t v) {
  varint(out, static_cast<uint64_t>(field) << 3);
  varint(out, static_cast<uint64_t>(v));
}
void bytes_field(std::string& out, int field, const std::string& bytes) {
  varint(out, (static_cast<uint64_t>(field) << 3) | 2);
  varint(out, bytes.size());
  out += bytes;
}

std::string value_info(const OnnxValue& value) {
  std::string shape;
  for (int64_t d : value.shape) {
    std::string dim;
    if (d < 0) bytes_field(dim, 2, "N");  // dim_param
    else int_field(dim, 1, d);            // dim_value
    bytes_field(shape, 1, dim);
  }
  std::string tensor_type;
  int_field(tensor_type, 1, 1);  // elem_type FLOAT
  bytes_field(tensor_type, 2, shape);
  std::string type;
  bytes_field(type, 1, tensor_type);
  std::string out;
  bytes_field(out, 1, value.name);
  bytes_field(out, 2, type);
  return out;
}

}  // namespace

std::string serialize_onnx(const OnnxGraph& graph) {
  std::string g;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const auto& node = graph.nodes[i];
    std::string n;
    for (const auto& in : node.inputs) bytes_field(n, 1, in);
    for (const auto& out : node.outputs) bytes_field(n, 2, out);
    bytes_field(n, 3, "node" + std::to_string(i));
    bytes_field(n, 4, node.op_type);
    bytes_field(g, 1, n);
  }
  bytes_field(g, 2, "test_graph");
  for (const auto& v : graph.inputs) bytes_field(g, 11, value_info(v));
  for (const auto& v : graph.outputs) bytes_field(g, 12, value_info(v));

  std::string model;
  int_field(model, 1, 8);  // ir_version
  bytes_field(model, 2, "defectkit-tests");
  bytes_field(model, 7, g);
  std::string opset;
  bytes_field(opset, 1, "");
  int_field(opset, 2, graph.opset);
  bytes_field(model, 8, opset);
  for (const auto& [key, value] : graph.metadata) {
    std::string entry;
    bytes_field(entry, 1, key);
    bytes_field(entry, 2, value);
    bytes_field(model, 14, entry);
  }
  return model;
}

void write_onnx(const OnnxGraph& graph, const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  out << serialize_onnx(graph);
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace defectkit::testing
