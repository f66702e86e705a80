#include "defectkit/int8_weights.h"

#include <cstdint>

#include "defectkit/artifact_metadata.h"
#include "defectkit/error.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define DEFECTKIT_X86_CPUID 1
#endif

namespace defectkit {

#ifdef DEFECTKIT_X86_CPUID
namespace {

// XCR0: the register states the OS saves on a context switch. AVX-512 needs
// SSE, AVX, the opmask and both halves of the ZMM registers (bits 1, 2, 5-7),
// as ONNX Runtime's own dispatch (MLAS) requires before it picks VNNI kernels.
bool os_saves_avx512_state() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (eax & 0xE6u) == 0xE6u;
}

}  // namespace

bool cpu_sums_int8_products_exactly() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return false;  // no OSXSAVE: no XGETBV
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool avx512f = b & (1u << 16), avx512bw = b & (1u << 30), avx512_vnni = c & (1u << 11);
  return avx512f && avx512bw && avx512_vnni && os_saves_avx512_state();
}

#else

// Other CPUs' INT8 kernels (ARM's dot-product and widening multiplies) sum in 32 bits.
bool cpu_sums_int8_products_exactly() { return true; }

#endif

void check_int8_weights_fit_cpu(const ArtifactMetadata& metadata, const std::string& path, bool exact_products) {
  if (metadata.precision != "int8" || metadata.int8_weight_bits <= 7 || exact_products) return;
  throw Error(ErrorCode::kModel,
              path + ": this INT8 artifact has full-range (8-bit) weights, which this CPU (no AVX512-VNNI) "
                     "multiplies with saturating 16-bit sums: its answers would differ from what export "
                     "measured. Re-export it with 7-bit weights (`defectkit export RUN --int8`, the default; "
                     "artifacts without defectkit.int8_weight_bits are 8-bit) or run the FP32 artifact");
}

}  // namespace defectkit
