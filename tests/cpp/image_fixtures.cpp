#include "image_fixtures.h"

#include <png.h>
#include <stdio.h>  // jpeglib.h needs FILE and size_t declared first
// clang-format off
#include <jpeglib.h>
// clang-format on
#include <tiffio.h>
#include <unistd.h>

#include <csetjmp>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace defectkit::testing {
namespace {

void png_append(png_structp png, png_bytep data, size_t size) {
  auto* out = static_cast<Bytes*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + size);
}

void png_flush(png_structp) {}

// The libpng write; false on a libpng error (its default handler longjmps here).
bool png_write(png_structp png, png_infop info, const PngSpec& spec, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  static const int kColor[] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                               PNG_COLOR_TYPE_RGB_ALPHA, PNG_COLOR_TYPE_PALETTE};
  png_set_IHDR(png, info, spec.width, spec.height, spec.bit_depth, kColor[spec.kind],
               spec.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  std::vector<png_color> palette;
  std::vector<png_byte> alpha;
  if (spec.kind == PngSpec::kPalette) {
    for (const auto& entry : spec.palette) palette.push_back({entry[0], entry[1], entry[2]});
    png_set_PLTE(png, info, palette.data(), static_cast<int>(palette.size()));
    if (spec.trns) {
      for (size_t i = 0; i < palette.size(); ++i) alpha.push_back(static_cast<png_byte>(i * 37 % 256));
      png_set_tRNS(png, info, alpha.data(), static_cast<int>(alpha.size()), nullptr);
    }
  }
  png_write_info(png, info);
  if (spec.bit_depth < 8) png_set_packing(png);  // rows hold one sample per byte
  png_set_interlace_handling(png);
  png_write_image(png, rows);
  png_write_end(png, info);
  return true;
}

}  // namespace

SampleFn gradient(int bits) {
  if (bits == 16) return [](int c, int y, int x) { return (c * 7919 + y * 4099 + x * 997 + c * y * 31) % 65536; };
  const int top = (1 << bits) - 1;
  return [top](int c, int y, int x) { return (c * 50 + y * 13 + x * 29) % (top + 1); };
}

int png_samples(const PngSpec& spec) {
  static const int kSamples[] = {1, 2, 3, 4, 1};
  return kSamples[spec.kind];
}

Bytes encode_png(const PngSpec& spec, const SampleFn& samples) {
  const int n = png_samples(spec), bytes_per = spec.bit_depth == 16 ? 2 : 1;
  std::vector<png_byte> pixels(static_cast<size_t>(spec.height) * spec.width * n * bytes_per);
  std::vector<png_bytep> rows(spec.height);
  for (int y = 0; y < spec.height; ++y) {
    rows[y] = pixels.data() + static_cast<size_t>(y) * spec.width * n * bytes_per;
    for (int x = 0; x < spec.width; ++x) {
      for (int c = 0; c < n; ++c) {
        const int v = samples(c, y, x);
        png_bytep at = rows[y] + (static_cast<size_t>(x) * n + c) * bytes_per;
        if (bytes_per == 2) {
          at[0] = static_cast<png_byte>(v >> 8);  // PNG is big-endian
          at[1] = static_cast<png_byte>(v & 0xff);
        } else {
          at[0] = static_cast<png_byte>(v);
        }
      }
    }
  }
  Bytes out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_set_write_fn(png, &out, &png_append, &png_flush);
  const bool ok = png_write(png, info, spec, rows.data());
  png_destroy_write_struct(&png, &info);
  if (!ok) throw std::runtime_error("libpng refused to write the test PNG");
  return out;
}

Bytes encode_jpeg(const JpegSpec& spec, const SampleFn& samples) {
  jpeg_compress_struct cinfo{};
  jpeg_error_mgr errors{};
  cinfo.err = jpeg_std_error(&errors);  // a test fixture: libjpeg's exit() on error is acceptable
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  const int n = spec.kind == JpegSpec::kGrey ? 1 : spec.kind == JpegSpec::kRgb ? 3 : 4;
  cinfo.image_width = spec.width;
  cinfo.image_height = spec.height;
  cinfo.input_components = n;
  cinfo.in_color_space = n == 1 ? JCS_GRAYSCALE : n == 3 ? JCS_RGB : JCS_CMYK;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, spec.quality, TRUE);
  if (spec.progressive) jpeg_simple_progression(&cinfo);
  std::vector<jpeg_scan_info> scans;
  if (spec.scan_per_bit) {
    // Each band (DC, then each AC coefficient alone) first at Al 10, then refined one bit at a time.
    for (int band = 0; band < 64; ++band) {
      scans.push_back({1, {0}, band, band, 0, 10});
      for (int al = 9; al >= 0; --al) scans.push_back({1, {0}, band, band, al + 1, al});
    }
    cinfo.scan_info = scans.data();
    cinfo.num_scans = static_cast<int>(scans.size());
  }
  jpeg_start_compress(&cinfo, TRUE);
  std::vector<JSAMPLE> row(static_cast<size_t>(spec.width) * n);
  while (cinfo.next_scanline < cinfo.image_height) {
    const int y = static_cast<int>(cinfo.next_scanline);
    for (int x = 0; x < spec.width; ++x)
      for (int c = 0; c < n; ++c) row[static_cast<size_t>(x) * n + c] = static_cast<JSAMPLE>(samples(c, y, x));
    JSAMPROW rows[1] = {row.data()};
    jpeg_write_scanlines(&cinfo, rows, 1);
  }
  jpeg_finish_compress(&cinfo);
  Bytes out(buffer, buffer + size);
  jpeg_destroy_compress(&cinfo);
  std::free(buffer);
  return out;
}

Decoded libjpeg_decode(const Bytes& jpeg) {
  jpeg_decompress_struct cinfo{};
  jpeg_error_mgr errors{};
  cinfo.err = jpeg_std_error(&errors);
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, jpeg.data(), jpeg.size());
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  Decoded d;
  d.height = static_cast<int>(cinfo.output_height);
  d.width = static_cast<int>(cinfo.output_width);
  d.channels = cinfo.output_components;
  d.data.resize(static_cast<size_t>(d.height) * d.width * d.channels);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = d.data.data() + static_cast<size_t>(cinfo.output_scanline) * d.width * d.channels;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return d;
}

Bytes encode_tiff(const ImageTiffSpec& spec, const SampleFn& samples) {
  char path[] = "/tmp/defectkit_image_fixture_XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  close(fd);
  TIFF* tif = TIFFOpen(path, "w");
  if (tif == nullptr) throw std::runtime_error("libtiff cannot write the test TIFF");
  const int n = spec.samples, bytes_per = spec.bits / 8;
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, static_cast<uint32_t>(spec.width));
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, static_cast<uint32_t>(spec.height));
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, static_cast<uint16_t>(n));
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, static_cast<uint16_t>(spec.bits));
  TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, spec.float_samples ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT);
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, spec.photometric);
  TIFFSetField(tif, TIFFTAG_PLANARCONFIG, spec.planar ? PLANARCONFIG_SEPARATE : PLANARCONFIG_CONTIG);
  TIFFSetField(tif, TIFFTAG_COMPRESSION, spec.compression);
  const bool extra = spec.alpha && (n == 2 || (n == 4 && spec.photometric == PHOTOMETRIC_RGB));
  if (extra) {
    const uint16_t kinds[1] = {EXTRASAMPLE_ASSOCALPHA};
    TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, 1, kinds);
  }
  const uint32_t block_w = spec.tiled ? 16 : spec.width, block_h = spec.tiled ? 16 : 5;
  if (spec.tiled) {
    TIFFSetField(tif, TIFFTAG_TILEWIDTH, block_w);
    TIFFSetField(tif, TIFFTAG_TILELENGTH, block_h);
  } else {
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, block_h);
  }
  const int planes = spec.planar ? n : 1, per_block = spec.planar ? 1 : n;
  std::vector<unsigned char> block(static_cast<size_t>(block_w) * block_h * per_block * bytes_per);
  for (int plane = 0; plane < planes; ++plane) {
    for (uint32_t y0 = 0; y0 < static_cast<uint32_t>(spec.height); y0 += block_h) {
      for (uint32_t x0 = 0; x0 < static_cast<uint32_t>(spec.width); x0 += block_w) {
        std::fill(block.begin(), block.end(), 0);
        for (uint32_t y = 0; y < block_h && y0 + y < static_cast<uint32_t>(spec.height); ++y) {
          for (uint32_t x = 0; x < block_w && x0 + x < static_cast<uint32_t>(spec.width); ++x) {
            for (int s = 0; s < per_block; ++s) {
              const int c = spec.planar ? plane : s;
              const int v = samples(c, static_cast<int>(y0 + y), static_cast<int>(x0 + x));
              unsigned char* at = block.data() + ((static_cast<size_t>(y) * block_w + x) * per_block + s) * bytes_per;
              if (spec.float_samples) {
                const float f = static_cast<float>(v);
                std::memcpy(at, &f, sizeof f);
              } else if (bytes_per == 2) {
                const auto u = static_cast<uint16_t>(v);
                std::memcpy(at, &u, sizeof u);  // native order; libtiff swaps if needed
              } else {
                *at = static_cast<unsigned char>(v);
              }
            }
          }
        }
        const tmsize_t bytes = spec.tiled ? static_cast<tmsize_t>(block.size())
                                          : static_cast<tmsize_t>(std::min<uint32_t>(block_h, spec.height - y0)) *
                                                block_w * per_block * bytes_per;
        const tmsize_t wrote =
            spec.tiled ? TIFFWriteEncodedTile(tif, TIFFComputeTile(tif, x0, y0, 0, plane), block.data(), bytes)
                       : TIFFWriteEncodedStrip(tif, TIFFComputeStrip(tif, y0, plane), block.data(), bytes);
        if (wrote < 0) {
          TIFFClose(tif);
          throw std::runtime_error("libtiff failed writing the test TIFF");
        }
      }
    }
  }
  TIFFClose(tif);
  std::ifstream in(path, std::ios::binary);
  Bytes out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  unlink(path);
  return out;
}

Bytes truncated(const Bytes& bytes, size_t keep) {
  return Bytes(bytes.begin(), bytes.begin() + std::min(keep, bytes.size()));
}

void write_file(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace defectkit::testing
