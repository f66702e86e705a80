// The shapes a session was fixed to (input_bounds.h): OpenVINO's "reshape_input"
// parsed in its own grammar, malformed values refused naming the fault, and
// shapes checked against the bounds. Model applies them only on the OpenVINO
// provider, which CI does not install; tests/python/runtime/test_reshape_input.py
// runs that path where `make bench` installed it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "defectkit/error.h"
#include "defectkit/input_bounds.h"

using defectkit::bounds_string;
using defectkit::DimensionBound;
using defectkit::Error;
using defectkit::ErrorCode;
using defectkit::parse_reshape_input;
using defectkit::within_bounds;

namespace {

std::string refusal(const std::string& value) {
  try {
    parse_reshape_input(value);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << value;
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << value;
  return "";
}

}  // namespace

TEST(ReshapeInput, OneFixedShape) {
  const auto parsed = parse_reshape_input("strip[1,4,976,176]");
  ASSERT_EQ(parsed.size(), 1u);
  EXPECT_EQ(bounds_string(parsed.at("strip")), "[1, 4, 976, 176]");
}

TEST(ReshapeInput, RangesSpacesAndSeveralInputs) {
  const auto parsed = parse_reshape_input(" image [1, 224..448 ,224, 1..3] , mask[2] ");
  ASSERT_EQ(parsed.size(), 2u);
  const auto& image = parsed.at("image");
  ASSERT_EQ(image.size(), 4u);
  EXPECT_EQ(image[1].min, 224);
  EXPECT_EQ(image[1].max, 448);
  EXPECT_EQ(bounds_string(image), "[1, 224..448, 224, 1..3]");
  EXPECT_EQ(bounds_string(parsed.at("mask")), "[2]");
}

TEST(ReshapeInput, MalformedValuesAreRefusedNamingTheFault) {
  EXPECT_NE(refusal("").find("empty"), std::string::npos);
  EXPECT_NE(refusal("image").find("no '['"), std::string::npos);
  EXPECT_NE(refusal("image[1,3").find("no ']'"), std::string::npos);
  EXPECT_NE(refusal("[1,3]").find("no tensor name"), std::string::npos);
  EXPECT_NE(refusal("image[]").find("has no dimensions"), std::string::npos);
  EXPECT_NE(refusal("image[1,,3]").find("dimension '' of 'image'"), std::string::npos);
  EXPECT_NE(refusal("image[1,-3]").find("dimension '-3'"), std::string::npos);
  EXPECT_NE(refusal("image[0,3]").find("dimension '0'"), std::string::npos);
  EXPECT_NE(refusal("image[1,x]").find("not a positive integer"), std::string::npos);
  EXPECT_NE(refusal("image[1,99999999999999999999]").find("not a positive integer"), std::string::npos);
  EXPECT_NE(refusal("image[1,4..2]").find("runs backwards"), std::string::npos);
  EXPECT_NE(refusal("image[1..,2]").find("dimension ''"), std::string::npos);
  EXPECT_NE(refusal("a[1] b[2]").find("expected ','"), std::string::npos);
  EXPECT_NE(refusal("a[1],").find("a ',' ends it"), std::string::npos);
  EXPECT_NE(refusal("a[1],a[2]").find("'a' is given twice"), std::string::npos);
  // Every refusal names the option and its value, and shows the grammar.
  const std::string message = refusal("image[1,x]");
  EXPECT_NE(message.find("provider option reshape_input 'image[1,x]'"), std::string::npos) << message;
  EXPECT_NE(message.find("expected entries like name[1,224,224,3]"), std::string::npos) << message;
}

TEST(ReshapeInput, ShapesInsideAndOutside) {
  const std::vector<DimensionBound> bounds{{1, 1}, {224, 448}, {224, 224}, {1, 3}};
  EXPECT_TRUE(within_bounds({1, 224, 224, 1}, bounds));
  EXPECT_TRUE(within_bounds({1, 448, 224, 3}, bounds));
  EXPECT_FALSE(within_bounds({1, 224, 224, 4}, bounds));  // one channel too many
  EXPECT_FALSE(within_bounds({2, 224, 224, 3}, bounds));
  EXPECT_FALSE(within_bounds({1, 223, 224, 3}, bounds));
  EXPECT_FALSE(within_bounds({1, 224, 224}, bounds));  // another rank
  EXPECT_FALSE(within_bounds({1, 224, 224, 3, 1}, bounds));
}
