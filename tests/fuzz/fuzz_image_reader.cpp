// libFuzzer harness: arbitrary bytes -> ImageReader::decode -> 8-bit HWC image.
// The bytes go through the same path a file's do (ImageReader::read reads the
// file whole, then decodes it): the signature picks libpng, libjpeg-turbo or
// libtiff. Every input must either decode or throw defectkit::Error; a crash,
// a sanitizer report, another exception type (or an exit() from a library's
// default error handler) or a hang is a finding.
#include <cstddef>
#include <cstdint>

#include "defectkit/error.h"
#include "defectkit/image_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  defectkit::ImageReaderOptions options;
  // 4 Mi pixels (12 MiB as RGB): big enough for every kind, small enough that
  // a header claiming a huge image is refused rather than exhausting the
  // fuzzer's memory limit on a legitimate allocation.
  options.max_pixels = int64_t{1} << 22;
  try {
    const defectkit::Image image = defectkit::ImageReader(options).decode(data, size, "fuzz input");
    if (image.data.size() != static_cast<size_t>(image.height) * image.width * image.channels ||
        (image.channels != 1 && image.channels != 3)) {
      __builtin_trap();  // the reader's contract broken
    }
    // Touch every byte so a short buffer shows up under ASan.
    volatile unsigned sum = 0;
    for (uint8_t v : image.data) sum = sum + v;
    (void)sum;
  } catch (const defectkit::Error&) {
    // A clean refusal: the expected outcome for most inputs.
  }
  return 0;
}
