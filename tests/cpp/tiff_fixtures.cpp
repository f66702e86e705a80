#include "tiff_fixtures.h"

#include <tiffio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>

namespace defectkit::testing {
namespace {

int bits_of(SampleType type) {
  switch (type) {
    case SampleType::kUint8:
      return 8;
    case SampleType::kUint16:
    case SampleType::kInt16:
    case SampleType::kFloat16:
      return 16;
    case SampleType::kFloat32:
    case SampleType::kUint32:
      return 32;
    case SampleType::kFloat64:
      return 64;
    case SampleType::kUint12:
      return 12;
  }
  return 8;
}

uint16_t sample_format_of(SampleType type) {
  switch (type) {
    case SampleType::kInt16:
      return SAMPLEFORMAT_INT;
    case SampleType::kFloat16:
    case SampleType::kFloat32:
    case SampleType::kFloat64:
      return SAMPLEFORMAT_IEEEFP;
    default:
      return SAMPLEFORMAT_UINT;
  }
}

template <typename T>
void put(T value, unsigned char* dst) {
  std::memcpy(dst, &value, sizeof(T));
}

// Stores `value` as one sample of `type` in native byte order (libtiff swaps on write).
void put_sample(SampleType type, double value, unsigned char* dst) {
  switch (type) {
    case SampleType::kUint8:
      put(static_cast<uint8_t>(value), dst);
      break;
    case SampleType::kUint16:
      put(static_cast<uint16_t>(value), dst);
      break;
    case SampleType::kInt16:
      put(static_cast<int16_t>(value), dst);
      break;
    case SampleType::kUint32:
      put(static_cast<uint32_t>(value), dst);
      break;
    case SampleType::kFloat16:
      put(static_cast<uint16_t>(0x3C00), dst);
      break;  // 1.0; only refused, never read
    case SampleType::kFloat32:
      put(static_cast<float>(value), dst);
      break;
    case SampleType::kFloat64:
      put(value, dst);
      break;
    case SampleType::kUint12:
      break;  // not byte-addressable; written as zeros
  }
}

struct TiffCloser {
  void operator()(TIFF* tif) const { TIFFClose(tif); }
};

void check(int ok, const std::string& what) {
  if (!ok) throw std::runtime_error("libtiff failed to " + what);
}

// Fills the pixels [x0, x0+cols) x [y0, y0+rows) of samples [s0, s0+block_samples)
// into a block buffer with rows of `row_pixels` pixels.
void fill_block(const TiffSpec& spec, const ValueFn& values, int channel_offset, int block_samples, int x0, int y0,
                int cols, int rows, int row_pixels, std::vector<unsigned char>& block) {
  if (spec.type == SampleType::kUint12) return;
  const int bytes = bits_of(spec.type) / 8;
  for (int r = 0; r < rows; ++r) {
    for (int x = 0; x < cols; ++x) {
      for (int s = 0; s < block_samples; ++s) {
        const size_t at = ((static_cast<size_t>(r) * row_pixels + x) * block_samples + s) * bytes;
        put_sample(spec.type, values(channel_offset + s, y0 + r, x0 + x), block.data() + at);
      }
    }
  }
}

// libtiff 4.5.0 byte-swaps the caller's buffer into file order BEFORE the
// floating-point predictor runs, but that predictor expects native order: a
// big-endian file written on a little-endian host (or vice versa) with
// PREDICTOR_FLOATINGPOINT comes out scrambled (tifffile reads it as the same
// garbage; libtiff's reader is right, checked against tifffile-written files).
// Probed once, so a libtiff that fixes this is not "worked around" into the bug.
bool writer_swaps_before_fp_predictor() {
  static const bool broken = [] {
    const std::string path = "/tmp/defectkit_fp_predictor_probe_" + std::to_string(::getpid()) + ".tif";
    float written[2] = {1.5f, -2.25f}, back[2] = {0.0f, 0.0f};
    {
      const uint16_t one = 1;
      unsigned char first_byte;
      std::memcpy(&first_byte, &one, 1);
      const char* swapped_mode = first_byte == 1 ? "wb" : "wl";  // the byte order the host does not use
      std::unique_ptr<TIFF, TiffCloser> tif(TIFFOpen(path.c_str(), swapped_mode));
      if (!tif) return false;
      TIFFSetField(tif.get(), TIFFTAG_IMAGEWIDTH, 2u);
      TIFFSetField(tif.get(), TIFFTAG_IMAGELENGTH, 1u);
      TIFFSetField(tif.get(), TIFFTAG_BITSPERSAMPLE, 32);
      TIFFSetField(tif.get(), TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_IEEEFP);
      TIFFSetField(tif.get(), TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
      TIFFSetField(tif.get(), TIFFTAG_COMPRESSION, COMPRESSION_LZW);
      TIFFSetField(tif.get(), TIFFTAG_PREDICTOR, PREDICTOR_FLOATINGPOINT);
      TIFFSetField(tif.get(), TIFFTAG_ROWSPERSTRIP, 1u);
      TIFFWriteEncodedStrip(tif.get(), 0, written, sizeof written);
    }
    written[0] = 1.5f;  // libtiff may have swapped the buffer in place
    written[1] = -2.25f;
    {
      std::unique_ptr<TIFF, TiffCloser> tif(TIFFOpen(path.c_str(), "r"));
      if (tif) TIFFReadEncodedStrip(tif.get(), 0, back, sizeof back);
    }
    std::remove(path.c_str());
    return back[0] != written[0] || back[1] != written[1];
  }();
  return broken;
}

// Undoes, ahead of time, the swap libtiff is about to apply (see above).
void preswap_for_fp_predictor(TIFF* tif, const TiffSpec& spec, std::vector<unsigned char>& block) {
  if (spec.predictor != PREDICTOR_FLOATINGPOINT || !TIFFIsByteSwapped(tif) || !writer_swaps_before_fp_predictor()) {
    return;
  }
  if (spec.type == SampleType::kFloat32) {
    TIFFSwabArrayOfFloat(reinterpret_cast<float*>(block.data()), block.size() / 4);
  } else if (spec.type == SampleType::kFloat64) {
    TIFFSwabArrayOfDouble(reinterpret_cast<double*>(block.data()), block.size() / 8);
  }
}

void write_page(TIFF* tif, const TiffSpec& spec, const ValueFn& values, int samples, int channel_offset, int page,
                int pages) {
  const bool separate = spec.layout == Layout::kPlanar && samples > 1;
  check(TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, static_cast<uint32_t>(spec.width)), "set width");
  check(TIFFSetField(tif, TIFFTAG_IMAGELENGTH, static_cast<uint32_t>(spec.height)), "set height");
  check(TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, static_cast<uint16_t>(samples)), "set samples");
  check(TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, static_cast<uint16_t>(bits_of(spec.type))), "set bits");
  check(TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, sample_format_of(spec.type)), "set sample format");
  check(TIFFSetField(tif, TIFFTAG_PLANARCONFIG, separate ? PLANARCONFIG_SEPARATE : PLANARCONFIG_CONTIG), "set planar");
  check(TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, samples >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK), "set photo");
  const int extra = samples >= 3 ? samples - 3 : samples - 1;
  if (extra > 0) {
    std::vector<uint16_t> kinds(extra, EXTRASAMPLE_UNSPECIFIED);
    check(TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, static_cast<uint16_t>(extra), kinds.data()), "set extra samples");
  }
  check(TIFFSetField(tif, TIFFTAG_COMPRESSION, spec.compression), "set compression");
  if (spec.predictor != PREDICTOR_NONE) check(TIFFSetField(tif, TIFFTAG_PREDICTOR, spec.predictor), "set predictor");
  if (pages > 1) {
    check(TIFFSetField(tif, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE), "set subfile type");
    check(TIFFSetField(tif, TIFFTAG_PAGENUMBER, static_cast<uint16_t>(page), static_cast<uint16_t>(pages)), "page");
  }
  const int block_samples = separate ? 1 : samples;
  const int planes = separate ? samples : 1;
  if (spec.tiled) {
    check(TIFFSetField(tif, TIFFTAG_TILEWIDTH, spec.tile_width), "set tile width");
    check(TIFFSetField(tif, TIFFTAG_TILELENGTH, spec.tile_height), "set tile length");
    std::vector<unsigned char> block(static_cast<size_t>(TIFFTileSize(tif)));
    for (int plane = 0; plane < planes; ++plane) {
      for (int y = 0; y < spec.height; y += spec.tile_height) {
        for (int x = 0; x < spec.width; x += spec.tile_width) {
          std::fill(block.begin(), block.end(), 0);
          const int rows = std::min<int>(spec.tile_height, spec.height - y);
          const int cols = std::min<int>(spec.tile_width, spec.width - x);
          fill_block(spec, values, channel_offset + plane, block_samples, x, y, cols, rows, spec.tile_width, block);
          preswap_for_fp_predictor(tif, spec, block);
          const uint32_t tile = TIFFComputeTile(tif, x, y, 0, plane);
          check(TIFFWriteEncodedTile(tif, tile, block.data(), static_cast<tmsize_t>(block.size())) >= 0, "write tile");
        }
      }
    }
  } else {
    check(TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, spec.rows_per_strip), "set rows per strip");
    const size_t row_bytes = static_cast<size_t>(TIFFScanlineSize(tif));
    for (int plane = 0; plane < planes; ++plane) {
      for (int y = 0; y < spec.height; y += spec.rows_per_strip) {
        const int rows = std::min<int>(spec.rows_per_strip, spec.height - y);
        std::vector<unsigned char> block(row_bytes * rows, 0);
        fill_block(spec, values, channel_offset + plane, block_samples, 0, y, spec.width, rows, spec.width, block);
        preswap_for_fp_predictor(tif, spec, block);
        const uint32_t strip = TIFFComputeStrip(tif, y, plane);
        check(TIFFWriteEncodedStrip(tif, strip, block.data(), static_cast<tmsize_t>(block.size())) >= 0, "write strip");
      }
    }
  }
  check(TIFFWriteDirectory(tif), "write directory");
}

void append_u16(std::vector<unsigned char>& out, uint16_t v) {
  out.push_back(v & 0xFF);
  out.push_back(v >> 8);
}

void append_u32(std::vector<unsigned char>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back((v >> (8 * i)) & 0xFF);
}

}  // namespace

const char* sample_type_name(SampleType type) {
  switch (type) {
    case SampleType::kUint8:
      return "uint8";
    case SampleType::kUint16:
      return "uint16";
    case SampleType::kFloat32:
      return "float32";
    case SampleType::kFloat64:
      return "float64";
    case SampleType::kInt16:
      return "int16";
    case SampleType::kUint32:
      return "uint32";
    case SampleType::kFloat16:
      return "float16";
    case SampleType::kUint12:
      return "uint12";
  }
  return "?";
}

const char* layout_name(Layout layout) {
  switch (layout) {
    case Layout::kPlanar:
      return "planar";
    case Layout::kContig:
      return "contig";
    case Layout::kPages:
      return "pages";
  }
  return "?";
}

ValueFn default_values(SampleType type) {
  switch (type) {
    case SampleType::kUint8:
      return [](int c, int y, int x) { return double((c * 61 + y * 7 + x * 3) % 256); };
    case SampleType::kUint16:
      return [](int c, int y, int x) { return double((c * 20011 + y * 331 + x * 17 + y * x * 29) % 65536); };
    case SampleType::kFloat32:
    case SampleType::kFloat64:
      return [](int c, int y, int x) {
        if (x == 0 && y == 0) return c == 0 ? 1e-40 : -0.0;  // a float32 denormal; negative zero
        if (x == 1 && y == 0) return c == 0 ? 3.0e38 : -1.0e-7;
        return (c + 1) * (y - 10.5) * (x + 0.25) / 3.0 + 1e-9 * x;
      };
    default:
      return [](int c, int y, int x) { return double((c + y + x) % 100); };
  }
}

float expected_float(SampleType type, double value) {
  switch (type) {
    case SampleType::kUint8:
      return static_cast<float>(static_cast<uint8_t>(value));
    case SampleType::kUint16:
      return static_cast<float>(static_cast<uint16_t>(value)) / 257.0f;
    case SampleType::kFloat32:
      return static_cast<float>(value);
    case SampleType::kFloat64:
      return static_cast<float>(value);
    default:
      return 0.0f;
  }
}

void write_tiff(const std::string& path, const TiffSpec& spec, const ValueFn& values) {
  const ValueFn fn = values ? values : default_values(spec.type);
  std::unique_ptr<TIFF, TiffCloser> tif(TIFFOpen(path.c_str(), spec.mode.c_str()));
  if (!tif) throw std::runtime_error("libtiff cannot create " + path);
  if (spec.layout == Layout::kPages) {
    for (int c = 0; c < spec.channels; ++c) write_page(tif.get(), spec, fn, 1, c, c, spec.channels);
  } else {
    write_page(tif.get(), spec, fn, spec.channels, 0, 0, 1);
  }
}

std::vector<unsigned char> RawTiff::bytes() const {
  std::vector<unsigned char> strip = pixels;
  if (strip.empty()) strip.assign(static_cast<size_t>(width) * height * samples * bits / 8, 0);
  struct Entry {
    uint16_t tag, type;
    std::vector<uint32_t> values;  // SHORT (3) or LONG (4)
  };
  const uint16_t kShort = 3, kLong = 4;
  std::vector<Entry> entries = {
      {256, kLong, {width}},
      {257, kLong, {height}},
      {258, kShort, std::vector<uint32_t>(samples, bits)},
      {259, kShort, {1}},
      {262, kShort, {samples >= 3 ? 2u : 1u}},
      {273, kLong, {0}},  // StripOffsets, patched below
      {277, kShort, {samples}},
      {278, kLong, {height}},
      {279, kLong, {static_cast<uint32_t>(strip_byte_count >= 0 ? strip_byte_count : strip.size())}},
      {284, kShort, {1}},
      {339, kShort, std::vector<uint32_t>(samples, sample_format)},
  };
  if (samples > 3) entries.insert(entries.begin() + 10, Entry{338, kShort, std::vector<uint32_t>(samples - 3, 0)});
  const uint32_t ifd_offset = 8;
  const uint32_t ifd_size = 2 + 12 * static_cast<uint32_t>(entries.size()) + 4;
  std::vector<unsigned char> arrays;  // values too long for an entry, after the IFD
  std::vector<uint32_t> array_offsets(entries.size(), 0);
  for (size_t i = 0; i < entries.size(); ++i) {
    const size_t size = entries[i].values.size() * (entries[i].type == kShort ? 2 : 4);
    if (size <= 4) continue;
    array_offsets[i] = ifd_offset + ifd_size + static_cast<uint32_t>(arrays.size());
    for (uint32_t v : entries[i].values) entries[i].type == kShort ? append_u16(arrays, v) : append_u32(arrays, v);
  }
  const uint32_t data_offset = ifd_offset + ifd_size + static_cast<uint32_t>(arrays.size());
  entries[5].values[0] = static_cast<uint32_t>(strip_offset >= 0 ? strip_offset : data_offset);

  std::vector<unsigned char> out = {'I', 'I', 42, 0};
  append_u32(out, ifd_offset);
  append_u16(out, static_cast<uint16_t>(entries.size()));
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    append_u16(out, e.tag);
    append_u16(out, e.type);
    append_u32(out, static_cast<uint32_t>(e.values.size()));
    if (array_offsets[i]) {
      append_u32(out, array_offsets[i]);
    } else if (e.type == kShort) {
      append_u16(out, e.values[0]);
      append_u16(out, e.values.size() > 1 ? e.values[1] : 0);
    } else {
      append_u32(out, e.values[0]);
    }
  }
  append_u32(out, 0);  // no next IFD
  out.insert(out.end(), arrays.begin(), arrays.end());
  out.insert(out.end(), strip.begin(), strip.end());
  return out;
}

void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::vector<unsigned char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace defectkit::testing
