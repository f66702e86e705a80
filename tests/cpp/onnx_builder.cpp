#include "onnx_builder.h"

#include <cstring>
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

void float_field(std::string& out, int field, float v) {
  varint(out, (static_cast<uint64_t>(field) << 3) | 5);  // wire type 5: fixed32, little-endian
  char bytes[4];
  std::memcpy(bytes, &v, 4);
  out.append(bytes, 4);
}

std::string attribute(const OnnxAttribute& a) {
  std::string out;
  bytes_field(out, 1, a.name);
  switch (a.kind) {
    case OnnxAttribute::Kind::kFloat:
      float_field(out, 2, a.f);
      int_field(out, 20, 1);  // AttributeType FLOAT
      break;
    case OnnxAttribute::Kind::kInt:
      int_field(out, 3, a.i);
      int_field(out, 20, 2);  // INT
      break;
    case OnnxAttribute::Kind::kInts:
      for (int64_t v : a.ints) int_field(out, 8, v);
      int_field(out, 20, 7);  // INTS
      break;
  }
  return out;
}

std::string initializer(const OnnxInitializer& t) {
  std::string out;
  for (int64_t d : t.dims) int_field(out, 1, d);
  const bool int64 = !t.int64s.empty();
  int_field(out, 2, int64 ? 7 : 1);  // data_type INT64 or FLOAT
  bytes_field(out, 8, t.name);
  std::string raw;  // raw_data: little-endian, as on every machine these tests run on
  if (int64)
    raw.assign(reinterpret_cast<const char*>(t.int64s.data()), t.int64s.size() * sizeof(int64_t));
  else
    raw.assign(reinterpret_cast<const char*>(t.floats.data()), t.floats.size() * sizeof(float));
  bytes_field(out, 9, raw);
  return out;
}

std::string value_info(const OnnxValue& value) {
  std::string shape;
  size_t symbol = 0;
  for (int64_t d : value.shape) {
    std::string dim;
    if (d < 0)
      bytes_field(dim, 2, symbol < value.symbols.size() ? value.symbols[symbol++] : "N");  // dim_param
    else
      int_field(dim, 1, d);  // dim_value
    bytes_field(shape, 1, dim);
  }
  std::string tensor_type;
  int_field(tensor_type, 1, value.elem_type);
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
    for (const auto& a : node.attributes) bytes_field(n, 5, attribute(a));
    bytes_field(g, 1, n);
  }
  bytes_field(g, 2, "test_graph");
  for (const auto& t : graph.initializers) bytes_field(g, 5, initializer(t));
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
