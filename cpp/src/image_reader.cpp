// ImageReader: reads the file whole (images are megabytes, not gigabytes),
// names the format by its signature and hands the bytes to that format's
// decoder (image_png.cpp, image_jpeg.cpp, image_tiff.cpp). Files and buffers
// take the same path.
#include "defectkit/image_reader.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <system_error>

#include "defectkit/error.h"
#include "image_decode.h"

namespace defectkit {
namespace {

std::string errno_text(int error) { return std::error_code(error, std::generic_category()).message(); }

std::string first_bytes(const uint8_t* data, size_t size) {
  std::string out;
  char hex[4];
  for (size_t i = 0; i < std::min<size_t>(size, 4); ++i) {
    std::snprintf(hex, sizeof hex, "%02x", data[i]);
    out += (i ? " " : "") + std::string(hex);
  }
  return out;
}

// The whole file, refusing what is not a readable regular file of at most `max_bytes`.
// The whole file, refusing what is not a readable regular file of at most `max_bytes`.
std::vector<uint8_t> read_file(const std::string& path, int64_t max_bytes) {
  // stat() before opening: opening a FIFO would block until a writer came.
  struct stat status {};
  if (stat(path.c_str(), &status) != 0) {
    const int error = errno;
    throw Error(ErrorCode::kFileNotFound, error == ENOENT ? "no such file" : "cannot access: " + errno_text(error));
  }
  if (!S_ISREG(status.st_mode)) throw Error(ErrorCode::kFileNotFound, "not a regular file");
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw Error(ErrorCode::kFileNotFound, "cannot open: " + errno_text(errno));
  if (fstat(fileno(file.get()), &status) != 0 || !S_ISREG(status.st_mode)) {
    throw Error(ErrorCode::kFileNotFound, "not a regular file");  // replaced between the two looks
  }
  if (status.st_size == 0) throw Error(ErrorCode::kBadFile, "empty file");
  if (status.st_size > max_bytes) {
    throw Error(ErrorCode::kBadFile, "is too large: " + std::to_string(status.st_size) +
                                         " bytes, more than the limit of " + std::to_string(max_bytes));
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(status.st_size));
  const size_t got = std::fread(bytes.data(), 1, bytes.size(), file.get());
  if (got < bytes.size() && std::ferror(file.get())) {
    throw Error(ErrorCode::kFileNotFound, "cannot read: " + errno_text(errno));
  }
  bytes.resize(got);  // shrunk while we read: the decoder sees a truncated file
  return bytes;
}

Image decode_bytes(const uint8_t* data, size_t size, const ImageReaderOptions& options) {
  if (size == 0) throw Error(ErrorCode::kBadFile, "empty file");
  if (static_cast<uint64_t>(size) > static_cast<uint64_t>(options.max_file_bytes)) {
    throw Error(ErrorCode::kBadFile, "is too large: " + std::to_string(size) + " bytes, more than the limit of " +
                                         std::to_string(options.max_file_bytes));
  }
  switch (detect_image_format(data, size)) {
    case ImageFormat::kPng:
      return detail::decode_png(data, size, options.max_pixels);
    case ImageFormat::kJpeg:
      return detail::decode_jpeg(data, size, options.max_pixels);
    case ImageFormat::kTiff:
      return detail::decode_tiff_image(data, size, options.max_pixels);
    case ImageFormat::kUnknown:
      break;
  }
  throw Error(ErrorCode::kBadFile,
              "not a PNG, JPEG or TIFF image (its first bytes are " + first_bytes(data, size) + ")");
}

}  // namespace

namespace detail {

void check_image_size(uint64_t width, uint64_t height, int64_t max_pixels) {
  if (width == 0 || height == 0) {
    throw Error(ErrorCode::kBadFile,
                "has an empty image (" + std::to_string(height) + " x " + std::to_string(width) + ", H x W)");
  }
  constexpr uint64_t int_max = static_cast<uint64_t>(std::numeric_limits<int>::max());
  const uint64_t limit = static_cast<uint64_t>(std::max<int64_t>(max_pixels, 0));
  if (width > int_max || height > int_max || width > limit || height > limit / width) {
    throw Error(ErrorCode::kBadFile, "is too large: " + std::to_string(height) + " x " + std::to_string(width) +
                                         " pixels (H x W), more than the limit of " + std::to_string(max_pixels));
  }
}

void allocate_image(Image& image, uint32_t width, uint32_t height, int channels, int64_t max_pixels) {
  check_image_size(width, height, max_pixels);
  image.width = static_cast<int>(width);
  image.height = static_cast<int>(height);
  image.channels = channels;
  image.data.assign(static_cast<size_t>(width) * height * channels, 0);
}

}  // namespace detail

const char* image_format_name(ImageFormat format) noexcept {
  switch (format) {
    case ImageFormat::kPng:
      return "png";
    case ImageFormat::kJpeg:
      return "jpeg";
    case ImageFormat::kTiff:
      return "tiff";
    case ImageFormat::kUnknown:
      break;
  }
  return "unknown";
}

ImageFormat detect_image_format(const void* data, size_t size) noexcept {
  const auto* b = static_cast<const uint8_t*>(data);
  if (b == nullptr) return ImageFormat::kUnknown;
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size >= 8 && std::memcmp(b, kPng, 8) == 0) return ImageFormat::kPng;
  if (size >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff) return ImageFormat::kJpeg;
  if (size >= 4) {
    const bool little = b[0] == 'I' && b[1] == 'I' && (b[2] == 42 || b[2] == 43) && b[3] == 0;
    const bool big = b[0] == 'M' && b[1] == 'M' && b[2] == 0 && (b[3] == 42 || b[3] == 43);
    if (little || big) return ImageFormat::kTiff;
  }
  return ImageFormat::kUnknown;
}

Image ImageReader::read(const std::string& path) const {
  try {
    const std::vector<uint8_t> bytes = read_file(path, options_.max_file_bytes);
    return decode_bytes(bytes.data(), bytes.size(), options_);
  } catch (const Error& e) {
    throw Error(e.code(), path + ": " + e.what());
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::kBadFile, path + ": too large to decode (out of memory)");
  }
}

Image ImageReader::decode(const void* data, size_t size, const std::string& name) const {
  if (data == nullptr && size > 0) throw Error(ErrorCode::kInvalidArgument, name + ": no data");
  try {
    return decode_bytes(static_cast<const uint8_t*>(data), size, options_);
  } catch (const Error& e) {
    throw Error(e.code(), name + ": " + e.what());
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::kBadFile, name + ": too large to decode (out of memory)");
  }
}

}  // namespace defectkit
