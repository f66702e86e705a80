// ONNX Runtime reached from C++: the wheel's library opened at run time, a
// session on a model built here, and the values it computes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <algorithm>
#include <filesystem>
#include <functional>
#include <unistd.h>
#include <fstream>

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
