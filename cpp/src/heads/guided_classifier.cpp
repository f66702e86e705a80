// The guided_classifier head: defectkit::ImageClassifier (image_classifier.h)
// over the generic ArtifactSession. Image in (ImageReader or the caller's
// pixels, converted at most once into uint8 NHWC of 1 or 3 channels, or fed
// in place), the graph's `probabilities` and `mask` out, thresholds and
// regions applied here (the graph never applies them).
#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>

#include "defectkit/artifact_session.h"
#include "defectkit/error.h"
#include "defectkit/image_classifier.h"
#include "defectkit/integrity.h"
#include "image_decode.h"

namespace defectkit {
namespace {

std::string size_text(int height, int width) { return std::to_string(height) + " x " + std::to_string(width); }

size_t sample_bytes(PixelType type) { return type == PixelType::kUInt16 ? 2 : 1; }

// The bytes of one row, after checking the view's fields; Error(kInvalidArgument) naming `source`.
size_t check_view(const ImageView& v, const std::string& source) {
  auto invalid = [&](const std::string& what) { throw Error(ErrorCode::kInvalidArgument, source + ": " + what); };
  if (v.data == nullptr) invalid("no pixel data");
  if (v.pixel_type != PixelType::kUInt8 && v.pixel_type != PixelType::kUInt16) invalid("unknown pixel type");
  if (v.channels != 1 && v.channels != 3 && v.channels != 4) {
    invalid("an image has 1 (grey), 3 (RGB) or 4 (RGBA) channels, not " + std::to_string(v.channels));
  }
  if (v.height < 1 || v.width < 1) invalid("empty image (" + size_text(v.height, v.width) + ", H x W)");
  const uint64_t row = static_cast<uint64_t>(v.width) * v.channels * sample_bytes(v.pixel_type);
  const uint64_t stride = v.row_stride == 0 ? row : v.row_stride;
  if (stride < row) {
    invalid("row stride " + std::to_string(v.row_stride) + " is less than a row's " + std::to_string(row) + " bytes");
  }
  const uint64_t limit = std::numeric_limits<size_t>::max() / 8;
  if (stride > limit / static_cast<uint64_t>(v.height)) invalid("the image's byte count overflows");
  const uint64_t needed = stride * (v.height - 1) + row;
  if (v.size_bytes < needed) {
    invalid("holds " + std::to_string(v.size_bytes) + " bytes but a " + size_text(v.height, v.width) + " x " +
            std::to_string(v.channels) + " image of this stride needs " + std::to_string(needed));
  }
  return static_cast<size_t>(row);
}

template <typename T>
uint8_t to_8bit(const unsigned char* at) {
  T value;
  std::memcpy(&value, at, sizeof(T));
  if constexpr (sizeof(T) == 1)
    return value;
  else
    return detail::scale_16_to_8(value);
}

// Copies `v` into `out` as packed uint8 with `channels` channels: a grey
// channel repeated, alpha dropped, 16-bit samples scaled.
template <typename T>
void convert(const ImageView& v, int channels, uint8_t* out) {
  const size_t row = static_cast<size_t>(v.width) * v.channels * sizeof(T);
  const size_t stride = v.row_stride == 0 ? row : v.row_stride;
  const auto* base = static_cast<const unsigned char*>(v.data);
  for (int y = 0; y < v.height; ++y) {
    const unsigned char* src = base + static_cast<size_t>(y) * stride;
    for (int x = 0; x < v.width; ++x, out += channels) {
      const unsigned char* pixel = src + static_cast<size_t>(x) * v.channels * sizeof(T);
      for (int c = 0; c < channels; ++c) out[c] = to_8bit<T>(pixel + (v.channels == 1 ? 0 : c) * sizeof(T));
    }
  }
}

}  // namespace

ImageView view_of(const Image& image) {
  ImageView v;
  v.data = image.data.data();
  v.size_bytes = image.data.size();
  v.height = image.height;
  v.width = image.width;
  v.channels = image.channels;
  return v;
}

struct ImageClassifier::Impl {
  ArtifactSession session;
  ClassifierInfo info;
  ImageClassifierOptions options;
  int64_t fixed_height = -1, fixed_width = -1;  // the graph's image size when fixed
  mutable std::atomic<uint64_t> conversions{0};

  explicit Impl(ArtifactSession s) : session(std::move(s)) {}

  // The channel count the graph gets for an image of `channels` (4: RGBA).
  int graph_channels(int channels, const std::string& source) const;
  Classification classify(const ImageView& v, const std::string& source, const ClassifyOptions& opts) const;
  void read_outputs(std::map<std::string, TypedTensor>& outputs, int height, int width, Classification& out) const;
};

int ImageClassifier::Impl::graph_channels(int channels, const std::string& source) const {
  const int colour = channels == 4 ? 3 : channels;
  if (info.channels == 0) return colour;  // the graph takes either (and repeats grey itself)
  if (info.channels == 1 && colour == 3) {
    throw Error(
        ErrorCode::kInvalidArgument,
        source + ": the artifact takes grey images (1 channel); this one has colour (convert it to grey first)");
  }
  return info.channels;  // 3: a grey image is repeated here
}

Classification ImageClassifier::Impl::classify(const ImageView& v, const std::string& source,
                                               const ClassifyOptions& opts) const {
  const size_t row = check_view(v, source);
  if ((fixed_height >= 0 && fixed_height != v.height) || (fixed_width >= 0 && fixed_width != v.width)) {
    throw Error(ErrorCode::kInvalidArgument,
                source + ": image is " + size_text(v.height, v.width) + " but the artifact takes exactly " +
                    size_text(static_cast<int>(fixed_height), static_cast<int>(fixed_width)) + " (H x W)");
  }
  const int channels = graph_channels(v.channels, source);
  const bool in_place =
      v.pixel_type == PixelType::kUInt8 && v.channels == channels && (v.row_stride == 0 || v.row_stride == row);
  std::vector<uint8_t> converted;
  const size_t bytes = static_cast<size_t>(v.height) * v.width * channels;
  const void* pixels = v.data;
  if (!in_place) {
    converted.resize(bytes);
    if (v.pixel_type == PixelType::kUInt8)
      convert<uint8_t>(v, channels, converted.data());
    else
      convert<uint16_t>(v, channels, converted.data());
    pixels = converted.data();
    ++conversions;
  }
  TypedTensorView image;
  image.data = pixels;
  image.dtype = ElementType::kUInt8;
  image.shape = {1, v.height, v.width, channels};
  image.size_bytes = bytes;
  auto outputs = session.run({{"image", image}});
  Classification out;
  read_outputs(outputs, v.height, v.width, out);
  out.defect_threshold = opts.defect_threshold.value_or(info.defect_threshold);
  out.pixel_threshold = opts.pixel_threshold.value_or(info.pixel_threshold);
  out.is_defective = out.defect_probability >= out.defect_threshold;
  out.regions = find_regions(out.mask.data(), v.height, v.width, out.pixel_threshold);
  return out;
}

void ImageClassifier::Impl::read_outputs(std::map<std::string, TypedTensor>& outputs, int height, int width,
                                         Classification& out) const {
  const std::string& path = session.path();
  const TypedTensor& probabilities = outputs.at("probabilities");
  if (probabilities.element_count() != info.classes.size()) {
    throw Error(ErrorCode::kModel, path + ": output 'probabilities' holds " +
                                       std::to_string(probabilities.element_count()) + " values for " +
                                       std::to_string(info.classes.size()) + " classes");
  }
  const float* p = probabilities.data<float>();
  out.probabilities.assign(p, p + info.classes.size());
  out.classes = info.classes;
  out.top_class = static_cast<int>(std::max_element(p, p + info.classes.size()) - p);
  out.defect_class = info.defect_class;
  out.defect_probability = p[info.defect_class];

  TypedTensor& mask = outputs.at("mask");
  const std::vector<int64_t> expected = {1, 1, height, width};
  if (mask.shape != expected) {
    std::string shape;
    for (int64_t d : mask.shape) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    throw Error(ErrorCode::kModel, path + ": output 'mask' is (" + shape + ") but the image is " +
                                       size_text(height, width) + "; the mask must come at the input's size");
  }
  out.height = height;
  out.width = width;
  out.mask.resize(static_cast<size_t>(height) * width);
  std::memcpy(out.mask.data(), mask.data<float>(), out.mask.size() * sizeof(float));
}

ImageClassifier::ImageClassifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ImageClassifier::ImageClassifier(ImageClassifier&&) noexcept = default;
ImageClassifier& ImageClassifier::operator=(ImageClassifier&&) noexcept = default;
ImageClassifier::~ImageClassifier() = default;

ImageClassifier ImageClassifier::open(const std::string& path, const ImageClassifierOptions& options) {
  // Hashed, then loaded by path, as the Inspector does (see there).
  if (options.verify || !options.expected_sha256.empty()) verify_sha256(path, options.expected_sha256);
  auto impl = std::make_unique<Impl>(ArtifactSession::open(path, options.model));
  impl->options = options;
  impl->info = classifier_info_from(impl->session.metadata(), path);
  const auto& shape = impl->session.metadata().inputs[0].shape;  // checked: (N, H, W, C)
  impl->fixed_height = shape[1].size;
  impl->fixed_width = shape[2].size;
  return ImageClassifier(std::move(impl));
}

const ClassifierInfo& ImageClassifier::info() const { return impl_->info; }
const Model& ImageClassifier::model() const { return impl_->session.model(); }
uint64_t ImageClassifier::conversions() const { return impl_->conversions.load(); }

Classification ImageClassifier::classify(const std::string& path, const ClassifyOptions& options) const {
  const Image image = ImageReader(impl_->options.reader).read(path);
  return impl_->classify(view_of(image), path, options);
}

Classification ImageClassifier::classify(const ImageView& image, const ClassifyOptions& options) const {
  return impl_->classify(image, "image buffer", options);
}

Classification ImageClassifier::classify_encoded(const void* data, size_t size, const ClassifyOptions& options,
                                                 const std::string& name) const {
  const Image image = ImageReader(impl_->options.reader).decode(data, size, name);
  return impl_->classify(view_of(image), name, options);
}

}  // namespace defectkit
