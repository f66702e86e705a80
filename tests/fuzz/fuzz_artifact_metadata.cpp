// libFuzzer harness: arbitrary bytes -> artifact metadata -> parse_artifact_info.
// The bytes are read as lines "key=value" (the key without its `defectkit.`
// prefix, which is added), the shape of an artifact's metadata_props. Every
// input must parse or throw defectkit::Error; anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "defectkit/artifact.h"
#include "defectkit/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::map<std::string, std::string> metadata;
  for (size_t start = 0; start <= text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    const size_t eq = line.find('=');
    if (eq != std::string::npos) metadata["defectkit." + line.substr(0, eq)] = line.substr(eq + 1);
    start = end + 1;
  }
  try {
    (void)defectkit::parse_artifact_info(metadata, "fuzz.onnx");
  } catch (const defectkit::Error&) {
    // A clean refusal.
  }
  return 0;
}
