// PNG through libpng: read from memory, errors caught with setjmp (libpng's
// default handler would abort, and no C++ exception may cross its C frames).
// libpng's own transformations give 8-bit grey or RGB: palettes expanded,
// 1-4 bit grey scaled, 16-bit samples scaled (png_set_scale_16: round(v/257)),
// alpha stripped.
#include <png.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include "defectkit/error.h"
#include "image_decode.h"

namespace defectkit::detail {
namespace {

// Everything the callbacks reach; plain data, so longjmp skips no destructor.
struct PngContext {
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t offset = 0;
  char message[256] = {};
};

void on_error(png_structp png, png_const_charp message) {
  auto* context = static_cast<PngContext*>(png_get_error_ptr(png));
  std::snprintf(context->message, sizeof context->message, "%s", message ? message : "libpng error");
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}  // benign (an ancillary chunk's CRC, ...): ignored

void read_from_memory(png_structp png, png_bytep out, size_t count) {
  auto* context = static_cast<PngContext*>(png_get_io_ptr(png));
  if (count > context->size - context->offset) png_error(png, "truncated PNG: the data ends early");
  std::memcpy(out, context->data + context->offset, count);
  context->offset += count;
}

struct PngHeader {
  uint32_t width = 0, height = 0;
  int channels = 0, bit_depth = 0;
};

// The setjmp stages. Only plain data lives in their frames: a longjmp out of
// libpng skips no destructor. Each returns false on a libpng error.
bool read_header(png_structp png, png_infop info, uint32_t max_side, PngHeader* out) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_user_limits(png, max_side, max_side);
  png_read_info(png, info);
  const int color = png_get_color_type(png, info);
  const int depth = png_get_bit_depth(png, info);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (depth == 16) png_set_scale_16(png);
  png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  out->width = png_get_image_width(png, info);
  out->height = png_get_image_height(png, info);
  out->channels = png_get_channels(png, info);
  out->bit_depth = png_get_bit_depth(png, info);
  return true;
}

bool read_rows(png_structp png, png_infop info, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  png_read_end(png, info);  // the chunks after the image, up to IEND: a cut file fails here
  return true;
}

class PngReader {
 public:
  explicit PngReader(PngContext* context) {
    png_ = png_create_read_struct(PNG_LIBPNG_VER_STRING, context, &on_error, &on_warning);
    if (png_ == nullptr) throw std::bad_alloc();
    info_ = png_create_info_struct(png_);
    if (info_ == nullptr) {
      png_destroy_read_struct(&png_, nullptr, nullptr);
      throw std::bad_alloc();
    }
    png_set_read_fn(png_, context, &read_from_memory);
  }
  ~PngReader() { png_destroy_read_struct(&png_, &info_, nullptr); }
  PngReader(const PngReader&) = delete;
  PngReader& operator=(const PngReader&) = delete;

  png_structp png() const { return png_; }
  png_infop info() const { return info_; }

 private:
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

[[noreturn]] void fail(const PngContext& context) {
  throw Error(ErrorCode::kBadFile, std::string("corrupt or truncated PNG: ") + context.message);
}

}  // namespace

Image decode_png(const uint8_t* data, size_t size, int64_t max_pixels) {
  PngContext context;
  context.data = data;
  context.size = size;
  PngReader reader(&context);
  PngHeader header;
  // libpng checks each side against this before the caller sees the header.
  const auto max_side = static_cast<uint32_t>(
      std::clamp<int64_t>(max_pixels, 1, static_cast<int64_t>(std::numeric_limits<int32_t>::max())));
  if (!read_header(reader.png(), reader.info(), max_side, &header)) fail(context);
  if (header.bit_depth != 8 || (header.channels != 1 && header.channels != 3)) {
    throw Error(ErrorCode::kUnsupported, "unsupported PNG: libpng gives " + std::to_string(header.channels) +
                                             " channels of " + std::to_string(header.bit_depth) + " bits");
  }
  Image image;
  allocate_image(image, header.width, header.height, header.channels, max_pixels);
  const size_t row_bytes = static_cast<size_t>(image.width) * image.channels;
  std::vector<png_bytep> rows(static_cast<size_t>(image.height));
  for (size_t y = 0; y < rows.size(); ++y) rows[y] = image.data.data() + y * row_bytes;
  if (!read_rows(reader.png(), reader.info(), rows.data())) fail(context);
  return image;
}

}  // namespace defectkit::detail
