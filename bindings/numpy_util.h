// Helpers shared by the binding files.
#pragma once

#include <pybind11/numpy.h>

#include <atomic>
#include <cstdint>
#include <vector>

namespace defectkit_bindings {

// Arrays the bindings had to copy or convert; tests read it (input_copies())
// to prove that an array of the right dtype and layout is passed without a copy.
inline std::atomic<long>& input_copies() {
  static std::atomic<long> copies{0};
  return copies;
}

// Hands a vector's buffer to numpy without copying: the capsule owns it.
inline pybind11::array_t<float> to_numpy(std::vector<float>&& data, const std::vector<int64_t>& shape) {
  auto* owned = new std::vector<float>(std::move(data));
  pybind11::capsule free_when_done(owned, [](void* p) { delete static_cast<std::vector<float>*>(p); });
  std::vector<pybind11::ssize_t> dims(shape.begin(), shape.end());
  return pybind11::array_t<float>(dims, owned->data(), free_when_done);
}

void bind_inspector(pybind11::module_& m);
void bind_artifact_session(pybind11::module_& m);
void bind_image_classifier(pybind11::module_& m);

}  // namespace defectkit_bindings
