// libFuzzer harness: arbitrary bytes -> StripReader::read -> CHW tensor.
// Every input must either decode or throw defectkit::Error; a crash, a
// sanitizer report, another exception type or a hang is a finding.
//
// StripReader reads paths (libtiff opens the file itself), so the bytes go to
// an anonymous memfd read back through /proc/self/fd/N: the public API stays
// path-only and the harness exercises exactly the production code path
// (signature check, TIFFOpenExt, page walking, decoding).
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "defectkit/error.h"
#include "defectkit/strip_reader.h"

namespace {

int strip_fd() {
  static const int fd = [] {
    const int created = memfd_create("fuzz_strip", 0);
    if (created < 0) std::abort();
    return created;
  }();
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = strip_fd();
  if (ftruncate(fd, 0) != 0) std::abort();
  for (size_t done = 0; done < size;) {
    const ssize_t wrote = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (wrote <= 0) std::abort();
    done += static_cast<size_t>(wrote);
  }
  defectkit::StripReaderOptions options;
  // 4 Mi values (16 MiB of floats): big enough for every layout, small enough
  // that a header claiming a huge image is refused rather than exhausting
  // the fuzzer's memory limit on a legitimate allocation.
  options.max_values = int64_t{1} << 22;
  try {
    const defectkit::StripTensor strip = defectkit::StripReader(options).read("/proc/self/fd/" + std::to_string(fd));
    // Touch every value so a short buffer shows up under ASan.
    volatile float sum = 0.0f;
    for (float v : strip.data) sum = sum + v;
    (void)sum;
  } catch (const defectkit::Error&) {
    // A clean refusal: the expected outcome for most inputs.
  }
  return 0;
}
