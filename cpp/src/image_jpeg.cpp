// JPEG through libjpeg-turbo, read from memory. libjpeg's default error
// handler calls exit(): ours longjmps back instead, and turns warnings
// (corrupt data that libjpeg would paper over with grey, a cut stream) into
// errors too, as TurboJPEG's TJFLAG_STOPONWARNING does. A progress monitor
// bounds the scans of a progressive file (thousands of tiny scans are a
// known way to make a small file decode for minutes).
#include <stdio.h>  // jpeglib.h needs FILE and size_t declared first
// clang-format off
#include <jpeglib.h>
#include <jerror.h>
// clang-format on

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "defectkit/error.h"
#include "image_decode.h"

namespace defectkit::detail {
namespace {

// Scans a progressive JPEG may have; libjpeg-turbo's TurboJPEG API uses the same bound.
constexpr int kMaxScans = 500;

// libjpeg passes &manager around as cinfo->err; the rest is ours. Plain data.
struct JpegErrors {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  int code;  // libjpeg's J_MESSAGE_CODE, or -1 for our own refusals
};

struct JpegProgress {
  jpeg_progress_mgr manager;  // first: libjpeg passes &manager as cinfo->progress
  JpegErrors* errors;
};

[[noreturn]] void on_error_exit(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->message);
  errors->code = cinfo->err->msg_code;
  std::longjmp(errors->jump, 1);
}

void on_emit_message(j_common_ptr cinfo, int level) {
  if (level < 0) on_error_exit(cinfo);  // a warning: the data is corrupt or cut
}

void on_output_message(j_common_ptr) {}  // never print

void on_progress(j_common_ptr cinfo) {
  auto* progress = reinterpret_cast<JpegProgress*>(cinfo->progress);
  const auto* decompress = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (cinfo->is_decompressor && decompress->input_scan_number > kMaxScans) {
    std::snprintf(progress->errors->message, sizeof progress->errors->message,
                  "more than %d scans (a progressive file built to decode slowly)", kMaxScans);
    progress->errors->code = -1;
    std::longjmp(progress->errors->jump, 1);
  }
}

struct JpegHeader {
  uint32_t width = 0, height = 0;
  J_COLOR_SPACE color_space = JCS_UNKNOWN;
  int components = 0;
};

// The setjmp stages: only plain data in their frames, so a longjmp skips no
// destructor. Each returns false on a libjpeg error (errors->message says which).
bool read_header(j_decompress_ptr cinfo, const uint8_t* data, size_t size, JpegHeader* out) {
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  if (setjmp(errors->jump)) return false;
  jpeg_mem_src(cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(cinfo, TRUE);
  out->width = cinfo->image_width;
  out->height = cinfo->image_height;
  out->color_space = cinfo->jpeg_color_space;
  out->components = cinfo->num_components;
  return true;
}

bool read_scanlines(j_decompress_ptr cinfo, J_COLOR_SPACE out_space, int channels, JSAMPROW* rows) {
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  if (setjmp(errors->jump)) return false;
  const JDIMENSION width = cinfo->image_width, height = cinfo->image_height;
  cinfo->out_color_space = out_space;
  jpeg_start_decompress(cinfo);
  // The rows were sized from the header: never let libjpeg write another shape into them.
  if (cinfo->output_width != width || cinfo->output_height != height || cinfo->output_components != channels) {
    std::snprintf(errors->message, sizeof errors->message, "libjpeg decodes another size than the header's");
    errors->code = -1;
    return false;
  }
  while (cinfo->output_scanline < cinfo->output_height) {
    const JDIMENSION before = cinfo->output_scanline;
    jpeg_read_scanlines(cinfo, rows + before, cinfo->output_height - before);
    if (cinfo->output_scanline == before) ERREXIT(cinfo, JERR_INPUT_EMPTY);  // memory source: never suspends
  }
  jpeg_finish_decompress(cinfo);  // reads up to EOI: a cut file warns here
  return true;
}

// The decompressor, destroyed however decoding ends.
struct JpegDecompressor {
  jpeg_decompress_struct cinfo{};
  JpegErrors errors{};
  JpegProgress progress{};
  bool created = false;

  JpegDecompressor() {
    cinfo.err = jpeg_std_error(&errors.manager);
    errors.manager.error_exit = &on_error_exit;
    errors.manager.emit_message = &on_emit_message;
    errors.manager.output_message = &on_output_message;
    progress.manager.progress_monitor = &on_progress;
    progress.errors = &errors;
  }
  ~JpegDecompressor() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
  JpegDecompressor(const JpegDecompressor&) = delete;
  JpegDecompressor& operator=(const JpegDecompressor&) = delete;
};

bool create(JpegDecompressor* d) {
  if (setjmp(d->errors.jump)) return false;
  jpeg_create_decompress(&d->cinfo);
  d->created = true;
  d->cinfo.progress = &d->progress.manager;
  return true;
}

[[noreturn]] void fail(const JpegErrors& errors) {
  switch (errors.code) {
    case JERR_BAD_PRECISION:  // 12- or 16-bit samples
    case JERR_SOF_UNSUPPORTED:
    case JERR_NOT_COMPILED:
    case JERR_CONVERSION_NOTIMPL:
      throw Error(ErrorCode::kUnsupported, std::string("unsupported JPEG: ") + errors.message);
    case -1:  // our own refusals
      throw Error(ErrorCode::kBadFile, std::string("JPEG refused: ") + errors.message);
    default:
      throw Error(ErrorCode::kBadFile, std::string("corrupt or truncated JPEG: ") + errors.message);
  }
}

const char* color_space_name(J_COLOR_SPACE space) {
  switch (space) {
    case JCS_CMYK:
      return "CMYK";
    case JCS_YCCK:
      return "YCCK";
    default:
      return "an unknown colour space";
  }
}

}  // namespace

Image decode_jpeg(const uint8_t* data, size_t size, int64_t max_pixels) {
  JpegDecompressor d;
  if (!create(&d)) fail(d.errors);
  JpegHeader header;
  if (!read_header(&d.cinfo, data, size, &header)) fail(d.errors);
  J_COLOR_SPACE out_space = JCS_UNKNOWN;
  int channels = 0;
  if (header.color_space == JCS_GRAYSCALE) {
    out_space = JCS_GRAYSCALE, channels = 1;
  } else if (header.color_space == JCS_YCbCr || header.color_space == JCS_RGB) {
    out_space = JCS_RGB, channels = 3;
  } else {
    throw Error(ErrorCode::kUnsupported, std::string("unsupported JPEG: ") + color_space_name(header.color_space) +
                                             " with " + std::to_string(header.components) +
                                             " components (expected grey or colour: YCbCr, RGB)");
  }
  Image image;
  allocate_image(image, header.width, header.height, channels, max_pixels);
  const size_t row_bytes = static_cast<size_t>(image.width) * channels;
  std::vector<JSAMPROW> rows(static_cast<size_t>(image.height));
  for (size_t y = 0; y < rows.size(); ++y) rows[y] = image.data.data() + y * row_bytes;
  if (!read_scanlines(&d.cinfo, out_space, channels, rows.data())) fail(d.errors);
  return image;
}

}  // namespace defectkit::detail
