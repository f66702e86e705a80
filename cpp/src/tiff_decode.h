// Internal: libtiff behind a small, exception-safe surface for StripReader.
// Everything here throws defectkit::Error whose message does NOT yet carry the
// path; StripReader::read prefixes it. Nothing here shares mutable state.
#pragma once

#include <tiffio.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace defectkit::detail {

// An open TIFF whose libtiff errors are captured per handle (never printed).
class TiffFile {
 public:
  // Opens `path` read-only, without memory mapping (a file truncated under us
  // must not SIGBUS). libtiff refuses single allocations above
  // `max_single_alloc` bytes. Throws Error(kBadFile) with libtiff's message.
  TiffFile(const std::string& path, int64_t max_single_alloc);

  // Opens `size` bytes at `data` (ImageReader's buffers), which must outlive
  // this object. Throws as the path constructor does.
  TiffFile(const void* data, size_t size, int64_t max_single_alloc);

  TIFF* get() const { return tif_.get(); }

  // The first error libtiff reported since the last call (empty if none); clears it.
  std::string take_error();

 private:
  struct Messages {
    std::string path;  // dropped from libtiff's messages: the caller prefixes it already
    std::string first_error;
  };
  struct Memory {  // a buffer read through libtiff's client I/O
    const unsigned char* data = nullptr;
    uint64_t size = 0;
    uint64_t offset = 0;
  };
  static int on_error(TIFF*, void* user_data, const char* module, const char* fmt, va_list ap);
  static int on_warning(TIFF*, void*, const char*, const char*, va_list) { return 1; }  // ignored
  // Allocates the open options: per-handle handlers and the allocation limit.
  static std::unique_ptr<TIFFOpenOptions, void (*)(TIFFOpenOptions*)> open_options(Messages* messages,
                                                                                   int64_t max_single_alloc);
  void check_opened();

  std::unique_ptr<Messages> messages_;  // heap, so its address survives moves of TiffFile
  std::unique_ptr<Memory> memory_;      // memory-backed files only; heap for the same reason
  std::unique_ptr<TIFF, void (*)(TIFF*)> tif_;
};

// The tags of the current directory that decide how its samples are decoded.
struct TiffPage {
  uint32_t width = 0;
  uint32_t height = 0;
  uint16_t samples = 1;        // samples per pixel
  uint16_t bits = 1;           // bits per sample
  uint16_t sample_format = 1;  // SAMPLEFORMAT_*; absent means UINT
  uint16_t planar = 1;         // PLANARCONFIG_CONTIG or _SEPARATE
  uint16_t compression = 1;    // COMPRESSION_*
  bool tiled = false;
  uint32_t tile_width = 0;   // tiled only
  uint32_t tile_height = 0;  // tiled only
  uint32_t depth = 1;        // ImageDepth; > 1 is a 3-D volume

  // "uint8", "float32", "int16", "12-bit uint", ...
  std::string sample_type_name() const;
};

// Reads the tags of the current directory. Throws Error(kBadFile) on a tag
// libtiff cannot read.
TiffPage read_page(TIFF* tif);

// Throws Error(kUnsupported) unless the page holds uint8/uint16/float32/float64
// samples compressed losslessly with a codec this libtiff decodes.
void check_decodable(const TiffPage& page);

// "LZW", "JPEG", "compression 12345".
std::string compression_name(uint16_t compression);

// Receives decoded samples: `count` samples of page channel `channel` for
// row `y` from column `x` on, found every `stride` bytes from `src` (in the
// file's sample type, unaligned: read them with memcpy).
using SampleSink = std::function<void(const unsigned char* src, size_t stride, size_t count, uint16_t channel,
                                      uint32_t y, uint32_t x)>;

// Decodes every sample of the current directory, strip by strip or tile by
// tile, handing each run of samples to `sink`. The caller has checked the
// sample type and that samples * height * width <= max_values, which also
// bounds block buffers. Throws Error(kBadFile) with libtiff's message on a
// decode failure or short read, Error(kUnsupported) for subsampled layouts.
void walk_page(TiffFile& file, const TiffPage& page, int64_t max_values, const SampleSink& sink);

// Decodes every sample of the current directory into `out`, a CHW float32
// buffer of page.samples x height x width values (channel c of the page at
// out + c * height * width): uint8 as is, uint16 / 257, float32 bit-exact,
// float64 cast. The caller has checked check_decodable and that
// samples * height * width <= max_values. Block buffers are bounded by
// max_values samples. Throws Error(kBadFile) with libtiff's message on a
// decode failure or short read.
void decode_page(TiffFile& file, const TiffPage& page, int64_t max_values, float* out);

}  // namespace defectkit::detail
