// INT8 artifacts and the CPU (int8_weights.h): the weight range an artifact
// declares is parsed, and one with full-range weights is refused, naming the
// file, the CPU's missing VNNI and the fix, where the CPU would add products
// with 16-bit saturation. The refusal is tested with the capability given; the
// CPU's own answer decides only what the stored files below must do here.
#include <gtest/gtest.h>

#include <string>

#include "artifact_fixtures.h"
#include "defectkit/artifact_metadata.h"
#include "defectkit/artifact_session.h"
#include "defectkit/error.h"
#include "defectkit/int8_weights.h"

using defectkit::ArtifactMetadata;
using defectkit::Error;
using defectkit::ErrorCode;
using defectkit::testing::artifact_metadata;
using defectkit::testing::ArtifactSpec;

namespace {

const char* kPath = "/models/line3.onnx";

ArtifactMetadata parsed(const std::string& precision, const std::string& bits) {
  ArtifactSpec spec;
  spec.format_version = 2;
  spec.overrides["precision"] = precision;
  if (!bits.empty()) spec.overrides["int8_weight_bits"] = bits;
  return defectkit::parse_artifact_metadata(artifact_metadata(spec), kPath);
}

// The message check_int8_weights_fit_cpu throws; "" when it accepts.
std::string refusal(const ArtifactMetadata& m, bool exact_products) {
  try {
    defectkit::check_int8_weights_fit_cpu(m, kPath, exact_products);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Int8Weights, TheDeclaredRangeIsParsedAndAMissingOneIsFullRange) {
  EXPECT_EQ(parsed("int8", "7").int8_weight_bits, 7);
  EXPECT_EQ(parsed("int8", "8").int8_weight_bits, 8);
  EXPECT_EQ(parsed("int8", "").int8_weight_bits, 8);  // every INT8 file written before the key
  EXPECT_EQ(parsed("fp32", "").int8_weight_bits, 0);
  try {
    parsed("int8", "6");
    FAIL() << "a weight range other than 7 or 8 bits was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    EXPECT_NE(std::string(e.what()).find("defectkit.int8_weight_bits must be \"7\" or \"8\", got '6'"),
              std::string::npos)
        << e.what();
  }
}

TEST(Int8Weights, FullRangeWeightsAreRefusedOnlyWhereProductsSaturate) {
  const std::string message = refusal(parsed("int8", "8"), /*exact_products=*/false);
  EXPECT_EQ(message.rfind(kPath, 0), 0u) << message;
  EXPECT_NE(message.find("full-range (8-bit) weights"), std::string::npos) << message;
  EXPECT_NE(message.find("no AVX512-VNNI"), std::string::npos) << message;
  EXPECT_NE(message.find("defectkit export RUN --int8"), std::string::npos) << message;
  EXPECT_EQ(refusal(parsed("int8", ""), false), message);  // undeclared: full range
  EXPECT_EQ(refusal(parsed("int8", "8"), true), "");
  EXPECT_EQ(refusal(parsed("int8", "7"), false), "");
  EXPECT_EQ(refusal(parsed("fp32", ""), false), "");
}

// The format-1 INT8 files (full-range weights, no key) open exactly where this CPU sums exactly;
// their metadata reads everywhere.
TEST(Int8Weights, StoredFullRangeFilesFollowThisCpu) {
  const std::string path = std::string(DEFECTKIT_V1_ARTIFACTS) + "/tiled_int8.onnx";
  EXPECT_EQ(defectkit::read_artifact_metadata(path).int8_weight_bits, 8);
  std::string message;
  try {
    EXPECT_EQ(defectkit::ArtifactSession::open(path).metadata().int8_weight_bits, 8);
  } catch (const Error& e) {
    message = e.what();
  }
  EXPECT_EQ(message.empty(), defectkit::cpu_sums_int8_products_exactly()) << message;
}
