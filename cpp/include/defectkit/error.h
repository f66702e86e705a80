// defectkit::Error — the one exception type of the native runtime.
#pragma once

#include <stdexcept>
#include <string>

namespace defectkit {

// What went wrong, coarse enough for a caller to branch on. Bindings map each
// code to a Python exception class; the C API returns it as an int.
enum class ErrorCode : int {
  kOk = 0,
  kInvalidArgument = 1,  // the caller passed something unusable (bad shape, null pointer)
  kFileNotFound = 2,     // a path that does not exist or cannot be opened
  kBadFile = 3,          // the file exists but breaks the data contract (not a TIFF, truncated, NaN)
  kUnsupported = 4,      // well-formed, but a variant we do not read (signed ints, JPEG)
  kModel = 5,            // an ONNX artifact that cannot be used (corrupt, missing metadata)
  kBackend = 6,          // ONNX Runtime itself: library missing, session or run failure
};

// Returns a stable lower-case name for a code ("bad_file"). Thread-safe.
const char* error_code_name(ErrorCode code) noexcept;

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace defectkit
