// Typed tensors: the element types defectkit passes to and from ONNX graphs,
// a view over the caller's memory and an owned tensor, both untyped in C++
// (bytes + ElementType) so that one call can carry float32 images, uint8
// camera frames and int64 indices together.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "defectkit/error.h"

namespace defectkit {

// Element types of graph inputs and outputs. kOther stands for any ONNX type
// defectkit does not pass (float16, string, ...): such a tensor is described
// but never fed or returned. The numbers are stable (the C API mirrors them).
enum class ElementType : int {
  kFloat32 = 0,
  kUInt8 = 1,
  kInt64 = 2,
  kInt8 = 3,
  kInt32 = 4,
  kFloat64 = 5,
  kBool = 6,  // one byte per element, 0 or 1
  kOther = 99,
};

// Returns "float32", "uint8", "int64", "int8", "int32", "float64", "bool"
// (numpy's names; the artifact's `dtype` strings) or "other". Thread-safe.
const char* element_type_name(ElementType type) noexcept;

// Parses a name element_type_name() returns (not "other"); nullopt otherwise.
std::optional<ElementType> element_type_from_name(const std::string& name) noexcept;

// Bytes per element; 0 for kOther. Thread-safe.
std::size_t element_size(ElementType type) noexcept;

// The ElementType of a C++ element type, e.g. element_type_of<float>().
template <typename T>
constexpr ElementType element_type_of();
template <>
constexpr ElementType element_type_of<float>() {
  return ElementType::kFloat32;
}
template <>
constexpr ElementType element_type_of<uint8_t>() {
  return ElementType::kUInt8;
}
template <>
constexpr ElementType element_type_of<int64_t>() {
  return ElementType::kInt64;
}
template <>
constexpr ElementType element_type_of<int8_t>() {
  return ElementType::kInt8;
}
template <>
constexpr ElementType element_type_of<int32_t>() {
  return ElementType::kInt32;
}
template <>
constexpr ElementType element_type_of<double>() {
  return ElementType::kFloat64;
}
template <>
constexpr ElementType element_type_of<bool>() {
  return ElementType::kBool;
}

// The number of elements of `shape` (1 for a scalar). Throws
// Error(kInvalidArgument) naming `what` for a negative dimension or a count
// whose bytes would overflow size_t. Thread-safe.
std::size_t element_count(const std::vector<int64_t>& shape, ElementType type, const std::string& what);

// A tensor in the caller's memory, row-major; the model reads it without
// copying and never keeps it.
struct TypedTensorView {
  const void* data = nullptr;
  ElementType dtype = ElementType::kFloat32;
  std::vector<int64_t> shape;
  std::size_t size_bytes = 0;  // bytes readable at `data`; fewer than the shape needs is Error(kInvalidArgument)

  // A view of `data` whose size_bytes is what `shape` needs (the caller vouches for it).
  template <typename T>
  static TypedTensorView of(const T* data, std::vector<int64_t> shape) {
    TypedTensorView view;
    view.data = data;
    view.dtype = element_type_of<T>();
    view.size_bytes = element_count(shape, view.dtype, "tensor") * sizeof(T);
    view.shape = std::move(shape);
    return view;
  }
};

// A tensor the runtime returns; the caller owns it. Row-major bytes, aligned
// for any element type (std::vector's allocation).
struct TypedTensor {
  ElementType dtype = ElementType::kFloat32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  std::size_t element_count() const { return dtype == ElementType::kOther ? 0 : bytes.size() / element_size(dtype); }

  // The elements as T. Throws Error(kInvalidArgument) when T is not `dtype`.
  template <typename T>
  const T* data() const {
    check_type(element_type_of<T>());
    return reinterpret_cast<const T*>(bytes.data());
  }
  template <typename T>
  T* data() {
    check_type(element_type_of<T>());
    return reinterpret_cast<T*>(bytes.data());
  }

  // A view of this tensor (valid while it lives and is not resized).
  TypedTensorView view() const { return {bytes.data(), dtype, shape, bytes.size()}; }

 private:
  void check_type(ElementType wanted) const {
    if (wanted != dtype) {
      throw Error(ErrorCode::kInvalidArgument,
                  std::string("the tensor holds ") + element_type_name(dtype) + ", not " + element_type_name(wanted));
    }
  }
};

}  // namespace defectkit
