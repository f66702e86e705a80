"""What a model family gives the generic layers: the one protocol behind the registry.

The training loop, evaluation, export and the CLI are written once; each asks
the family (looked up by the name that configs, checkpoints and artifacts
carry, :mod:`defectkit.families`) for what is its own. A family subclasses
:class:`Family`, sets the three class attributes and implements every method;
each is called by generic code (named below), none is optional.

A family's model in eval mode returns a ``NamedTuple`` whose fields name the
exported outputs (``forward`` is the export contract); in training mode it
returns what its loss takes.
"""

from __future__ import annotations

import abc
import dataclasses
import pathlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import torch

    from defectkit.training.config import TrainConfig

__all__ = ["DemoOptions", "ExportPlan", "Family", "GraphBuild", "Predictor", "TrainingData"]


@dataclasses.dataclass
class GraphBuild:
    """One graph to export, as :func:`defectkit.export.onnx_graph.export_onnx` traces it.

    The module's forward takes ``example`` (one tensor per input, in order) and returns a
    ``NamedTuple`` whose fields name the graph's outputs.
    """

    module: Any  # torch.nn.Module in eval mode
    example: tuple  # example input tensors
    input_names: list[str]
    dynamic_axes: dict[str, dict[int, str]]  # input or output name -> {axis: symbolic name}


@dataclasses.dataclass
class DemoOptions:
    """What ``defectkit demo`` asks of each family's demo (the command's options)."""

    seed: int = 0  # dataset seed
    train_seed: int = 0
    precision: str = "auto"
    epochs: int = 0  # 0: the family's recipe
    threads: int = 0  # torch threads (0: all cores)
    smoke: bool = False  # the same path on tiny data and a tiny network (make test)


@dataclasses.dataclass
class Predictor:
    """What ``defectkit eval`` and ``infer`` run: a trained model with its checkpoint info, or an
    exported artifact that the family's native head runs (what the line runs)."""

    model: torch.nn.Module | None = None
    info: dict[str, Any] | None = None
    artifact: pathlib.Path | None = None
    threads: int = 0  # ONNX Runtime threads for an artifact (0: ONNX Runtime decides)


@dataclasses.dataclass
class TrainingData:
    """What :meth:`Family.training_data` hands the loop.

    Attributes:
        dataset: A torch ``Dataset`` with ``set_epoch(epoch)``: every random choice of an item
            derives from (seed, epoch, index), so a resumed or multi-process run sees the same items.
        validation: Opaque to the loop; passed back to :meth:`Family.validate`. None on ranks > 0.
        description: One line for the log ("1728 patches of 128 px from 96 strips; ...").
        state: Plain values saved at the top of each checkpoint and returned by ``load_model``'s
            info (reference_unet: the patch size training resolved).
        memory_format: The torch memory format the network trains in (None: as built).
    """

    dataset: Any
    validation: Any
    description: str
    state: dict[str, Any] = dataclasses.field(default_factory=dict)
    memory_format: Any = None


class ExportPlan(abc.ABC):
    """A family's side of ``defectkit export`` (:mod:`defectkit.export.pipeline`), for one run.

    The pipeline traces, simplifies, quantises, compares and writes; the plan says what the
    graphs are, how to run them on one validation sample, what to measure, and what the
    artifact says of itself. See ``defectkit.models.reference_unet.export.plan`` for one.
    """

    kinds: tuple[str, ...]  # graph kinds ``--graph auto`` considers; ``reference_kind`` among them
    reference_kind: str  # the graph that computes exactly what the trained model computes

    @abc.abstractmethod
    def graph(self, kind: str) -> GraphBuild:
        """The module to trace for graph ``kind``, with example inputs and names."""

    @abc.abstractmethod
    def runner(self, kind: str, model: Any) -> Any:
        """An object whose ``run(sample)`` gives ``(heatmap or None, score)`` for one validation sample."""

    @abc.abstractmethod
    def validation(self) -> Sequence[Any]:
        """The samples thresholds and decisions come from (each has ``label`` and ``mask``)."""

    @abc.abstractmethod
    def more_validation(self, round_index: int, count: int) -> Sequence[Any]:
        """About ``count`` more samples when the validation samples cannot decide; may be empty."""

    @abc.abstractmethod
    def calibration(self, kind: str) -> list[dict[str, Any]]:
        """INT8 calibration feeds (input name -> array) for graph ``kind``."""

    @abc.abstractmethod
    def float_groups(self, model: Any) -> dict[str, list[str]]:
        """Named parts of an exported graph that may stay in float for INT8 (node names)."""

    def fixed_float(self, model: Any) -> list[str]:
        """Nodes that stay float in every INT8 candidate (node names): outputs whose values are a
        contract, not only their order. None by default."""
        return []

    def quantization(self) -> dict[str, Any]:
        """Options of ONNX Runtime's ``quantize_static`` beyond export's defaults (QDQ, per-channel
        int8 weights, uint8 activations): ``op_types_to_quantize`` (default: every op type it can)
        and ``extra_options``; and ``dynamic_op_types`` (``MatMul``, ``Gemm``): products of an
        activation and a weight quantised first, their activations at run time (faster on ONNX
        Runtime's CPU provider, much slower on its OpenVINO EP: export/dynamic.py). Empty by
        default."""
        return {}

    @abc.abstractmethod
    def accuracy(self, samples: Sequence[Any], heatmaps: list, scores: list[float]) -> dict:
        """Metrics of one candidate on ``samples``, with ``thresholds`` for the artifact."""

    @abc.abstractmethod
    def parity(self, kind: str, runner: Any, samples: Sequence[Any]) -> dict[str, float]:
        """Max differences of the graph run by ONNX Runtime against the PyTorch it replaces."""

    @abc.abstractmethod
    def metadata(self, kind: str, model: Any, precision: str, thresholds: dict, provenance: dict) -> Any:
        """The artifact's :class:`defectkit.artifact.ArtifactMetadata`."""


class Family(abc.ABC):
    """One model family. Subclass, set the class attributes, implement every method.

    ``config_class`` is a dataclass of the family's own settings, nested in
    :class:`~defectkit.training.config.TrainConfig` as ``family_config``: its fields become
    ``defectkit train`` options, and it provides ``from_dict(values)`` (a classmethod that also
    reads what older runs saved) and ``problems() -> list[str]`` (TrainConfig.validate).
    """

    name: ClassVar[str]
    config_class: ClassVar[type]  # the family's own settings: a dataclass, nested in TrainConfig
    selection_metric: ClassVar[str]  # the validation metric best.pt maximises (a key validate returns)

    # --- the model
    @abc.abstractmethod
    def build(self, config: Any) -> torch.nn.Module:
        """A network with fresh random weights for ``config`` (the family's config)."""

    # --- training (defectkit.training.loop)
    @abc.abstractmethod
    def training_data(self, train: TrainConfig, rank: int) -> TrainingData:
        """The training set and, on rank 0, the validation set of ``train.data``."""

    @abc.abstractmethod
    def parameter_groups(self, model: torch.nn.Module, train: TrainConfig) -> list[dict[str, Any]]:
        """The optimiser's parameter groups (``{"params": [...], "lr": ...}``; a group without
        ``lr`` takes ``train.lr``): a pretrained backbone may learn slower than its head."""

    @abc.abstractmethod
    def epoch_start(self, model: torch.nn.Module, optimizer: Any, epoch: int, train: TrainConfig) -> None:
        """Called before each epoch (also after a resume): stages of training, such as a backbone
        frozen for the first epochs, follow from ``epoch`` alone, so a resumed run matches."""

    @abc.abstractmethod
    def training_step(
        self, train: TrainConfig
    ) -> Callable[[torch.nn.Module, tuple, float, Any], tuple[torch.Tensor, dict[str, float]]]:
        """``step(model, batch, progress, autocast) -> (loss, logs)``: the forward pass under
        ``autocast`` and the loss for one batch already on the device; ``progress`` in [0, 1] is
        the share of training done (schedules); ``logs`` land in the epoch's metrics row."""

    @abc.abstractmethod
    def validate(self, model: torch.nn.Module, validation: Any, *, full: bool) -> dict[str, Any]:
        """Metrics on the validation set (logged as ``val_<name>``); ``full`` False allows a cheap
        preview for epochs that cannot become best.pt."""

    # --- evaluation (defectkit eval / infer / demo)
    @abc.abstractmethod
    def evaluate(
        self,
        predictor: Predictor,
        data: pathlib.Path,
        *,
        out: pathlib.Path | None = None,
        progress: bool = True,
    ) -> dict[str, Any]:
        """Metrics on ``data``'s test split, by a trained model or an artifact through the C++ runtime;
        with ``out``, also the family's plots and per-item files there."""

    # --- export (defectkit export)
    @abc.abstractmethod
    def export_plan(self, model: torch.nn.Module, info: dict, train: TrainConfig, options: Any) -> ExportPlan:
        """The family's side of exporting this trained model."""

    @abc.abstractmethod
    def demo(self, out: pathlib.Path, options: DemoOptions) -> dict[str, Any]:
        """``make demo``: synthesise -> train -> evaluate -> export -> native inference -> latency
        in ``out``; returns the figures it also writes to ``out/summary.json``. Raises
        ``defectkit.Error`` when a step did not produce what the next needs."""

    @abc.abstractmethod
    def infer(
        self, predictor: Predictor, inputs: Sequence[pathlib.Path], out: pathlib.Path, *, progress: bool
    ) -> list[dict]:
        """``defectkit infer``: a picture and a row of results per input file, written to ``out``."""
