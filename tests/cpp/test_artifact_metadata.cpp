// The generic artifact metadata (artifact_metadata.h): format 2 parsed typed,
// every way it can be unusable refused with Error(kModel) naming the file and
// the key; format 1 converted; both checked against the graph.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "artifact_fixtures.h"
#include "defectkit/artifact_metadata.h"
#include "defectkit/artifact_session.h"
#include "defectkit/error.h"
#include "defectkit/inspector.h"
#include "defectkit/int8_weights.h"
#include "defectkit/model.h"

using defectkit::ArtifactMetadata;
using defectkit::Dim;
using defectkit::ElementType;
using defectkit::Error;
using defectkit::ErrorCode;
using defectkit::TensorInfo;
using defectkit::testing::artifact_metadata;
using defectkit::testing::ArtifactSpec;
using Json = nlohmann::json;

namespace {

const char* kPath = "/models/line3.onnx";

// Format-2 metadata of the patch fixture with `key` (no prefix) replaced by `value`.
std::map<std::string, std::string> v2_with(const std::string& key, const std::string& value) {
  ArtifactSpec spec;
  spec.format_version = 2;
  spec.overrides[key] = value;
  return artifact_metadata(spec);
}

std::map<std::string, std::string> v2_without(const std::string& key) {
  ArtifactSpec spec;
  spec.format_version = 2;
  spec.removed.push_back(key);
  return artifact_metadata(spec);
}

// The Error(kModel) message parsing `props` throws; "" when it parses.
std::string refusal(const std::map<std::string, std::string>& props) {
  try {
    defectkit::parse_artifact_metadata(props, kPath);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel) << e.what();
    EXPECT_EQ(std::string(e.what()).rfind(kPath, 0), 0u) << "message does not start with the path: " << e.what();
    return e.what();
  }
  return "";
}

// The patch fixture's `inputs` with its one spec's `field` replaced by `value` (JSON text).
std::map<std::string, std::string> spec_with(const std::string& field, const std::string& value) {
  Json inputs = Json::parse(artifact_metadata([] {
                              ArtifactSpec s;
                              s.format_version = 2;
                              return s;
                            }())
                                .at("defectkit.inputs"));
  if (value == "absent")
    inputs[0].erase(field);
  else
    inputs[0][field] = Json::parse(value);
  return v2_with("inputs", inputs.dump());
}

#define EXPECT_REFUSED(props, text) EXPECT_NE(refusal(props).find(text), std::string::npos) << refusal(props)

TensorInfo graph_tensor(const std::string& name, std::vector<int64_t> shape,
                        ElementType dtype = ElementType::kFloat32) {
  TensorInfo t;
  t.name = name;
  t.shape = std::move(shape);
  t.dtype = dtype;
  t.dimension_names.assign(t.shape.size(), "");
  for (size_t d = 0; d < t.shape.size(); ++d) {
    if (t.shape[d] < 0) t.dimension_names[d] = "N";
  }
  return t;
}

}  // namespace

TEST(ArtifactMetadataV2, ParsesEveryKeyTyped) {
  ArtifactSpec spec;
  spec.format_version = 2;
  spec.graph = "tiled";
  const ArtifactMetadata m = defectkit::parse_artifact_metadata(artifact_metadata(spec), kPath);
  EXPECT_EQ(m.format_version, 2);
  EXPECT_EQ(m.family, "reference_unet");
  EXPECT_EQ(m.precision, "fp32");
  EXPECT_FALSE(m.graph_checked);
  ASSERT_EQ(m.inputs.size(), 1u);
  const auto& in = m.inputs[0];
  EXPECT_EQ(in.name, "strip");
  EXPECT_EQ(in.dtype, ElementType::kFloat32);
  EXPECT_EQ(in.shape,
            (std::vector<Dim>{Dim::symbolic("batch"), Dim::symbolic("channels"), Dim::fixed(40), Dim::fixed(24)}));
  EXPECT_EQ(defectkit::shape_string(in.shape), "(batch, channels, 40, 24)");
  EXPECT_EQ(in.layout, "NCHW");
  ASSERT_TRUE(in.scale.has_value());
  EXPECT_EQ(*in.scale, 255.0f);
  EXPECT_NE(in.meaning.find("0..255"), std::string::npos);
  ASSERT_EQ(m.outputs.size(), 2u);
  EXPECT_EQ(m.outputs[1].name, "score");
  EXPECT_FALSE(m.outputs[0].scale.has_value());
  EXPECT_EQ(m.outputs[1].meaning, "");  // may be left out
  EXPECT_EQ(m.thresholds, (std::map<std::string, float>{{"image", 0.4f}, {"pixel", 0.6f}}));
  EXPECT_EQ(Json::parse(m.family_json).at("graph"), "tiled");
  EXPECT_EQ(Json::parse(m.provenance_json).at("defectkit_version"), "0.1.0");
  EXPECT_EQ(m.find_output("score"), &m.outputs[1]);
  EXPECT_EQ(m.find_input("score"), nullptr);
}

TEST(ArtifactMetadataV2, AnyFamilyAndAnyThresholdNames) {
  auto props = v2_with("family", "weld_fusion");
  props["defectkit.thresholds"] = R"({"knn_distance": 0.25, "vote": 3})";
  props["defectkit.family_section"] = R"({"bank_size": 120, "classes": ["good", "porosity"]})";
  props["defectkit.some_future_key"] = "ignored";
  const ArtifactMetadata m = defectkit::parse_artifact_metadata(props, kPath);
  EXPECT_EQ(m.family, "weld_fusion");
  EXPECT_EQ(m.thresholds.at("vote"), 3.0f);
  EXPECT_EQ(Json::parse(m.family_json).at("bank_size"), 120);
}

TEST(ArtifactMetadataV2, RefusesVersionsAndMissingKeys) {
  EXPECT_REFUSED(v2_with("format_version", "3"), "artifact format version 3 is newer than this runtime reads (2)");
  EXPECT_REFUSED(v2_with("format_version", "0"), "defectkit.format_version must be >= 1, got 0");
  EXPECT_REFUSED(v2_with("format_version", "two"), "defectkit.format_version must be an integer, got 'two'");
  EXPECT_REFUSED(v2_without("format_version"), "not a defectkit artifact");
  for (const char* key : {"family", "precision", "inputs", "outputs", "thresholds", "family_section", "provenance"}) {
    EXPECT_REFUSED(v2_without(key), std::string("artifact metadata has no 'defectkit.") + key + "'");
  }
  EXPECT_REFUSED(v2_with("family", ""), "defectkit.family is empty");
  EXPECT_REFUSED(v2_with("precision", "fp16"), "unknown precision 'fp16' (expected fp32 or int8)");
}

TEST(ArtifactMetadataV2, RefusesInvalidJsonAndWrongTopLevelTypes) {
  for (const char* key : {"inputs", "outputs", "thresholds", "family_section", "provenance"}) {
    EXPECT_REFUSED(v2_with(key, "{not json"), std::string("defectkit.") + key + " is not valid JSON");
  }
  EXPECT_REFUSED(v2_with("inputs", R"({"name": "patch"})"), "defectkit.inputs must be a JSON list of tensor specs");
  EXPECT_REFUSED(v2_with("outputs", "7"), "defectkit.outputs must be a JSON list of tensor specs, got 7");
  EXPECT_REFUSED(v2_with("inputs", R"(["patch"])"), "defectkit.inputs[0] must be a JSON object, got \"patch\"");
  EXPECT_REFUSED(v2_with("thresholds", "[0.5]"), "defectkit.thresholds must be a JSON object, got [0.5]");
  EXPECT_REFUSED(v2_with("thresholds", R"({"image": "high"})"), "defectkit.thresholds.image has the wrong type");
  EXPECT_REFUSED(v2_with("thresholds", R"({"image": 1e300})"), "defectkit.thresholds.image has the wrong type");
  EXPECT_REFUSED(v2_with("thresholds", R"({"image": null})"), "defectkit.thresholds.image has the wrong type");
  EXPECT_REFUSED(v2_with("family_section", R"(["tiled"])"), "defectkit.family_section must be a JSON object");
  EXPECT_REFUSED(v2_with("provenance", R"("sha256:00")"), "defectkit.provenance must be a JSON object");
}

TEST(ArtifactMetadataV2, RefusesBadTensorSpecs) {
  EXPECT_REFUSED(spec_with("name", "absent"), "defectkit.inputs[0] has no 'name'");
  EXPECT_REFUSED(spec_with("name", "3"), "defectkit.inputs[0].name has the wrong type: 3");
  EXPECT_REFUSED(spec_with("name", R"("")"), "defectkit.inputs[0].name is empty");
  EXPECT_REFUSED(spec_with("dtype", "absent"), "defectkit.inputs[0] has no 'dtype'");
  EXPECT_REFUSED(spec_with("dtype", R"("float16")"),
                 "defectkit.inputs[0].dtype 'float16' is not one of float32, uint8, int64");
  EXPECT_REFUSED(spec_with("dtype", R"(["float32"])"), "defectkit.inputs[0].dtype has the wrong type");
  EXPECT_REFUSED(spec_with("shape", "absent"), "defectkit.inputs[0] has no 'shape'");
  EXPECT_REFUSED(spec_with("shape", R"("NCHW")"), "defectkit.inputs[0].shape has the wrong type");
  EXPECT_REFUSED(spec_with("shape", R"(["N", 3, 16.5, 16])"), "defectkit.inputs[0].shape[2] must be a size >= 0");
  EXPECT_REFUSED(spec_with("shape", R"(["N", 3, -16, 16])"), "defectkit.inputs[0].shape[2] must be a size >= 0");
  EXPECT_REFUSED(spec_with("shape", R"(["", 3, 16, 16])"), "defectkit.inputs[0].shape[0] must be a size >= 0");
  EXPECT_REFUSED(spec_with("shape", R"(["N", 3, 1e30, 16])"), "defectkit.inputs[0].shape[2] must be a size >= 0");
  EXPECT_REFUSED(spec_with("shape", R"(["N", 3, 18446744073709551615, 16])"), "shape[2] must be a size >= 0");
  EXPECT_REFUSED(spec_with("shape", R"(["N", true, 16, 16])"), "shape[1] must be a size >= 0");
  EXPECT_REFUSED(spec_with("layout", "absent"), "defectkit.inputs[0] has no 'layout'");
  EXPECT_REFUSED(spec_with("layout", "null"), "defectkit.inputs[0].layout has the wrong type: null");
  EXPECT_REFUSED(spec_with("layout", R"("NHW")"), "defectkit.inputs[0].layout 'NHW' names 3 axes but the shape has 4");
  EXPECT_REFUSED(spec_with("scale", R"("255")"), "defectkit.inputs[0].scale has the wrong type");
  EXPECT_REFUSED(spec_with("scale", "1e39"), "defectkit.inputs[0].scale has the wrong type");
  EXPECT_REFUSED(spec_with("meaning", "[]"), "defectkit.inputs[0].meaning has the wrong type");
  const std::string two = R"([{"name": "x", "dtype": "float32", "shape": [1], "layout": "N"},
                              {"name": "x", "dtype": "int64", "shape": [1], "layout": ""}])";
  EXPECT_REFUSED(v2_with("outputs", two), "defectkit.outputs[1] repeats the name 'x'");
  // scale and meaning may be left out; an empty layout is allowed.
  EXPECT_EQ(refusal(spec_with("scale", "absent")), "");
  EXPECT_EQ(refusal(spec_with("meaning", "absent")), "");
}

TEST(ArtifactMetadataV2, ValidatedAgainstTheGraph) {
  ArtifactSpec spec;
  spec.format_version = 2;
  const auto props = artifact_metadata(spec);
  const std::vector<TensorInfo> inputs = {graph_tensor("patch", {-1, 3, 16, 16})};
  const std::vector<TensorInfo> outputs = {graph_tensor("heatmap", {-1, 1, 16, 16})};
  auto check = [&](std::vector<TensorInfo> in, std::vector<TensorInfo> out) -> std::string {
    ArtifactMetadata m = defectkit::parse_artifact_metadata(props, kPath);
    try {
      defectkit::validate_against_graph(m, in, out, kPath);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kModel);
      return e.what();
    }
    EXPECT_TRUE(m.graph_checked);
    return "";
  };
  EXPECT_EQ(check(inputs, outputs), "");
  auto expect = [&](std::vector<TensorInfo> in, std::vector<TensorInfo> out, const std::string& text) {
    const std::string message = check(std::move(in), std::move(out));
    EXPECT_NE(message.find(text), std::string::npos) << message;
    EXPECT_EQ(message.rfind(kPath, 0), 0u) << message;
  };
  expect({graph_tensor("strip", {-1, 3, 16, 16})}, outputs,
         "defectkit.inputs[0] is 'patch' but the graph's input 0 is 'strip'");
  expect({graph_tensor("patch", {-1, 3, 16, 16}, ElementType::kUInt8)}, outputs,
         "defectkit.inputs[0] ('patch') says dtype float32 but the graph's is uint8");
  expect({graph_tensor("patch", {-1, 3, 16})}, outputs,
         "defectkit.inputs[0] ('patch') has shape (batch, 3, 16, 16) but the graph's is (N, 3, 16)");
  expect({graph_tensor("patch", {-1, 3, 16, 17})}, outputs, "has shape (batch, 3, 16, 16) but the graph's is");
  expect({graph_tensor("patch", {-1, -1, 16, 16})}, outputs, "(ranks and fixed sizes must agree)");
  expect({graph_tensor("patch", {8, 3, 16, 16})}, outputs, "but the graph's is (8, 3, 16, 16)");
  expect(inputs, {graph_tensor("heatmap", {-1, 1, 16, 16}), graph_tensor("score", {-1})},
         "defectkit.outputs lists 1 tensors but the graph has 2 outputs");
  expect({graph_tensor("patch", {-1, 3, 16, 16}), graph_tensor("roi", {-1, 1, 16, 16})}, outputs,
         "defectkit.inputs lists 1 tensors but the graph has 2 inputs");
  expect(inputs, {graph_tensor("heatmap", {-1, 1, 16, 16}, ElementType::kOther)}, "the graph's is other");
}

// Fuzz finding (tests/fuzz/regressions/artifact_metadata/invalid_utf8_v1_graph.txt): format 1's
// plain-text `graph` with bytes that are not UTF-8 made building the family section throw
// nlohmann's type_error instead of a clean refusal.
TEST(ArtifactMetadataV1, AGraphNameThatIsNotUtf8IsRefusedCleanly) {
  ArtifactSpec spec;
  spec.overrides["graph"] = "pat\x9b\x97";
  const auto props = artifact_metadata(spec);
  ArtifactMetadata m;
  ASSERT_NO_THROW(m = defectkit::parse_artifact_metadata(props, kPath));
  try {
    defectkit::parse_artifact_info(props, kPath);
    FAIL() << "an unknown graph kind was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    EXPECT_NE(std::string(e.what()).find("unknown graph kind defectkit.graph='pat"), std::string::npos) << e.what();
  }
}

TEST(ArtifactMetadataV1, ConvertedToFormat2) {
  ArtifactSpec spec;
  spec.graph = "tiled";
  const ArtifactMetadata m = defectkit::parse_artifact_metadata(artifact_metadata(spec), kPath);
  EXPECT_EQ(m.format_version, 1);
  EXPECT_EQ(m.family, "reference_unet");
  EXPECT_EQ(m.precision, "fp32");
  EXPECT_FALSE(m.graph_checked);
  ASSERT_EQ(m.inputs.size(), 1u);
  EXPECT_EQ(m.inputs[0].name, "strip");
  EXPECT_TRUE(m.inputs[0].shape.empty());  // from the graph, in validate_against_graph
  EXPECT_EQ(m.inputs[0].scale, 255.0f);
  ASSERT_EQ(m.outputs.size(), 2u);
  EXPECT_EQ(m.outputs[0].name, "heatmap");
  EXPECT_EQ(m.outputs[1].name, "score");
  EXPECT_EQ(m.thresholds.at("image"), 0.4f);
  const Json section = Json::parse(m.family_json);
  EXPECT_EQ(section.at("graph"), "tiled");
  EXPECT_EQ(section.at("image_size"), Json({40, 24}));
  EXPECT_EQ(section.at("channels"), Json({"target", "ref1", "ref2"}));
  EXPECT_EQ(section.at("accepted_channels"), Json({3, 4}));
  EXPECT_EQ(section.at("fourth_channel"), "ignore");
  EXPECT_EQ(section.at("tiling").at("mode"), "baked");
  EXPECT_EQ(section.at("score").at("box"), 3);
  EXPECT_EQ(section.at("output_format"), "raw");
  EXPECT_EQ(section.at("heatmap_output"), "heatmap");
  EXPECT_EQ(section.at("score_output"), "score");
  EXPECT_NE(m.provenance_json.find("run_config"), std::string::npos);

  // The graph completes the specs, in its order, keeping what the metadata said.
  ArtifactMetadata bound = m;
  defectkit::validate_against_graph(bound, {graph_tensor("strip", {-1, -1, 40, 24})},
                                    {graph_tensor("score", {-1}), graph_tensor("heatmap", {-1, 1, 40, 24})}, kPath);
  EXPECT_TRUE(bound.graph_checked);
  EXPECT_EQ(defectkit::shape_string(bound.inputs[0].shape), "(N, N, 40, 24)");
  EXPECT_EQ(bound.inputs[0].layout, "NCHW");
  EXPECT_EQ(bound.inputs[0].scale, 255.0f);
  ASSERT_EQ(bound.outputs.size(), 2u);
  EXPECT_EQ(bound.outputs[0].name, "score");
  EXPECT_EQ(bound.outputs[0].layout, "N");
  EXPECT_EQ(bound.outputs[1].layout, "NCHW");
  try {
    ArtifactMetadata missing = m;
    defectkit::validate_against_graph(missing, {graph_tensor("strip", {-1, -1, 40, 24})},
                                      {graph_tensor("heatmap", {-1, 1, 40, 24})}, kPath);
    FAIL() << "a format-1 artifact naming a missing output was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(": the graph has no output 'score' named by defectkit.outputs"),
              std::string::npos)
        << e.what();
  }
}

namespace {

// A .npy file of float32 values (little-endian, C order): its shape and values.
std::vector<float> read_npy(const std::string& path, std::vector<int64_t>& shape) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) throw std::runtime_error(path + ": not .npy");
  const bool v1 = bytes[6] == 1;
  const size_t header_len =
      v1 ? static_cast<uint8_t>(bytes[8]) | static_cast<uint8_t>(bytes[9]) << 8
         : static_cast<uint32_t>(static_cast<uint8_t>(bytes[8]) | static_cast<uint8_t>(bytes[9]) << 8 |
                                 static_cast<uint8_t>(bytes[10]) << 16);
  const size_t start = (v1 ? 10 : 12) + header_len;
  const std::string header = bytes.substr(v1 ? 10 : 12, header_len);
  if (header.find("'<f4'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos) {
    throw std::runtime_error(path + ": not a C-order float32 array: " + header);
  }
  const size_t open = header.find('(', header.find("'shape'")), close = header.find(')', open);
  shape.clear();
  std::string dims = header.substr(open + 1, close - open - 1);
  for (size_t at = 0; at < dims.size();) {
    const size_t comma = dims.find(',', at);
    const std::string dim = dims.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    if (dim.find_first_of("0123456789") != std::string::npos) shape.push_back(std::stoll(dim));
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  std::vector<float> values((bytes.size() - start) / sizeof(float));
  std::memcpy(values.data(), bytes.data() + start, values.size() * sizeof(float));
  return values;
}

const std::string kV1 = DEFECTKIT_V1_ARTIFACTS;

}  // namespace

// Real format-1 files, written by the export before format 2 (tests/data/artifacts_v1/README.md).
TEST(ArtifactMetadataV1, FilesWrittenByAnEarlierExportRead) {
  for (const char* name : {"tiled_fp32", "tiled_int8", "patch_fp32", "patch_int8"}) {
    // Full-range INT8 weights are refused on a CPU without VNNI (test_int8_weights.cpp).
    if (std::string(name).find("int8") != std::string::npos && !defectkit::cpu_sums_int8_products_exactly()) continue;
    const std::string path = kV1 + "/" + name + ".onnx";
    const ArtifactMetadata m = defectkit::read_artifact_metadata(path);
    const bool tiled = std::string(name).rfind("tiled", 0) == 0;
    EXPECT_EQ(m.format_version, 1) << name;
    EXPECT_TRUE(m.graph_checked) << name;
    EXPECT_EQ(m.precision, std::string(name).find("int8") != std::string::npos ? "int8" : "fp32") << name;
    ASSERT_EQ(m.inputs.size(), 1u) << name;
    EXPECT_EQ(m.inputs[0].name, tiled ? "strip" : "patch");
    EXPECT_EQ(defectkit::shape_string(m.inputs[0].shape), tiled ? "(batch, channels, 160, 96)" : "(batch, 3, 64, 64)");
    EXPECT_EQ(m.inputs[0].scale, 255.0f);
    ASSERT_EQ(m.outputs.size(), tiled ? 2u : 1u) << name;
    EXPECT_EQ(m.outputs[0].name, "heatmap");
    EXPECT_EQ(m.outputs[0].dtype, ElementType::kFloat32);
    EXPECT_EQ(Json::parse(m.family_json).at("graph"), tiled ? "tiled" : "patch");
    EXPECT_GT(m.thresholds.at("image"), 0.0f);
    EXPECT_NE(m.provenance_json.find("data_fingerprint"), std::string::npos);
  }
}

TEST(ArtifactMetadataV1, FilesWrittenByAnEarlierExportInspectAsTheyDid) {
  std::vector<int64_t> strip_shape, heatmap_shape;
  const std::vector<float> strip = read_npy(kV1 + "/strip.npy", strip_shape);
  ASSERT_EQ(strip_shape, (std::vector<int64_t>{4, 160, 96}));
  defectkit::StripView view;
  view.data = strip.data();
  view.size_bytes = strip.size() * sizeof(float);
  view.channels = 4;
  view.height = 160;
  view.width = 96;
  for (const char* precision : {"fp32", "int8"}) {
    if (std::string(precision) == "int8" && !defectkit::cpu_sums_int8_products_exactly()) continue;
    const auto inspector = defectkit::Inspector::open(kV1 + "/tiled_" + precision + ".onnx");
    const std::vector<float> expected = read_npy(kV1 + "/tiled_" + precision + "_heatmap.npy", heatmap_shape);
    const auto result = inspector.inspect(view);
    ASSERT_EQ(result.heatmap.size(), expected.size());
    float worst = 0.0f;
    for (size_t i = 0; i < expected.size(); ++i) worst = std::max(worst, std::fabs(result.heatmap[i] - expected[i]));
    EXPECT_LE(worst, 1e-5f) << precision;
    EXPECT_EQ(inspector.info().format_version, 1);
  }
  // The patch artifact holds the same network: the runtime's tiling reproduces the tiled graph.
  const std::vector<float> tiled = read_npy(kV1 + "/tiled_fp32_heatmap.npy", heatmap_shape);
  const auto patch = defectkit::Inspector::open(kV1 + "/patch_fp32.onnx").inspect(view);
  float worst = 0.0f;
  for (size_t i = 0; i < tiled.size(); ++i) worst = std::max(worst, std::fabs(patch.heatmap[i] - tiled[i]));
  EXPECT_LE(worst, 1e-4f);
}
