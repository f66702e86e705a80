#include "defectkit/artifact_metadata.h"

#include <set>

#include "artifact_format1.h"
#include "defectkit/error.h"
#include "defectkit/int8_weights.h"
#include "defectkit/model.h"
#include "metadata_json.h"

namespace defectkit {
namespace detail {

std::map<std::string, float> parse_thresholds(const MetadataReader& r) {
  const Json j = r.json("thresholds");
  if (!j.is_object()) r.fail("defectkit.thresholds must be a JSON object, got " + brief(j));
  std::map<std::string, float> thresholds;
  for (const auto& [name, value] : j.items()) {
    thresholds[name] = r.member<float>(j, name, "defectkit.thresholds." + name);
  }
  return thresholds;
}

void check_precision(const MetadataReader& r, const std::string& precision) {
  if (precision != "fp32" && precision != "int8") {
    r.fail("unknown precision '" + precision + "' (expected fp32 or int8)");
  }
}

int parse_int8_weight_bits(const MetadataReader& r, const std::string& precision) {
  if (precision != "int8") return 0;
  if (!r.has("int8_weight_bits")) return 8;  // a file from before the key: full-range weights
  const std::string& text = r.text("int8_weight_bits");
  if (text != "7" && text != "8") r.fail("defectkit.int8_weight_bits must be \"7\" or \"8\", got '" + text + "'");
  return text == "7" ? 7 : 8;
}

}  // namespace detail

namespace {

using detail::brief;
using detail::Json;
using detail::MetadataReader;

int parse_format_version(const MetadataReader& r) {
  if (!r.has("format_version")) {
    r.fail("not a defectkit artifact: metadata has no 'defectkit.format_version' (export it with `defectkit export`)");
  }
  const std::string& text = r.text("format_version");
  int version = 0;
  try {
    size_t used = 0;
    version = std::stoi(text, &used);
    if (used != text.size()) throw std::invalid_argument(text);
  } catch (const std::exception&) {
    r.fail("defectkit.format_version must be an integer, got '" + text + "'");
  }
  if (version > kArtifactFormatVersion) {
    r.fail("artifact format version " + std::to_string(version) + " is newer than this runtime reads (" +
           std::to_string(kArtifactFormatVersion) + "); upgrade defectkit");
  }
  if (version < 1) r.fail("defectkit.format_version must be >= 1, got " + text);
  return version;
}

std::vector<Dim> parse_shape(const MetadataReader& r, const Json& spec, const std::string& where) {
  if (!spec.contains("shape")) r.fail(where + " has no 'shape'");
  const Json& shape = spec.at("shape");
  if (!shape.is_array()) r.fail(where + ".shape has the wrong type: " + brief(shape));
  std::vector<Dim> dims;
  for (size_t d = 0; d < shape.size(); ++d) {
    const Json& dim = shape[d];
    const std::string key = where + ".shape[" + std::to_string(d) + "]";
    if (detail::JsonFields::fits<int64_t>(dim) && dim.get<int64_t>() >= 0) {
      dims.push_back(Dim::fixed(dim.get<int64_t>()));
    } else if (dim.is_string() && !dim.get<std::string>().empty()) {
      dims.push_back(Dim::symbolic(dim.get<std::string>()));
    } else {
      r.fail(key + " must be a size >= 0 or a symbol name, got " + brief(dim));
    }
  }
  return dims;
}

TensorSpec parse_spec(const MetadataReader& r, const Json& j, const std::string& where) {
  if (!j.is_object()) r.fail(where + " must be a JSON object, got " + brief(j));
  TensorSpec spec;
  spec.name = r.member<std::string>(j, "name", where + ".name");
  if (spec.name.empty()) r.fail(where + ".name is empty");
  const auto dtype = r.member<std::string>(j, "dtype", where + ".dtype");
  const auto type = element_type_from_name(dtype);
  if (!type) r.fail(where + ".dtype '" + dtype + "' is not one of float32, uint8, int64, int8, int32, float64, bool");
  spec.dtype = *type;
  spec.shape = parse_shape(r, j, where);
  spec.layout = r.member<std::string>(j, "layout", where + ".layout");
  if (!spec.layout.empty() && spec.layout.size() != spec.shape.size()) {
    r.fail(where + ".layout '" + spec.layout + "' names " + std::to_string(spec.layout.size()) +
           " axes but the shape has " + std::to_string(spec.shape.size()));
  }
  if (j.contains("scale") && !j.at("scale").is_null()) spec.scale = r.member<float>(j, "scale", where + ".scale");
  spec.meaning = r.member_or<std::string>(j, "meaning", where + ".meaning", "");
  return spec;
}

std::vector<TensorSpec> parse_specs(const MetadataReader& r, const std::string& key) {
  const Json list = r.json(key);
  const std::string where = std::string(detail::kMetadataPrefix) + key;
  if (!list.is_array()) r.fail(where + " must be a JSON list of tensor specs, got " + brief(list));
  std::vector<TensorSpec> specs;
  std::set<std::string> names;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string at = where + "[" + std::to_string(i) + "]";
    specs.push_back(parse_spec(r, list[i], at));
    if (!names.insert(specs.back().name).second) r.fail(at + " repeats the name '" + specs.back().name + "'");
  }
  return specs;
}

ArtifactMetadata parse_format_2(const MetadataReader& r) {
  ArtifactMetadata m;
  m.format_version = 2;
  m.family = r.text("family");
  if (m.family.empty()) r.fail("defectkit.family is empty");
  m.precision = r.text("precision");
  detail::check_precision(r, m.precision);
  m.int8_weight_bits = detail::parse_int8_weight_bits(r, m.precision);
  m.inputs = parse_specs(r, "inputs");
  m.outputs = parse_specs(r, "outputs");
  m.thresholds = detail::parse_thresholds(r);
  m.family_json = r.object_text("family_section");
  m.provenance_json = r.object_text("provenance");
  return m;
}

Dim graph_dim(const TensorInfo& t, size_t d) {
  if (t.shape[d] >= 0) return Dim::fixed(t.shape[d]);
  return Dim::symbolic(d < t.dimension_names.size() ? t.dimension_names[d] : "");
}

std::vector<Dim> graph_shape(const TensorInfo& t) {
  std::vector<Dim> shape;
  for (size_t d = 0; d < t.shape.size(); ++d) shape.push_back(graph_dim(t, d));
  return shape;
}

// Format 2: the specs must be the graph's, one for one.
void check_specs(const detail::JsonFields& r, const std::vector<TensorSpec>& specs,
                 const std::vector<TensorInfo>& graph, const std::string& key, const char* kind) {
  if (specs.size() != graph.size()) {
    r.fail("defectkit." + key + " lists " + std::to_string(specs.size()) + " tensors but the graph has " +
           std::to_string(graph.size()) + " " + kind + "s");
  }
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorSpec& s = specs[i];
    const TensorInfo& g = graph[i];
    const std::string where = "defectkit." + key + "[" + std::to_string(i) + "] ('" + s.name + "')";
    if (s.name != g.name) {
      r.fail("defectkit." + key + "[" + std::to_string(i) + "] is '" + s.name + "' but the graph's " + kind + " " +
             std::to_string(i) + " is '" + g.name + "'");
    }
    if (s.dtype != g.dtype) {
      r.fail(where + " says dtype " + element_type_name(s.dtype) + " but the graph's is " + element_type_name(g.dtype));
    }
    bool same = s.shape.size() == g.shape.size();
    for (size_t d = 0; same && d < s.shape.size(); ++d) same = s.shape[d].size == std::max<int64_t>(g.shape[d], -1);
    if (!same) {
      r.fail(where + " has shape " + shape_string(s.shape) + " but the graph's is " + shape_string(graph_shape(g)) +
             " (ranks and fixed sizes must agree)");
    }
  }
}

// Format 1: the named tensors must exist; the specs become the graph's.
std::vector<TensorSpec> rebuild_from_graph(const detail::JsonFields& r, const std::vector<TensorSpec>& named,
                                           const std::vector<TensorInfo>& graph, const std::string& key,
                                           const char* kind) {
  for (const TensorSpec& s : named) {
    auto found = std::find_if(graph.begin(), graph.end(), [&](const TensorInfo& g) { return g.name == s.name; });
    if (found == graph.end()) r.fail("the graph has no " + std::string(kind) + " '" + s.name + "' named by " + key);
    if (found->dtype != s.dtype) {
      r.fail(key + " says " + kind + " '" + s.name + "' is " + element_type_name(s.dtype) + " but the graph's is " +
             element_type_name(found->dtype));
    }
  }
  std::vector<TensorSpec> specs;
  for (const TensorInfo& g : graph) {
    auto found = std::find_if(named.begin(), named.end(), [&](const TensorSpec& s) { return s.name == g.name; });
    TensorSpec spec = found != named.end() ? *found : TensorSpec{};
    spec.name = g.name;
    spec.dtype = g.dtype;
    spec.shape = graph_shape(g);
    if (spec.layout.size() != spec.shape.size()) spec.layout.clear();
    specs.push_back(std::move(spec));
  }
  return specs;
}

const TensorSpec* find(const std::vector<TensorSpec>& specs, const std::string& name) {
  for (const auto& s : specs) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace

std::string Dim::str() const {
  if (is_fixed()) return std::to_string(size);
  return symbol.empty() ? "?" : symbol;
}

std::string shape_string(const std::vector<Dim>& shape) {
  std::string out = "(";
  for (size_t d = 0; d < shape.size(); ++d) out += (d ? ", " : "") + shape[d].str();
  return out + ")";
}

const TensorSpec* ArtifactMetadata::find_input(const std::string& name) const { return find(inputs, name); }
const TensorSpec* ArtifactMetadata::find_output(const std::string& name) const { return find(outputs, name); }

ArtifactMetadata parse_artifact_metadata(const std::map<std::string, std::string>& props, const std::string& path) {
  const MetadataReader r(props, path);
  const int version = parse_format_version(r);
  return version == 1 ? detail::convert_format_1(r) : parse_format_2(r);
}

void validate_against_graph(ArtifactMetadata& metadata, const std::vector<TensorInfo>& graph_inputs,
                            const std::vector<TensorInfo>& graph_outputs, const std::string& path) {
  const detail::JsonFields r(path);
  if (metadata.format_version == 1) {
    metadata.inputs = rebuild_from_graph(r, metadata.inputs, graph_inputs, "defectkit.input", "input");
    metadata.outputs = rebuild_from_graph(r, metadata.outputs, graph_outputs, "defectkit.outputs", "output");
  } else {
    check_specs(r, metadata.inputs, graph_inputs, "inputs", "input");
    check_specs(r, metadata.outputs, graph_outputs, "outputs", "output");
  }
  metadata.graph_checked = true;
}

ArtifactMetadata read_artifact_metadata(const Model& model) {
  ArtifactMetadata metadata = parse_artifact_metadata(model.metadata(), model.path());
  validate_against_graph(metadata, model.inputs(), model.outputs(), model.path());
  check_int8_weights_fit_cpu(metadata, model.path(), cpu_sums_int8_products_exactly());
  return metadata;
}

}  // namespace defectkit
