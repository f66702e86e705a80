#include "classifier_fixtures.h"

#include <nlohmann/json.hpp>

#include "onnx_builder.h"

namespace defectkit::testing {
namespace {

using Json = nlohmann::json;

Json dim(int size, const char* symbol) { return size >= 0 ? Json(size) : Json(symbol); }

}  // namespace

double classifier_mask_value(int r, int g, int b) { return (0.5 * r + 0.3 * g + 0.2 * b) / 255.0; }

std::map<std::string, std::string> classifier_metadata(const ClassifierSpec& s) {
  const Json height = dim(s.height, "height"), width = dim(s.width, "width");
  Json inputs = Json::array({{{"name", "image"},
                              {"dtype", "uint8"},
                              {"shape", {1, height, width, dim(s.channels, "channels")}},
                              {"layout", "NHWC"},
                              {"scale", 255.0},
                              {"meaning", "one camera image, grey or RGB, any size"}}});
  Json outputs = Json::array({{{"name", "probabilities"},
                               {"dtype", "float32"},
                               {"shape", {1, 3}},
                               {"layout", "NC"},
                               {"scale", nullptr},
                               {"meaning", "class probabilities"}},
                              {{"name", "mask"},
                               {"dtype", "float32"},
                               {"shape", {1, 1, height, width}},
                               {"layout", "NCHW"},
                               {"scale", nullptr},
                               {"meaning", "defect probability per pixel"}}});
  Json section = {{"classes", {"good", "defect", "unsure"}},
                  {"defect_class", 1},
                  {"input_size", {28, 28}},
                  {"mean", {0.485, 0.456, 0.406}},
                  {"std", {0.229, 0.224, 0.225}},
                  {"backbone", "dinov2"},
                  {"backbone_size", "S"},
                  {"patch_size", 14},
                  {"pooling", "guided"}};
  for (const auto& [field, value] : s.section_overrides) {
    if (value == "null")
      section.erase(field);
    else
      section[field] = Json::parse(value);
  }
  std::map<std::string, std::string> m;
  m["format_version"] = "2";
  m["family"] = "guided_classifier";
  m["precision"] = "fp32";
  m["inputs"] = inputs.dump();
  m["outputs"] = outputs.dump();
  m["thresholds"] = Json{{"defect", s.defect_threshold}, {"pixel", s.pixel_threshold}}.dump();
  m["family_section"] = section.dump();
  m["provenance"] = R"({"defectkit_version": "0.1.0", "data_fingerprint": "sha256:00"})";
  for (const auto& [key, value] : s.overrides) m[key] = value;
  std::map<std::string, std::string> prefixed;
  for (const auto& [key, value] : m) prefixed["defectkit." + key] = value;
  return prefixed;
}

void write_classifier_artifact(const std::string& path, const ClassifierSpec& s) {
  OnnxGraph g;
  std::vector<std::string> symbols;
  for (auto [size, name] :
       {std::pair{s.height, "height"}, std::pair{s.width, "width"}, std::pair{s.channels, "channels"}}) {
    if (size < 0) symbols.push_back(name);
  }
  g.inputs = {{"image", {1, s.height, s.width, s.channels}, kOnnxUInt8, symbols}};
  g.initializers = {
      {"rgb_shape", {4}, {}, {1, 1, 1, 3}},
      {"weights", {3, 1}, {0.5f / 255.0f, 0.3f / 255.0f, 0.2f / 255.0f}, {}},
      {"one", {}, {1.0f}, {}},
      {"half", {}, {0.5f}, {}},
      {"starts", {1}, {}, {0}},
      {"ends", {1}, {}, {1}},
      {"width_axis", {1}, {}, {3}},
  };
  g.nodes = {
      {"Cast", {"image"}, {"pixels"}, {OnnxAttribute::integer("to", kOnnxFloat)}},
      {"Expand", {"pixels", "rgb_shape"}, {"rgb"}, {}},  // a grey channel repeated; RGB unchanged
      {"MatMul", {"rgb", "weights"}, {"weighted"}, {}},  // (1, H, W, 1)
      {"Transpose", {"weighted"}, {"full_mask"}, {OnnxAttribute::integers("perm", {0, 3, 1, 2})}},
      {"ReduceMean",
       {"full_mask"},
       {"m"},
       {OnnxAttribute::integers("axes", {2, 3}), OnnxAttribute::integer("keepdims", 0)}},  // (1, 1)
      {"Sub", {"one", "m"}, {"rest"}, {}},
      {"Mul", {"rest", "half"}, {"side"}, {}},
      {"Concat", {"side", "m", "side"}, {"probabilities"}, {OnnxAttribute::integer("axis", 1)}},
  };
  if (s.wrong_mask_size)
    g.nodes.push_back({"Slice", {"full_mask", "starts", "ends", "width_axis"}, {"mask"}, {}});
  else
    g.nodes.push_back({"Identity", {"full_mask"}, {"mask"}, {}});
  std::vector<std::string> mask_symbols;
  for (auto [size, name] : {std::pair{s.height, "height"}, std::pair{s.width, "width"}}) {
    if (size < 0) mask_symbols.push_back(name);
  }
  g.outputs = {{"probabilities", {1, 3}, kOnnxFloat, {}},
               {"mask", {1, 1, s.height, s.width}, kOnnxFloat, mask_symbols}};
  g.metadata = classifier_metadata(s);
  write_onnx(g, path);
}

}  // namespace defectkit::testing
