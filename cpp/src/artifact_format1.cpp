#include "artifact_format1.h"

namespace defectkit::detail {
namespace {

// The tensor `defectkit.input` names; its shape comes from the graph.
TensorSpec input_spec(const MetadataReader& r, const Json& input) {
  TensorSpec spec;
  spec.name = r.member<std::string>(input, "name", "defectkit.input.name");
  if (spec.name.empty()) r.fail("defectkit.input.name is empty");
  spec.layout = r.member<std::string>(input, "layout", "defectkit.input.layout");
  const auto dtype = r.member<std::string>(input, "dtype", "defectkit.input.dtype");
  const auto type = element_type_from_name(dtype);
  if (!type) r.fail("this runtime cannot feed the artifact's input: dtype '" + dtype + "' (only float32)");
  spec.dtype = *type;
  spec.scale = r.member<float>(input, "scale", "defectkit.input.scale");
  spec.meaning = "strip channels target, ref1, ref2 (and an optional fourth) on the 0..scale range";
  return spec;
}

TensorSpec output_spec(const std::string& name, const char* layout, const char* meaning) {
  TensorSpec spec;
  spec.name = name;
  spec.layout = layout;
  spec.meaning = meaning;
  return spec;
}

}  // namespace

ArtifactMetadata convert_format_1(const MetadataReader& r) {
  ArtifactMetadata m;
  m.format_version = 1;
  m.family = r.text("family");
  Json section = Json::object();
  section["graph"] = r.text("graph");
  const Json input = r.json("input");
  m.inputs.push_back(input_spec(r, input));
  if (!input.contains("channels")) r.fail("defectkit.input has no 'channels'");
  section["channels"] = input.at("channels");
  for (const char* field : {"accepted_channels", "fourth_channel"}) {
    if (input.contains(field) && !input.at(field).is_null()) section[field] = input.at(field);
  }
  section["image_size"] = r.json("image_size");
  if (r.has("tiling")) section["tiling"] = r.json("tiling");
  if (r.has("score")) section["score"] = r.json("score");

  const Json outputs = r.json("outputs");
  const auto heatmap = r.member<std::string>(outputs, "heatmap", "defectkit.outputs.heatmap");
  const auto score = r.member_or<std::string>(outputs, "score", "defectkit.outputs.score", "");
  if (outputs.contains("format") && !outputs.at("format").is_null()) section["output_format"] = outputs.at("format");
  section["heatmap_output"] = heatmap;
  section["score_output"] = score.empty() ? Json(nullptr) : Json(score);
  m.outputs.push_back(output_spec(heatmap, "NCHW", "per-pixel defect probability in [0, 1]"));
  if (!score.empty() && score != heatmap) m.outputs.push_back(output_spec(score, "N", "image score"));

  m.thresholds = parse_thresholds(r);
  m.precision = r.has("precision") ? r.text("precision") : "fp32";
  check_precision(r, m.precision);
  m.int8_weight_bits = parse_int8_weight_bits(r, m.precision);
  if (r.has("provenance")) m.provenance_json = r.text("provenance");
  // Format 1's `graph` is plain text, not JSON, so it may hold any bytes; a JSON string must
  // be UTF-8, and dump() throws otherwise (found by the metadata fuzzer: invalid UTF-8 in
  // defectkit.graph). Replaced, the name still reads as an unknown graph kind.
  m.family_json = section.dump(-1, ' ', false, Json::error_handler_t::replace);
  return m;
}

}  // namespace defectkit::detail
