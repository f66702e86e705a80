#include "defectkit/strip_reader.h"

#include "defectkit/error.h"

namespace defectkit {

StripTensor StripReader::read(const std::string& path) const {
  throw Error(ErrorCode::kUnsupported, path + ": not implemented yet");
}

}  // namespace defectkit
