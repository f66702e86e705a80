#include "defectkit/tensor.h"

#include <algorithm>
#include <limits>

namespace defectkit {
namespace {

struct NamedType {
  ElementType type;
  const char* name;
  std::size_t size;
};

constexpr NamedType kTypes[] = {
    {ElementType::kFloat32, "float32", 4}, {ElementType::kUInt8, "uint8", 1}, {ElementType::kInt64, "int64", 8},
    {ElementType::kInt8, "int8", 1},       {ElementType::kInt32, "int32", 4}, {ElementType::kFloat64, "float64", 8},
    {ElementType::kBool, "bool", 1},
};

}  // namespace

const char* element_type_name(ElementType type) noexcept {
  for (const auto& t : kTypes) {
    if (t.type == type) return t.name;
  }
  return "other";
}

std::optional<ElementType> element_type_from_name(const std::string& name) noexcept {
  for (const auto& t : kTypes) {
    if (name == t.name) return t.type;
  }
  return std::nullopt;
}

std::size_t element_size(ElementType type) noexcept {
  for (const auto& t : kTypes) {
    if (t.type == type) return t.size;
  }
  return 0;
}

std::size_t element_count(const std::vector<int64_t>& shape, ElementType type, const std::string& what) {
  const std::size_t bytes_per = std::max<std::size_t>(element_size(type), 1);
  const std::size_t limit = std::numeric_limits<std::size_t>::max() / bytes_per;
  std::size_t count = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error(ErrorCode::kInvalidArgument, what + ": negative dimension " + std::to_string(d));
    if (d != 0 && count > limit / static_cast<std::size_t>(d)) {
      throw Error(ErrorCode::kInvalidArgument, what + ": the shape's byte count overflows");
    }
    count *= static_cast<std::size_t>(d);
  }
  return count;
}

}  // namespace defectkit
