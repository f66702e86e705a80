// Loading ONNX Runtime at run time: the library is dlopen()ed, never linked,
// so one build works with whichever onnxruntime the user has installed.
#pragma once

#include <string>
#include <vector>

namespace defectkit {

// What the process has loaded.
struct OnnxRuntimeInfo {
  std::string version;       // ONNX Runtime's own version string, e.g. "1.31.1"
  std::string library_path;  // the file that was opened
  int api_version = 0;       // ORT_API_VERSION of the headers we were built with
  std::vector<std::string> providers;  // execution providers the library offers
};

// The path used when none is given: $DEFECTKIT_ORT_LIBRARY if set, else the
// onnxruntime wheel found at build time, else "libonnxruntime.so" (the
// dynamic loader's search path). Thread-safe.
std::string default_onnxruntime_library();

// Opens ONNX Runtime once per process and initialises its C++ API. An empty
// path means default_onnxruntime_library(). Later calls return the loaded
// library's info; asking for a different file afterwards throws
// Error(kBackend), as does a missing or incompatible library. Thread-safe.
const OnnxRuntimeInfo& load_onnxruntime(const std::string& library_path = "");

}  // namespace defectkit
