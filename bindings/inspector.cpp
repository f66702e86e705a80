// defectkit._native.Inspector: numpy strips in (C-contiguous float32, uint8
// or uint16 arrays are read in place; anything else is converted once), a
// plain dict per inspection out (the heatmap a numpy array owning its buffer).
// The GIL is released while the runtime works.
#include "defectkit/inspector.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "defectkit/error.h"
#include "numpy_util.h"

namespace py = pybind11;
using namespace pybind11::literals;

namespace defectkit_bindings {
namespace {

[[noreturn]] void invalid(const std::string& what) {
  throw defectkit::Error(defectkit::ErrorCode::kInvalidArgument, what);
}

// A strip array kept alive (and, if needed, converted) for one inspection.
struct HeldStrip {
  py::array array;
  defectkit::StripView view;
};

HeldStrip hold(const py::array& input, const std::string& layout) {
  if (layout != "CHW" && layout != "HWC") invalid("layout must be 'CHW' or 'HWC', got '" + layout + "'");
  if (input.ndim() != 3) invalid("a strip array is 3-D (" + layout + "), got " + std::to_string(input.ndim()) + "-D");
  HeldStrip held;
  // isinstance<array_t<T>> compares dtypes by equivalence (native byte order), not identity.
  const bool f32 = py::isinstance<py::array_t<float>>(input), u8 = py::isinstance<py::array_t<uint8_t>>(input),
             u16 = py::isinstance<py::array_t<uint16_t>>(input);
  const bool contiguous = (input.flags() & py::array::c_style) != 0;
  if (f32 || u8 || u16) {
    held.array = contiguous ? input : py::array(py::module_::import("numpy").attr("ascontiguousarray")(input));
    held.view.dtype = f32 ? defectkit::DType::kFloat32 : (u8 ? defectkit::DType::kUInt8 : defectkit::DType::kUInt16);
  } else if (py::isinstance<py::array_t<double>>(input)) {  // the data contract's float64: rounded to float32 once
    held.array = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(input);
    held.view.dtype = defectkit::DType::kFloat32;
  } else {
    invalid("strip dtype " + py::str(input.dtype()).cast<std::string>() + " is not float32, float64, uint8 or uint16");
  }
  if (held.array.ptr() != input.ptr()) ++input_copies();
  held.view.layout = layout == "CHW" ? defectkit::Layout::kCHW : defectkit::Layout::kHWC;
  const auto* shape = held.array.shape();
  held.view.channels = static_cast<int>(layout == "CHW" ? shape[0] : shape[2]);
  held.view.height = static_cast<int>(layout == "CHW" ? shape[1] : shape[0]);
  held.view.width = static_cast<int>(layout == "CHW" ? shape[2] : shape[1]);
  held.view.data = held.array.data();
  held.view.size_bytes = static_cast<size_t>(held.array.nbytes());
  return held;
}

defectkit::InspectOptions call_options(bool roi, std::optional<float> image, std::optional<float> pixel) {
  defectkit::InspectOptions o;
  o.roi = roi;
  o.image_threshold = image;
  o.pixel_threshold = pixel;
  return o;
}

py::dict to_dict(defectkit::Inspection&& r) {
  py::list regions;
  for (const auto& g : r.regions) {
    regions.append(py::dict("x"_a = g.x, "y"_a = g.y, "width"_a = g.width, "height"_a = g.height, "area"_a = g.area,
                            "peak"_a = g.peak, "centroid_x"_a = g.centroid_x, "centroid_y"_a = g.centroid_y));
  }
  const std::vector<int64_t> shape = {r.height, r.width};
  return py::dict("heatmap"_a = to_numpy(std::move(r.heatmap), shape), "score"_a = r.score,
                  "is_defective"_a = r.is_defective, "regions"_a = regions, "image_threshold"_a = r.image_threshold,
                  "pixel_threshold"_a = r.pixel_threshold);
}

py::dict info_dict(const defectkit::ArtifactInfo& a) {
  const auto& in = a.input;
  py::object tiling = py::none();
  if (a.tiling.patch > 0) {
    tiling = py::dict("patch"_a = a.tiling.patch, "min_overlap"_a = a.tiling.min_overlap,
                      "positions_y"_a = a.tiling.positions_y, "positions_x"_a = a.tiling.positions_x,
                      "stitch"_a = a.tiling.stitch, "mode"_a = a.tiling.mode);
  } else {
    tiling = py::dict("patch"_a = py::none(), "stitch"_a = a.tiling.stitch, "mode"_a = a.tiling.mode);
  }
  return py::dict(
      "format_version"_a = a.format_version, "family"_a = a.family, "graph"_a = defectkit::graph_kind_name(a.graph),
      "input"_a = py::dict("name"_a = in.name, "layout"_a = in.layout, "dtype"_a = in.dtype, "scale"_a = in.scale,
                           "channels"_a = in.channels, "accepted_channels"_a = in.accepted_channels,
                           "fourth_channel"_a = in.fourth_channel == defectkit::FourthChannel::kRoi ? "roi" : "ignore"),
      "image_size"_a = py::make_tuple(a.image_height, a.image_width), "tiling"_a = tiling,
      "score"_a = py::dict("reduction"_a = a.score.reduction, "box"_a = a.score.box, "border"_a = a.score.border),
      "outputs"_a = py::dict("format"_a = a.outputs.format == defectkit::OutputFormat::kSeed3ch ? "seed3ch" : "raw",
                             "heatmap"_a = a.outputs.heatmap,
                             "score"_a = a.outputs.score.empty() ? py::object(py::none()) : py::str(a.outputs.score)),
      "thresholds"_a = py::dict("image"_a = a.thresholds.image, "pixel"_a = a.thresholds.pixel),
      "precision"_a = a.precision, "provenance_json"_a = a.provenance_json);
}

}  // namespace

void bind_inspector(py::module_& m) {
  m.def(
      "input_copies", [] { return input_copies().load(); },
      "How many input arrays the bindings have copied or converted so far (for tests).");

  py::class_<defectkit::Inspector>(m, "Inspector")
      .def(py::init([](const std::string& path, int intra, int inter, const std::string& provider,
                       const std::string& graph_optimization, int max_batch, const std::string& library, bool verify,
                       const std::string& expected_sha256,
                       const std::map<std::string, std::string>& provider_options) {
             defectkit::InspectorOptions options;
             options.model.intra_op_threads = intra;
             options.model.inter_op_threads = inter;
             options.model.execution_provider = provider;
             options.model.provider_options = provider_options;
             options.model.graph_optimization = defectkit::parse_graph_optimization(graph_optimization);
             options.model.onnxruntime_library = library;
             options.max_batch = max_batch;
             options.verify = verify;
             options.expected_sha256 = expected_sha256;
             py::gil_scoped_release release;
             return defectkit::Inspector::open(path, options);
           }),
           "path"_a, "intra_op_threads"_a = 0, "inter_op_threads"_a = 0, "provider"_a = "cpu",
           "graph_optimization"_a = "all", "max_batch"_a = 16, "onnxruntime_library"_a = "", "verify"_a = false,
           "expected_sha256"_a = "", "provider_options"_a = std::map<std::string, std::string>{})
      .def_property_readonly("info", [](const defectkit::Inspector& i) { return info_dict(i.info()); })
      .def_property_readonly(
          "artifact",
          [](const defectkit::Inspector& i) -> const defectkit::ArtifactMetadata& { return i.info().metadata; },
          py::return_value_policy::reference_internal,
          "The generic metadata (ArtifactMetadata) the info was read from.")
      .def_property_readonly("path", [](const defectkit::Inspector& i) { return i.model().path(); })
      .def_property_readonly("provider", [](const defectkit::Inspector& i) { return i.model().execution_provider(); })
      .def(
          "inspect_path",
          [](const defectkit::Inspector& i, const std::string& path, bool roi, std::optional<float> image,
             std::optional<float> pixel) {
            defectkit::Inspection r;
            {
              py::gil_scoped_release release;
              r = i.inspect(path, call_options(roi, image, pixel));
            }
            return to_dict(std::move(r));
          },
          "path"_a, "roi"_a = false, "image_threshold"_a = py::none(), "pixel_threshold"_a = py::none())
      .def(
          "inspect_array",
          [](const defectkit::Inspector& i, const py::array& array, const std::string& layout, bool roi,
             std::optional<float> image, std::optional<float> pixel) {
            const HeldStrip held = hold(array, layout);
            defectkit::Inspection r;
            {
              py::gil_scoped_release release;
              r = i.inspect(held.view, call_options(roi, image, pixel));
            }
            return to_dict(std::move(r));
          },
          "array"_a, "layout"_a = "CHW", "roi"_a = false, "image_threshold"_a = py::none(),
          "pixel_threshold"_a = py::none());
}

}  // namespace defectkit_bindings
