// ONNX Runtime reached from C++: the wheel's library opened at run time, a
// session on a model built here, and the values it computes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>

#include "defectkit/error.h"
#include "defectkit/model.h"
#include "defectkit/onnxruntime_loader.h"
#include "onnx_builder.h"

namespace fs = std::filesystem;
using defectkit::Error;
using defectkit::ErrorCode;

namespace {

fs::path temp_file(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("defectkit_tests_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir / name;
}

// square = x * x, twice = x + x, over a dynamic batch of 3-vectors.
fs::path square_and_twice_model() {
  defectkit::testing::OnnxGraph graph;
  graph.nodes = {{"Mul", {"x", "x"}, {"square"}}, {"Add", {"x", "x"}, {"twice"}}};
  graph.inputs = {{"x", {-1, 3}}};
  graph.outputs = {{"square", {-1, 3}}, {"twice", {-1, 3}}};
  graph.metadata = {{"defectkit.format_version", "1"}, {"defectkit.family", "test"}};
  fs::path path = temp_file("square_and_twice.onnx");
  defectkit::testing::write_onnx(graph, path.string());
  return path;
}

ErrorCode code_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::kOk;
}

}  // namespace

TEST(OnnxRuntimeLoader, LoadsTheWheelLibraryAndReportsItsVersion) {
  const auto& info = defectkit::load_onnxruntime();
  EXPECT_FALSE(info.version.empty());
  EXPECT_TRUE(fs::exists(info.library_path)) << info.library_path;
  EXPECT_NE(std::find(info.providers.begin(), info.providers.end(), "CPUExecutionProvider"), info.providers.end());
}

TEST(Model, RunsATinyGraphAndReturnsItsValues) {
  const auto model = defectkit::Model::load(square_and_twice_model().string());
  ASSERT_EQ(model.inputs().size(), 1u);
  EXPECT_EQ(model.inputs()[0].name, "x");
  EXPECT_EQ(model.inputs()[0].shape, (std::vector<int64_t>{-1, 3}));
  ASSERT_EQ(model.outputs().size(), 2u);
  EXPECT_EQ(model.metadata().at("defectkit.family"), "test");

  const std::vector<float> x = {1.f, -2.f, 0.5f, 3.f, 0.f, -1.5f};
  const auto outputs = model.run({{x.data(), {2, 3}}});
  ASSERT_EQ(outputs.size(), 2u);
  EXPECT_EQ(outputs[0].shape, (std::vector<int64_t>{2, 3}));
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_FLOAT_EQ(outputs[0].data[i], x[i] * x[i]);
    EXPECT_FLOAT_EQ(outputs[1].data[i], x[i] + x[i]);
  }
}

TEST(Model, RefusesWrongInputsWithInvalidArgument) {
  const auto model = defectkit::Model::load(square_and_twice_model().string());
  const std::vector<float> x(8, 1.f);
  EXPECT_EQ(code_of([&] { model.run({{x.data(), {2, 4}}}); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { model.run({{x.data(), {8}}}); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { model.run({}); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { model.run({{nullptr, {1, 3}}}); }), ErrorCode::kInvalidArgument);
}

TEST(Model, RefusesMissingAndCorruptFiles) {
  EXPECT_EQ(code_of([] { defectkit::Model::load("/nonexistent/model.onnx"); }), ErrorCode::kFileNotFound);
  const fs::path garbage = temp_file("garbage.onnx");
  std::ofstream(garbage) << "this is not a protobuf";
  try {
    defectkit::Model::load(garbage.string());
    FAIL() << "a corrupt file loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    EXPECT_NE(std::string(e.what()).find(garbage.string()), std::string::npos) << e.what();
  }
}

TEST(OnnxRuntimeLoader, RefusesASecondDifferentLibrary) {
  defectkit::load_onnxruntime();
  EXPECT_EQ(code_of([] { defectkit::load_onnxruntime("/nonexistent/libonnxruntime.so"); }), ErrorCode::kBackend);
}

// Run by CTest in its own process with DEFECTKIT_ORT_LIBRARY pointing nowhere
// (see tests/cpp/CMakeLists.txt); skipped in the ordinary run.
TEST(MissingOnnxRuntime, LoadingAModelFailsWithBackendErrorNamingTheLibrary) {
  const char* expect = std::getenv("DEFECTKIT_EXPECT_MISSING_ORT");
  if (expect == nullptr) GTEST_SKIP() << "only meaningful with DEFECTKIT_ORT_LIBRARY set to a missing file";
  try {
    defectkit::Model::load(square_and_twice_model().string());
    FAIL() << "a model loaded without ONNX Runtime";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kBackend);
    EXPECT_NE(std::string(e.what()).find(expect), std::string::npos) << e.what();
  }
}

namespace {

using defectkit::ElementType;
using defectkit::TypedTensorView;
using defectkit::testing::kOnnxFloat;
using defectkit::testing::kOnnxFloat16;
using defectkit::testing::kOnnxInt64;
using defectkit::testing::kOnnxUInt8;

// half = float(pixels) * 0.5 (uint8 in, float32 out); best = argmax(scores, 1) (float in, int64 out);
// as_float = float(counts) (int64 in).
fs::path typed_model() {
  defectkit::testing::OnnxGraph graph;
  graph.initializers = {{"half", {}, {0.5f}, {}}};
  graph.nodes = {{"Cast", {"pixels"}, {"pixels_f"}, {defectkit::testing::OnnxAttribute::integer("to", kOnnxFloat)}},
                 {"Mul", {"pixels_f", "half"}, {"halved"}},
                 {"ArgMax",
                  {"scores"},
                  {"best"},
                  {defectkit::testing::OnnxAttribute::integer("axis", 1),
                   defectkit::testing::OnnxAttribute::integer("keepdims", 0)}},
                 {"Cast", {"counts"}, {"as_float"}, {defectkit::testing::OnnxAttribute::integer("to", kOnnxFloat)}}};
  graph.inputs = {{"pixels", {-1, 4}, kOnnxUInt8, {"batch"}},
                  {"scores", {-1, 3}, kOnnxFloat, {"rows"}},
                  {"counts", {2}, kOnnxInt64}};
  graph.outputs = {
      {"halved", {-1, 4}, kOnnxFloat, {"batch"}}, {"best", {-1}, kOnnxInt64, {"rows"}}, {"as_float", {2}, kOnnxFloat}};
  fs::path path = temp_file("typed.onnx");
  defectkit::testing::write_onnx(graph, path.string());
  return path;
}

}  // namespace

TEST(ModelTyped, DescribesElementTypesAndSymbolicDimensions) {
  const auto model = defectkit::Model::load(typed_model().string());
  ASSERT_EQ(model.inputs().size(), 3u);
  EXPECT_EQ(model.inputs()[0].dtype, ElementType::kUInt8);
  EXPECT_EQ(model.inputs()[0].dimension_names, (std::vector<std::string>{"batch", ""}));
  EXPECT_EQ(model.inputs()[1].dtype, ElementType::kFloat32);
  EXPECT_EQ(model.inputs()[2].dtype, ElementType::kInt64);
  ASSERT_EQ(model.outputs().size(), 3u);
  EXPECT_EQ(model.outputs()[1].dtype, ElementType::kInt64);
  EXPECT_EQ(model.outputs()[1].dimension_names, (std::vector<std::string>{"rows"}));
}

TEST(ModelTyped, RunsUInt8InFloatOutAndInt64InAndOut) {
  const auto model = defectkit::Model::load(typed_model().string());
  const std::vector<uint8_t> pixels = {0, 1, 2, 255, 10, 20, 30, 40};
  const std::vector<float> scores = {0.1f, 0.7f, 0.2f, 3.0f, -1.0f, 2.0f};
  const std::vector<int64_t> counts = {int64_t{1} << 40, -7};
  const auto outputs =
      model.run_typed({TypedTensorView::of(pixels.data(), {2, 4}), TypedTensorView::of(scores.data(), {2, 3}),
                       TypedTensorView::of(counts.data(), {2})});
  ASSERT_EQ(outputs.size(), 3u);
  EXPECT_EQ(outputs[0].dtype, ElementType::kFloat32);
  EXPECT_EQ(outputs[0].shape, (std::vector<int64_t>{2, 4}));
  ASSERT_EQ(outputs[0].element_count(), 8u);
  for (size_t i = 0; i < pixels.size(); ++i) EXPECT_FLOAT_EQ(outputs[0].data<float>()[i], pixels[i] * 0.5f);
  EXPECT_EQ(outputs[1].dtype, ElementType::kInt64);
  EXPECT_EQ(outputs[1].shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(outputs[1].data<int64_t>()[0], 1);
  EXPECT_EQ(outputs[1].data<int64_t>()[1], 0);
  EXPECT_FLOAT_EQ(outputs[2].data<float>()[0], static_cast<float>(int64_t{1} << 40));
  EXPECT_FLOAT_EQ(outputs[2].data<float>()[1], -7.0f);
  EXPECT_EQ(code_of([&] { outputs[1].data<float>(); }), ErrorCode::kInvalidArgument);  // int64, not float
}

TEST(ModelTyped, RefusesWrongTypesShapesAndShortBuffers) {
  const auto model = defectkit::Model::load(typed_model().string());
  const std::vector<uint8_t> pixels(8, 1);
  const std::vector<float> floats(8, 1.0f);
  const std::vector<int64_t> counts = {1, 2};
  auto run = [&](TypedTensorView first) {
    return model.run_typed(
        {first, TypedTensorView::of(floats.data(), {1, 3}), TypedTensorView::of(counts.data(), {2})});
  };
  std::string message;
  try {
    run(TypedTensorView::of(floats.data(), {2, 4}));
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    message = e.what();
  }
  EXPECT_NE(message.find("input 'pixels' is uint8, got float32"), std::string::npos) << message;
  EXPECT_EQ(code_of([&] { run(TypedTensorView::of(pixels.data(), {2, 3})); }), ErrorCode::kInvalidArgument);
  TypedTensorView short_buffer = TypedTensorView::of(pixels.data(), {2, 4});
  short_buffer.size_bytes = 7;
  EXPECT_EQ(code_of([&] { run(short_buffer); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { run(TypedTensorView::of(pixels.data(), {-2, 4})); }), ErrorCode::kInvalidArgument);
  // The float32 API on a graph with a uint8 input: refused, not passed to ONNX Runtime.
  EXPECT_EQ(code_of([&] {
              model.run({{floats.data(), {2, 4}}, {floats.data(), {1, 3}}, {floats.data(), {2}}});
            }),
            ErrorCode::kInvalidArgument);
}

TEST(ModelTyped, AnElementTypeDefectkitDoesNotPassIsDescribedAndRefused) {
  defectkit::testing::OnnxGraph graph;
  graph.nodes = {{"Cast", {"x"}, {"y"}, {defectkit::testing::OnnxAttribute::integer("to", kOnnxFloat)}}};
  graph.inputs = {{"x", {2}, kOnnxFloat16}};
  graph.outputs = {{"y", {2}, kOnnxFloat}};
  const fs::path path = temp_file("float16.onnx");
  defectkit::testing::write_onnx(graph, path.string());
  const auto model = defectkit::Model::load(path.string());
  EXPECT_EQ(model.inputs()[0].dtype, ElementType::kOther);
  const std::vector<uint8_t> bytes(4, 0);
  TypedTensorView view{bytes.data(), ElementType::kOther, {2}, bytes.size()};
  EXPECT_EQ(code_of([&] { model.run_typed({view}); }), ErrorCode::kUnsupported);
}

TEST(ElementTypes, NamesSizesAndParsing) {
  for (auto t : {ElementType::kFloat32, ElementType::kUInt8, ElementType::kInt64, ElementType::kInt8,
                 ElementType::kInt32, ElementType::kFloat64, ElementType::kBool}) {
    EXPECT_EQ(defectkit::element_type_from_name(defectkit::element_type_name(t)), t);
    EXPECT_GT(defectkit::element_size(t), 0u);
  }
  EXPECT_STREQ(defectkit::element_type_name(ElementType::kOther), "other");
  EXPECT_FALSE(defectkit::element_type_from_name("other").has_value());
  EXPECT_FALSE(defectkit::element_type_from_name("float16").has_value());
  EXPECT_EQ(defectkit::element_size(ElementType::kInt64), 8u);
  EXPECT_EQ(code_of([] {
              defectkit::element_count({int64_t{1} << 40, int64_t{1} << 40}, ElementType::kInt64, "t");
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(defectkit::element_count({}, ElementType::kFloat32, "scalar"), 1u);
}
