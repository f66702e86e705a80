#include "defectkit/strip_reader.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <new>
#include <system_error>

#include "defectkit/error.h"
#include "tiff_decode.h"

namespace defectkit {
namespace {

namespace fs = std::filesystem;
using detail::TiffFile;
using detail::TiffPage;

std::string errno_text(int error) { return std::error_code(error, std::generic_category()).message(); }

// Throws unless `path` is a readable, non-empty regular file that starts with
// one of the four TIFF signatures: classic/BigTIFF, little/big-endian.
// Checked here, not by libtiff, so "not a TIFF" and "truncated" stay apart.
void check_tiff_signature(const std::string& path) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (status.type() == fs::file_type::not_found) throw Error(ErrorCode::kFileNotFound, "no such file");
  if (ec) throw Error(ErrorCode::kFileNotFound, "cannot access: " + ec.message());
  if (!fs::is_regular_file(status)) throw Error(ErrorCode::kFileNotFound, "not a regular file");

  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw Error(ErrorCode::kFileNotFound, "cannot open: " + errno_text(errno));
  unsigned char magic[4] = {0, 0, 0, 0};
  const size_t got = std::fread(magic, 1, sizeof magic, file.get());
  if (got < sizeof magic && std::ferror(file.get())) {
    throw Error(ErrorCode::kFileNotFound, "cannot read: " + errno_text(errno));
  }
  if (got == 0) throw Error(ErrorCode::kBadFile, "empty file");
  const bool little = magic[0] == 'I' && magic[1] == 'I' && (magic[2] == 42 || magic[2] == 43) && magic[3] == 0;
  const bool big = magic[0] == 'M' && magic[1] == 'M' && magic[2] == 0 && (magic[3] == 42 || magic[3] == 43);
  if (got < sizeof magic || !(little || big)) {
    throw Error(ErrorCode::kBadFile, "not a TIFF file (it does not start with II*, MM*, II+ or MM+)");
  }
}

std::string expected_channels(const StripReaderOptions& options) {
  const std::string lo = std::to_string(options.min_channels), hi = std::to_string(options.max_channels);
  if (options.min_channels == options.max_channels) return lo;
  return lo + (options.max_channels == options.min_channels + 1 ? " or " : " to ") + hi;
}

[[noreturn]] void refuse_channel_count(uint64_t channels, bool per_page, const StripReaderOptions& options) {
  const std::string how = per_page ? " (one per page)" : " (samples per pixel)";
  throw Error(ErrorCode::kBadFile, "has " + std::to_string(channels) + (channels == 1 ? " channel" : " channels") +
                                       how + "; expected " + expected_channels(options) +
                                       " (target, ref1, ref2 and an optional ROI mask)");
}

// Refuses empty images and images of more than options.max_values values,
// before anything of that size is allocated (fuzzed headers claim anything).
void check_size(const TiffPage& page, uint64_t channels, const StripReaderOptions& options) {
  const uint64_t w = page.width, h = page.height;
  if (w == 0 || h == 0) {
    throw Error(ErrorCode::kBadFile, "has an empty image (" + std::to_string(w) + " x " + std::to_string(h) + ")");
  }
  const uint64_t limit = static_cast<uint64_t>(std::max<int64_t>(options.max_values, 0));
  constexpr uint64_t int_max = static_cast<uint64_t>(std::numeric_limits<int>::max());
  if (w > limit || h > limit / w || channels > limit / (w * h) || w > int_max || h > int_max) {
    throw Error(ErrorCode::kBadFile, "is too large: " + std::to_string(channels) + " x " + std::to_string(h) + " x " +
                                         std::to_string(w) + " values, more than the limit of " +
                                         std::to_string(options.max_values));
  }
}

// Page `index` (0-based) of a one-channel-per-page file must match page 0.
void check_same_as_first(const TiffPage& first, const TiffPage& page, int index) {
  const std::string which = "page " + std::to_string(index + 1);
  if (page.samples != 1) {
    throw Error(ErrorCode::kBadFile, which + " has " + std::to_string(page.samples) +
                                         " samples per pixel; one-channel-per-page files need 1 on every page");
  }
  if (page.width != first.width || page.height != first.height) {
    throw Error(ErrorCode::kBadFile, which + " is " + std::to_string(page.height) + " x " + std::to_string(page.width) +
                                         " (H x W) but page 1 is " + std::to_string(first.height) + " x " +
                                         std::to_string(first.width));
  }
  if (page.bits != first.bits || page.sample_format != first.sample_format) {
    throw Error(ErrorCode::kBadFile,
                which + " holds " + page.sample_type_name() + " but page 1 holds " + first.sample_type_name());
  }
}

void check_finite(const StripTensor& strip, bool from_float64) {
  const size_t plane = static_cast<size_t>(strip.height) * strip.width;
  for (size_t i = 0; i < strip.data.size(); ++i) {
    if (std::isfinite(strip.data[i])) continue;
    const size_t c = i / plane, y = (i % plane) / strip.width, x = i % strip.width;
    throw Error(ErrorCode::kBadFile, "contains NaN or Inf values (first at channel " + std::to_string(c) + ", row " +
                                         std::to_string(y) + ", column " + std::to_string(x) + ")" +
                                         (from_float64 ? "; float64 values beyond float32's range become Inf" : ""));
  }
}

// libtiff's own allocations (compressed strips, offset tables) never need
// much more than one decoded image (max_values float64s; PackBits may
// expand a little); a fuzzed header asking for more is refused.
int64_t libtiff_alloc_limit(int64_t max_values) {
  constexpr int64_t floor = int64_t{64} << 20;
  if (max_values > std::numeric_limits<int64_t>::max() / 16) return 0;  // 0: libtiff's "no limit"
  return std::max(floor, max_values * 16);
}

StripTensor decode_strip(const std::string& path, const StripReaderOptions& options) {
  check_tiff_signature(path);
  TiffFile file(path, libtiff_alloc_limit(options.max_values));
  TIFF* tif = file.get();

  const TiffPage first = detail::read_page(tif);
  detail::check_decodable(first);
  const bool per_page = first.samples == 1;
  // One sample per page: every page is one channel. Several samples: they are
  // the channels, and the file must have no further pages (the Python reader
  // refuses those too: which page would be the strip?).
  file.take_error();  // judge only what counting the pages reports
  const uint64_t pages = TIFFNumberOfDirectories(tif);
  // A broken page chain (a cut file) must not pass for fewer channels.
  if (const std::string broken = file.take_error(); !broken.empty()) {
    throw Error(ErrorCode::kBadFile, "truncated or corrupt TIFF: cannot follow its pages after page " +
                                         std::to_string(pages) + ": " + broken);
  }
  if (!per_page && pages > 1) {
    throw Error(ErrorCode::kBadFile, std::to_string(pages) + " pages of " + std::to_string(first.samples) +
                                         " samples each; a strip is one page of 3-4 samples or 3-4 pages of one sample");
  }
  const uint64_t channels = per_page ? pages : first.samples;
  if (channels < static_cast<uint64_t>(std::max(options.min_channels, 1)) ||
      channels > static_cast<uint64_t>(std::max(options.max_channels, 0))) {
    refuse_channel_count(channels, per_page, options);
  }
  check_size(first, channels, options);

  StripTensor strip;
  strip.channels = static_cast<int>(channels);
  strip.height = static_cast<int>(first.height);
  strip.width = static_cast<int>(first.width);
  const size_t plane = static_cast<size_t>(first.height) * first.width;
  strip.data.resize(channels * plane);
  if (!per_page) {
    detail::decode_page(file, first, options.max_values, strip.data.data());
  } else {
    for (int c = 0; c < strip.channels; ++c) {
      TiffPage page = first;
      if (c > 0) {
        if (!TIFFReadDirectory(tif)) {
          const std::string detail = file.take_error();
          throw Error(ErrorCode::kBadFile, "truncated or corrupt TIFF: cannot read page " + std::to_string(c + 1) +
                                               (detail.empty() ? std::string() : ": " + detail));
        }
        page = detail::read_page(tif);
        check_same_as_first(first, page, c);
        detail::check_decodable(page);  // each page may use its own compression
      }
      try {
        detail::decode_page(file, page, options.max_values, strip.data.data() + c * plane);
      } catch (const Error& e) {
        throw Error(e.code(), "page " + std::to_string(c + 1) + ": " + e.what());
      }
    }
  }
  if (first.sample_format == SAMPLEFORMAT_IEEEFP) check_finite(strip, first.bits == 64);
  return strip;
}

}  // namespace

StripTensor StripReader::read(const std::string& path) const {
  try {
    return decode_strip(path, options_);
  } catch (const Error& e) {
    throw Error(e.code(), path + ": " + e.what());
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::kBadFile, path + ": too large to decode (out of memory)");
  }
}

}  // namespace defectkit
