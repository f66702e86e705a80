// Whether an INT8 artifact computes on this CPU what its export measured.
//
// ONNX Runtime's x86 INT8 kernels multiply uint8 activations by int8 weights.
// With AVX512-VNNI (vpdpbusd) each product is summed into 32 bits. Without it
// (AVX2, AVX-512 without VNNI: Haswell to Coffee Lake, Skylake-SP, AMD Zen 1-3)
// pairs of products are first added in 16 bits with saturation (vpmaddubsw):
// 2 x 255 x 127 does not fit, 2 x 255 x 64 does. An artifact whose weights use
// the full int8 range therefore gives other, wrong answers there (measured on
// the demo's INT8 strip models under an emulated Haswell: scores off by up to
// 0.37, docs/experiments/int8_portability.md). Export writes 7-bit weights
// (+-64) unless told otherwise, and says which in `defectkit.int8_weight_bits`.
#pragma once

#include <string>

namespace defectkit {

struct ArtifactMetadata;

// True where ONNX Runtime sums uint8 x int8 products without 16-bit
// saturation: an x86-64 CPU with AVX512-VNNI (and AVX512F/BW) whose OS saves
// the AVX-512 state, or any CPU that is not x86. Thread-safe.
bool cpu_sums_int8_products_exactly();

// Throws Error(kModel), starting with `path`, for an INT8 artifact with
// full-range (8-bit) weights when `exact_products` is false; the message says
// why and how to re-export. FP32 and 7-bit INT8 artifacts pass. Thread-safe.
void check_int8_weights_fit_cpu(const ArtifactMetadata& metadata, const std::string& path, bool exact_products);

}  // namespace defectkit
