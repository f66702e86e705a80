#include "tiff_decode.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <vector>

#include "defectkit/error.h"

namespace defectkit::detail {
namespace {

// The name libtiff gives a buffer opened through client I/O (dropped from its messages, like a path).
constexpr const char* kBufferName = "image buffer";

// libtiff's process-wide handlers print to stderr. Every handle we open has
// its own handlers, so the global ones only ever see messages libtiff emits
// before a handle exists or from code paths still on the old API: drop them.
void silence_global_handlers() {
  static const bool silenced = [] {
    TIFFSetErrorHandler(nullptr);
    TIFFSetErrorHandlerExt(nullptr);
    TIFFSetWarningHandler(nullptr);
    TIFFSetWarningHandlerExt(nullptr);
    return true;
  }();
  (void)silenced;
}

// "module: message", without the path libtiff puts in some messages (and
// uses as the module of others).
std::string format_message(const std::string& path, const char* module, const char* fmt, va_list ap) {
  char buffer[512];
  std::vsnprintf(buffer, sizeof buffer, fmt, ap);  // truncates long messages; enough to name the problem
  std::string message = module && *module && path != module ? std::string(module) + ": " + buffer : buffer;
  const std::string noise = path + ": ";
  for (size_t at = message.find(noise); !path.empty() && at != std::string::npos; at = message.find(noise, at)) {
    message.erase(at, noise.size());
  }
  return message;
}

float to_float(uint8_t v) { return v; }
float to_float(uint16_t v) { return static_cast<float>(v) / 257.0f; }  // 65535 -> 255
float to_float(float v) { return v; }
float to_float(double v) { return static_cast<float>(v); }

// Converts `count` samples of type T found every `stride` bytes from `src`.
// memcpy, not a cast: block buffers give no alignment guarantee per sample.
template <typename T>
void convert_run(const unsigned char* src, size_t stride, size_t count, float* dst) {
  for (size_t i = 0; i < count; ++i) {
    T value;
    std::memcpy(&value, src + i * stride, sizeof(T));
    dst[i] = to_float(value);
  }
}

using ConvertRun = void (*)(const unsigned char*, size_t, size_t, float*);

ConvertRun converter_for(const TiffPage& page) {
  if (page.sample_format == SAMPLEFORMAT_IEEEFP) return page.bits == 32 ? convert_run<float> : convert_run<double>;
  return page.bits == 8 ? convert_run<uint8_t> : convert_run<uint16_t>;
}

// One decoded strip or tile, and where it lands in the page.
struct Block {
  const unsigned char* data;  // decoded bytes, rows of `row_bytes`
  size_t row_bytes;
  uint32_t x0, y0;         // top-left pixel in the page
  uint32_t rows, cols;     // the part inside the page (tiles may overhang)
  uint16_t first_channel;  // plane index for PLANARCONFIG_SEPARATE, else 0
};

void scatter_block(const TiffPage& page, const Block& block, uint16_t block_samples, const SampleSink& sink) {
  const size_t sample_bytes = page.bits / 8;
  for (uint16_t s = 0; s < block_samples; ++s) {
    for (uint32_t r = 0; r < block.rows; ++r) {
      const unsigned char* src = block.data + r * block.row_bytes + s * sample_bytes;
      sink(src, block_samples * sample_bytes, block.cols, block.first_channel + s, block.y0 + r, block.x0);
    }
  }
}

[[noreturn]] void throw_decode_error(TiffFile& file, const char* what, uint32_t index) {
  std::string detail = file.take_error();
  if (detail.empty()) detail = "libtiff returned too few bytes";
  throw Error(ErrorCode::kBadFile,
              "truncated or corrupt image data in " + std::string(what) + " " + std::to_string(index) + ": " + detail);
}

void decode_tiles(TiffFile& file, const TiffPage& page, uint16_t block_samples, uint16_t planes, int64_t max_values,
                  const SampleSink& sink) {
  TIFF* tif = file.get();
  const uint64_t tw = page.tile_width, th = page.tile_height;
  // A tile may overhang the image, but not absurdly: at most 4x the page's
  // values (or 4 Mi values, for small pages with big tiles), and max_values.
  const uint64_t page_values = static_cast<uint64_t>(page.width) * page.height * page.samples;  // <= max_values
  const uint64_t limit = std::min<uint64_t>(max_values, std::max<uint64_t>(4 * page_values, uint64_t{1} << 22));
  if (tw == 0 || th == 0) throw Error(ErrorCode::kBadFile, "has a zero tile width or height");
  if (tw > limit || th > limit / tw || block_samples > limit / (tw * th)) {
    throw Error(ErrorCode::kBadFile, "has implausibly large tiles (" + std::to_string(tw) + " x " + std::to_string(th) +
                                         ") for a " + std::to_string(page.width) + " x " + std::to_string(page.height) +
                                         " image");
  }
  const uint64_t row_bytes = tw * block_samples * (page.bits / 8);
  const uint64_t tile_bytes = row_bytes * th;
  if (TIFFTileRowSize64(tif) != row_bytes || TIFFTileSize64(tif) != tile_bytes) {
    throw Error(ErrorCode::kUnsupported, "unsupported tile layout (subsampled or padded samples)");
  }
  std::vector<unsigned char> buffer(tile_bytes);
  for (uint16_t plane = 0; plane < planes; ++plane) {
    for (uint32_t y = 0; y < page.height; y += std::min<uint64_t>(th, page.height - y)) {
      for (uint32_t x = 0; x < page.width; x += std::min<uint64_t>(tw, page.width - x)) {
        const uint32_t tile = TIFFComputeTile(tif, x, y, 0, plane);
        const tmsize_t got = TIFFReadEncodedTile(tif, tile, buffer.data(), static_cast<tmsize_t>(tile_bytes));
        if (got < 0 || static_cast<uint64_t>(got) != tile_bytes) throw_decode_error(file, "tile", tile);
        const Block block{buffer.data(),
                          row_bytes,
                          x,
                          y,
                          static_cast<uint32_t>(std::min<uint64_t>(th, page.height - y)),
                          static_cast<uint32_t>(std::min<uint64_t>(tw, page.width - x)),
                          plane};
        scatter_block(page, block, block_samples, sink);
      }
    }
  }
}

void decode_strips(TiffFile& file, const TiffPage& page, uint16_t block_samples, uint16_t planes,
                   const SampleSink& sink) {
  TIFF* tif = file.get();
  uint32_t rows_per_strip = 0;
  if (!TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rows_per_strip) || rows_per_strip == 0) {
    throw Error(ErrorCode::kBadFile, "has no usable RowsPerStrip");
  }
  rows_per_strip = std::min(rows_per_strip, page.height);
  // Both bounded by channels * height * width * 8, which the caller checked.
  const uint64_t row_bytes = static_cast<uint64_t>(page.width) * block_samples * (page.bits / 8);
  const uint64_t strip_bytes = row_bytes * rows_per_strip;
  if (TIFFScanlineSize64(tif) != row_bytes || TIFFStripSize64(tif) != strip_bytes) {
    throw Error(ErrorCode::kUnsupported, "unsupported strip layout (subsampled or padded samples)");
  }
  std::vector<unsigned char> buffer(strip_bytes);
  for (uint16_t plane = 0; plane < planes; ++plane) {
    for (uint32_t y = 0; y < page.height; y += std::min(rows_per_strip, page.height - y)) {
      const uint32_t rows = std::min(rows_per_strip, page.height - y);
      const uint32_t strip = TIFFComputeStrip(tif, y, plane);
      const tmsize_t want = static_cast<tmsize_t>(row_bytes * rows);  // the last strip may be short
      const tmsize_t got = TIFFReadEncodedStrip(tif, strip, buffer.data(), want);
      if (got != want) throw_decode_error(file, "strip", strip);
      scatter_block(page, Block{buffer.data(), row_bytes, 0, y, rows, page.width, plane}, block_samples, sink);
    }
  }
}

}  // namespace

TiffFile::TiffFile(const std::string& path, int64_t max_single_alloc)
    : messages_(std::make_unique<Messages>(Messages{path, {}})), tif_(nullptr, &TIFFClose) {
  const auto options = open_options(messages_.get(), max_single_alloc);
  // "m": no memory mapping, so a file truncated while we read is a read error, not SIGBUS.
  tif_.reset(TIFFOpenExt(path.c_str(), "rm", options.get()));  // the handle copies the options
  check_opened();
}

TiffFile::TiffFile(const void* data, size_t size, int64_t max_single_alloc)
    : messages_(std::make_unique<Messages>(Messages{kBufferName, {}})),
      memory_(std::make_unique<Memory>(Memory{static_cast<const unsigned char*>(data), size, 0})),
      tif_(nullptr, &TIFFClose) {
  const auto options = open_options(messages_.get(), max_single_alloc);
  auto read = [](thandle_t handle, void* out, tmsize_t want) -> tmsize_t {
    auto* m = static_cast<Memory*>(handle);
    const uint64_t left = m->offset < m->size ? m->size - m->offset : 0;
    const uint64_t count = std::min<uint64_t>(left, want < 0 ? 0 : static_cast<uint64_t>(want));
    if (count > 0) std::memcpy(out, m->data + m->offset, count);
    m->offset += count;
    return static_cast<tmsize_t>(count);
  };
  auto write = [](thandle_t, void*, tmsize_t) -> tmsize_t { return 0; };  // read-only
  auto seek = [](thandle_t handle, toff_t offset, int whence) -> toff_t {
    auto* m = static_cast<Memory*>(handle);
    const uint64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->offset : m->size;
    if (offset > UINT64_MAX - base) return static_cast<toff_t>(-1);
    m->offset = base + offset;  // past the end is allowed; reads there return nothing
    return m->offset;
  };
  auto close = [](thandle_t) { return 0; };
  auto size_of = [](thandle_t handle) -> toff_t { return static_cast<Memory*>(handle)->size; };
  auto map = [](thandle_t, void**, toff_t*) { return 0; };  // not mapped: every read is bounds-checked
  auto unmap = [](thandle_t, void*, toff_t) {};
  tif_.reset(TIFFClientOpenExt(kBufferName, "rm", memory_.get(), read, write, seek, close, size_of, map, unmap,
                               options.get()));
  check_opened();
}

std::unique_ptr<TIFFOpenOptions, void (*)(TIFFOpenOptions*)> TiffFile::open_options(Messages* messages,
                                                                                    int64_t max_single_alloc) {
  silence_global_handlers();
  std::unique_ptr<TIFFOpenOptions, void (*)(TIFFOpenOptions*)> options(TIFFOpenOptionsAlloc(), &TIFFOpenOptionsFree);
  if (!options) throw std::bad_alloc();
  TIFFOpenOptionsSetErrorHandlerExtR(options.get(), &TiffFile::on_error, messages);
  TIFFOpenOptionsSetWarningHandlerExtR(options.get(), &TiffFile::on_warning, nullptr);
  TIFFOpenOptionsSetMaxSingleMemAlloc(options.get(), static_cast<tmsize_t>(max_single_alloc));
  return options;
}

void TiffFile::check_opened() {
  if (!tif_) {
    std::string detail = take_error();
    if (detail.empty()) detail = "libtiff could not open it";
    throw Error(ErrorCode::kBadFile, "truncated or corrupt TIFF: " + detail);
  }
}

std::string TiffFile::take_error() {
  std::string message;
  message.swap(messages_->first_error);
  return message;
}

int TiffFile::on_error(TIFF*, void* user_data, const char* module, const char* fmt, va_list ap) {
  try {  // never let an exception cross libtiff's C frames
    auto* messages = static_cast<Messages*>(user_data);
    if (messages && messages->first_error.empty()) {
      messages->first_error = format_message(messages->path, module, fmt, ap);
    }
  } catch (...) {
  }
  return 1;  // handled: do not fall through to the global handlers
}

std::string TiffPage::sample_type_name() const {
  // Indexed by SAMPLEFORMAT_UINT (1) .. SAMPLEFORMAT_COMPLEXIEEEFP (6).
  static const char* const kKinds[] = {nullptr, "uint", "int", "float", "untyped", "complex int", "complex float"};
  const bool known = sample_format >= SAMPLEFORMAT_UINT && sample_format <= SAMPLEFORMAT_COMPLEXIEEEFP;
  const std::string kind = known ? kKinds[sample_format] : "SampleFormat " + std::to_string(sample_format);
  const bool whole_bytes = bits == 8 || bits == 16 || bits == 32 || bits == 64;
  if (known && whole_bytes && sample_format != SAMPLEFORMAT_VOID) return kind + std::to_string(bits);  // "int16"
  return std::to_string(bits) + "-bit " + kind;                                                        // "12-bit uint"
}

TiffPage read_page(TIFF* tif) {
  TiffPage page;
  // ImageWidth/ImageLength are required; a directory without them is left at 0 and refused by the caller.
  if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &page.width)) page.width = 0;
  if (!TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &page.height)) page.height = 0;
  const bool ok = TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &page.samples) &&
                  TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &page.bits) &&
                  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &page.sample_format) &&
                  TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &page.planar) &&
                  TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &page.compression) &&
                  TIFFGetFieldDefaulted(tif, TIFFTAG_IMAGEDEPTH, &page.depth);
  if (!ok) throw Error(ErrorCode::kBadFile, "libtiff could not read the image tags");
  page.tiled = TIFFIsTiled(tif) != 0;
  if (page.tiled && (!TIFFGetField(tif, TIFFTAG_TILEWIDTH, &page.tile_width) ||
                     !TIFFGetField(tif, TIFFTAG_TILELENGTH, &page.tile_height))) {
    throw Error(ErrorCode::kBadFile, "is tiled but has no TileWidth/TileLength");
  }
  return page;
}

std::string compression_name(uint16_t compression) {
  if (compression == COMPRESSION_NONE) return "none";
  const TIFFCodec* codec = TIFFFindCODEC(compression);
  return codec && codec->name ? codec->name : "compression " + std::to_string(compression);
}

void check_decodable(const TiffPage& page) {
  const bool uint_ok = page.sample_format == SAMPLEFORMAT_UINT && (page.bits == 8 || page.bits == 16);
  const bool float_ok = page.sample_format == SAMPLEFORMAT_IEEEFP && (page.bits == 32 || page.bits == 64);
  if (!uint_ok && !float_ok) {
    throw Error(ErrorCode::kUnsupported, "unsupported sample format: " + page.sample_type_name() +
                                             " (expected uint8, uint16, float32 or float64)");
  }
  if (page.depth != 1) {
    throw Error(ErrorCode::kUnsupported, "unsupported 3-D image (ImageDepth " + std::to_string(page.depth) + ")");
  }
  switch (page.compression) {
    case COMPRESSION_NONE:
    case COMPRESSION_LZW:
    case COMPRESSION_ADOBE_DEFLATE:
    case COMPRESSION_DEFLATE:
    case COMPRESSION_PACKBITS:
    case COMPRESSION_LZMA:
    case COMPRESSION_ZSTD:
      break;
    default:  // JPEG, WebP, LERC, JPEG 2000, PixarLog, SGILog: lossy (or lossy by default); CCITT, JBIG: bilevel
      throw Error(ErrorCode::kUnsupported, "unsupported compression: " + compression_name(page.compression) +
                                               " (expected a lossless one: none, LZW, Deflate, PackBits, ZSTD, LZMA)");
  }
  if (!TIFFIsCODECConfigured(page.compression)) {
    throw Error(ErrorCode::kUnsupported,
                "unsupported compression: " + compression_name(page.compression) + " is not built into this libtiff");
  }
}

void walk_page(TiffFile& file, const TiffPage& page, int64_t max_values, const SampleSink& sink) {
  const bool separate = page.planar == PLANARCONFIG_SEPARATE && page.samples > 1;
  if (!separate && page.planar != PLANARCONFIG_CONTIG && page.samples > 1) {
    throw Error(ErrorCode::kBadFile, "has an invalid PlanarConfiguration " + std::to_string(page.planar));
  }
  const uint16_t block_samples = separate ? 1 : page.samples;
  const uint16_t planes = separate ? page.samples : 1;
  file.take_error();  // report only what this page's decoding says
  if (page.tiled) {
    decode_tiles(file, page, block_samples, planes, max_values, sink);
  } else {
    decode_strips(file, page, block_samples, planes, sink);
  }
}

void decode_page(TiffFile& file, const TiffPage& page, int64_t max_values, float* out) {
  const ConvertRun convert = converter_for(page);
  const size_t plane_values = static_cast<size_t>(page.width) * page.height;
  walk_page(file, page, max_values,
            [&](const unsigned char* src, size_t stride, size_t count, uint16_t channel, uint32_t y, uint32_t x) {
              convert(src, stride, count, out + channel * plane_values + static_cast<size_t>(y) * page.width + x);
            });
}

}  // namespace defectkit::detail
