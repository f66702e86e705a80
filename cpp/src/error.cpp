#include "defectkit/error.h"

namespace defectkit {

const char* error_code_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kOk: return "ok";
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kFileNotFound: return "file_not_found";
    case ErrorCode::kBadFile: return "bad_file";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kModel: return "model";
    case ErrorCode::kBackend: return "backend";
  }
  return "unknown";
}

}  // namespace defectkit
