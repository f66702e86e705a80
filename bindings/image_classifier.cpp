// defectkit._native.ImageClassifier, read_image and decode_image: numpy
// images in (C-contiguous uint8 (H, W) or (H, W, 1|3) arrays are read in
// place; uint16, RGBA and arrays whose rows are apart are handed over as they
// are and converted once by the runtime; anything else is refused), a plain
// dict per classification out (the mask and probabilities numpy arrays owning
// their buffers). The GIL is released while the runtime works.
#include "defectkit/image_classifier.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "defectkit/error.h"
#include "defectkit/image_reader.h"
#include "numpy_util.h"

namespace py = pybind11;
using namespace pybind11::literals;

namespace defectkit_bindings {
namespace {

[[noreturn]] void invalid(const std::string& what) {
  throw defectkit::Error(defectkit::ErrorCode::kInvalidArgument, what);
}

// An image array kept alive (and, if its pixels were scattered, made contiguous) for one call.
struct HeldImage {
  py::array array;
  defectkit::ImageView view;
};

// Whether `a`'s pixels are packed within each row (rows may lie apart: a crop).
bool rows_packed(const py::array& a, int channels) {
  const auto item = a.itemsize();
  const auto* strides = a.strides();
  const bool pixels = a.ndim() == 2 ? strides[1] == item : strides[2] == item && strides[1] == channels * item;
  return pixels && strides[0] >= a.shape(1) * channels * item;
}

HeldImage hold(const py::array& input) {
  if (input.ndim() != 2 && input.ndim() != 3) {
    invalid("an image array is (H, W) or (H, W, C), got " + std::to_string(input.ndim()) + "-D");
  }
  const bool u8 = py::isinstance<py::array_t<uint8_t>>(input), u16 = py::isinstance<py::array_t<uint16_t>>(input);
  if (!u8 && !u16) {
    invalid("image dtype " + py::str(input.dtype()).cast<std::string>() +
            " is not uint8 or uint16 (scale other types to 0..255 and convert to uint8 first)");
  }
  const int channels = input.ndim() == 2 ? 1 : static_cast<int>(input.shape(2));
  HeldImage held;
  held.array =
      rows_packed(input, channels) ? input : py::array(py::module_::import("numpy").attr("ascontiguousarray")(input));
  if (held.array.ptr() != input.ptr()) ++input_copies();
  const py::array& a = held.array;
  held.view.data = a.data();
  held.view.pixel_type = u8 ? defectkit::PixelType::kUInt8 : defectkit::PixelType::kUInt16;
  held.view.height = static_cast<int>(a.shape(0));
  held.view.width = static_cast<int>(a.shape(1));
  held.view.channels = channels;
  held.view.row_stride = static_cast<size_t>(a.strides()[0]);
  const size_t row = static_cast<size_t>(a.shape(1)) * channels * a.itemsize();
  held.view.size_bytes = a.shape(0) == 0 ? 0 : held.view.row_stride * (a.shape(0) - 1) + row;
  return held;
}

// Hands a decoded image's buffer to numpy without copying: (H, W, C) uint8.
py::array image_to_numpy(defectkit::Image&& image) {
  auto* owned = new std::vector<uint8_t>(std::move(image.data));
  py::capsule free_when_done(owned, [](void* p) { delete static_cast<std::vector<uint8_t>*>(p); });
  return py::array_t<uint8_t>({image.height, image.width, image.channels}, owned->data(), free_when_done);
}

defectkit::ClassifyOptions call_options(std::optional<float> defect, std::optional<float> pixel) {
  defectkit::ClassifyOptions o;
  o.defect_threshold = defect;
  o.pixel_threshold = pixel;
  return o;
}

py::dict to_dict(defectkit::Classification&& r) {
  py::list regions;
  for (const auto& g : r.regions) {
    regions.append(py::dict("x"_a = g.x, "y"_a = g.y, "width"_a = g.width, "height"_a = g.height, "area"_a = g.area,
                            "peak"_a = g.peak, "centroid_x"_a = g.centroid_x, "centroid_y"_a = g.centroid_y));
  }
  const std::vector<int64_t> mask_shape = {r.height, r.width};
  const std::vector<int64_t> class_shape = {static_cast<int64_t>(r.probabilities.size())};
  return py::dict("probabilities"_a = to_numpy(std::move(r.probabilities), class_shape), "classes"_a = r.classes,
                  "top_class"_a = r.top_class, "defect_class"_a = r.defect_class,
                  "defect_probability"_a = r.defect_probability, "is_defective"_a = r.is_defective,
                  "mask"_a = to_numpy(std::move(r.mask), mask_shape), "regions"_a = regions,
                  "defect_threshold"_a = r.defect_threshold, "pixel_threshold"_a = r.pixel_threshold);
}

py::dict info_dict(const defectkit::ClassifierInfo& i) {
  py::object input_size = py::none();
  if (i.input_height > 0) input_size = py::make_tuple(i.input_height, i.input_width);
  return py::dict("format_version"_a = i.format_version, "family"_a = i.family, "classes"_a = i.classes,
                  "defect_class"_a = i.defect_class, "channels"_a = i.channels, "input_size"_a = input_size,
                  "mean"_a = i.mean, "std"_a = i.std, "backbone"_a = i.backbone, "pooling"_a = i.pooling,
                  "thresholds"_a = py::dict("defect"_a = i.defect_threshold, "pixel"_a = i.pixel_threshold),
                  "precision"_a = i.precision, "provenance_json"_a = i.provenance_json);
}

}  // namespace

void bind_image_classifier(py::module_& m) {
  using defectkit::ImageClassifier;
  m.def(
      "read_image",
      [](const std::string& path) {
        defectkit::Image image;
        {
          py::gil_scoped_release release;
          image = defectkit::ImageReader().read(path);
        }
        return image_to_numpy(std::move(image));
      },
      "path"_a, "Reads a PNG, JPEG or TIFF image as a (H, W, C) uint8 array, C 1 or 3.");
  m.def(
      "decode_image",
      [](const py::bytes& data) {
        const std::string_view bytes = data;  // the bytes object is immutable and held by the caller
        defectkit::Image image;
        {
          py::gil_scoped_release release;
          image = defectkit::ImageReader().decode(bytes.data(), bytes.size());
        }
        return image_to_numpy(std::move(image));
      },
      "data"_a, "Decodes PNG, JPEG or TIFF bytes as a (H, W, C) uint8 array, C 1 or 3.");

  py::class_<ImageClassifier>(m, "ImageClassifier")
      .def(py::init([](const std::string& path, int intra, int inter, const std::string& provider,
                       const std::string& graph_optimization, const std::string& library, bool verify,
                       const std::string& expected_sha256,
                       const std::map<std::string, std::string>& provider_options) {
             defectkit::ImageClassifierOptions options;
             options.model.intra_op_threads = intra;
             options.model.inter_op_threads = inter;
             options.model.execution_provider = provider;
             options.model.provider_options = provider_options;
             options.model.graph_optimization = defectkit::parse_graph_optimization(graph_optimization);
             options.model.onnxruntime_library = library;
             options.verify = verify;
             options.expected_sha256 = expected_sha256;
             py::gil_scoped_release release;
             return ImageClassifier::open(path, options);
           }),
           "path"_a, "intra_op_threads"_a = 0, "inter_op_threads"_a = 0, "provider"_a = "cpu",
           "graph_optimization"_a = "all", "onnxruntime_library"_a = "", "verify"_a = false, "expected_sha256"_a = "",
           "provider_options"_a = std::map<std::string, std::string>{})
      .def_property_readonly("info", [](const ImageClassifier& c) { return info_dict(c.info()); })
      .def_property_readonly(
          "artifact", [](const ImageClassifier& c) -> const defectkit::ArtifactMetadata& { return c.info().metadata; },
          py::return_value_policy::reference_internal,
          "The generic metadata (ArtifactMetadata) the info was read from.")
      .def_property_readonly("path", [](const ImageClassifier& c) { return c.model().path(); })
      .def_property_readonly("provider", [](const ImageClassifier& c) { return c.model().execution_provider(); })
      .def_property_readonly("conversions", &ImageClassifier::conversions,
                             "How many classifications had to convert their pixels (the rest were fed in place).")
      .def(
          "classify_path",
          [](const ImageClassifier& c, const std::string& path, std::optional<float> defect,
             std::optional<float> pixel) {
            defectkit::Classification r;
            {
              py::gil_scoped_release release;
              r = c.classify(path, call_options(defect, pixel));
            }
            return to_dict(std::move(r));
          },
          "path"_a, "defect_threshold"_a = py::none(), "pixel_threshold"_a = py::none())
      .def(
          "classify_array",
          [](const ImageClassifier& c, const py::array& array, std::optional<float> defect,
             std::optional<float> pixel) {
            const HeldImage held = hold(array);
            defectkit::Classification r;
            {
              py::gil_scoped_release release;
              r = c.classify(held.view, call_options(defect, pixel));
            }
            return to_dict(std::move(r));
          },
          "array"_a, "defect_threshold"_a = py::none(), "pixel_threshold"_a = py::none())
      .def(
          "classify_encoded",
          [](const ImageClassifier& c, const py::bytes& data, std::optional<float> defect, std::optional<float> pixel) {
            const std::string_view bytes = data;
            defectkit::Classification r;
            {
              py::gil_scoped_release release;
              r = c.classify_encoded(bytes.data(), bytes.size(), call_options(defect, pixel));
            }
            return to_dict(std::move(r));
          },
          "data"_a, "defect_threshold"_a = py::none(), "pixel_threshold"_a = py::none());
}

}  // namespace defectkit_bindings
