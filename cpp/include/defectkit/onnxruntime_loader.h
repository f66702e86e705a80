// Loading ONNX Runtime at run time: the library is dlopen()ed, never linked,
// so one build works with whichever onnxruntime the user has installed.
#pragma once

#include <string>
#include <vector>

namespace defectkit {

// What the process has loaded.
struct OnnxRuntimeInfo {
  std::string version;                 // ONNX Runtime's own version string, e.g. "1.31.1"
  std::string library_path;            // the file that was opened
  int api_version = 0;                 // ORT_API_VERSION of the headers we were built with
  std::vector<std::string> providers;  // execution providers the library offers
  std::string source;                  // how the path was chosen: onnxruntime_source_name()
};

// Where the ONNX Runtime library's path comes from, in order of precedence.
enum class OnnxRuntimeSource {
  kOption,        // the caller named it (ModelOptions::onnxruntime_library, ...)
  kEnvironment,   // $DEFECTKIT_ORT_LIBRARY
  kPackage,       // the onnxruntime wheel beside the installed defectkit package (see below)
  kBuildDefault,  // the onnxruntime wheel found when defectkit was built
  kSearchPath,    // "libonnxruntime.so", left to the dynamic loader's search path
};

// "option", "environment", "package", "build default" or "search path". Thread-safe.
const char* onnxruntime_source_name(OnnxRuntimeSource source) noexcept;

struct OnnxRuntimeLibrary {
  std::string path;
  OnnxRuntimeSource source = OnnxRuntimeSource::kSearchPath;
};

// Chooses the library to open: `requested` when not empty, else
// $DEFECTKIT_ORT_LIBRARY when set, else the libonnxruntime.so.<version> in the
// onnxruntime wheel beside the defectkit package a program was built against
// (a program linking the installed CMake package's defectkit::defectkit gets
// that folder compiled in: cmake/defectkitConfig.cmake.in), else the wheel
// found at build time, else "libonnxruntime.so". Thread-safe.
OnnxRuntimeLibrary resolve_onnxruntime_library(const std::string& requested = "");

// resolve_onnxruntime_library("").path. Thread-safe.
std::string default_onnxruntime_library();

// Opens ONNX Runtime once per process and initialises its C++ API. An empty
// path means resolve_onnxruntime_library()'s choice. Later calls return the loaded
// library's info; asking for a different file afterwards throws
// Error(kBackend), as does a missing or incompatible library. Thread-safe.
const OnnxRuntimeInfo& load_onnxruntime(const std::string& library_path = "");

}  // namespace defectkit
