"""A toy model family defined entirely in the tests: proof that the family seam holds.

Two inputs (``signal``, (N, 8) float32; ``image``, (N, 1, 16, 16) uint8 as a
camera gives it) and two outputs (``score``, (N,) defect probability;
``heatmap``, (N, 1, 16, 16) defect probability per pixel) from a network of
two layers per branch. A defective sample has a bright square in its image
(the ground-truth mask) and a shifted signal. It implements every method of
:class:`defectkit.models.family.Family` and :class:`ExportPlan`, and nothing
outside this folder knows it exists.
"""

from __future__ import annotations

import dataclasses
import pathlib
import statistics
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from defectkit import families
from defectkit.artifact import ArtifactMetadata, TensorSpec
from defectkit.evaluation.metrics import auroc, evaluate
from defectkit.models.family import DemoOptions, ExportPlan, Family, GraphBuild, Predictor, TrainingData
from defectkit.models.graph_parts import downstream, tensor_types

SIZE = 16
SIGNAL = 8


@dataclasses.dataclass
class ToyConfig:
    hidden: int = 8
    items: int = 96  # training samples per epoch

    def problems(self) -> list[str]:
        return [] if self.hidden >= 1 else [f"hidden must be >= 1, got {self.hidden}"]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ToyConfig:
        return cls(**values)


class ToyOutput(NamedTuple):
    score: torch.Tensor  # (N,)
    heatmap: torch.Tensor  # (N, 1, 16, 16)


class ToyNet(nn.Module):
    def __init__(self, config: ToyConfig) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, config.hidden, 3, padding=1)
        self.conv2 = nn.Conv2d(config.hidden, 1, 3, padding=1)
        self.fc1 = nn.Linear(SIGNAL + 1, config.hidden)
        self.fc2 = nn.Linear(config.hidden, 1)

    def forward(self, signal: torch.Tensor, image: torch.Tensor) -> ToyOutput | tuple:
        x = image.float() * (1.0 / 255.0)  # uint8 as the camera gives it; scaling inside the graph
        pixel_logits = self.conv2(torch.relu(self.conv1(x)))  # (N, 1, 16, 16)
        peak = pixel_logits.amax(dim=(1, 2, 3)).unsqueeze(1)  # (N, 1)
        score_logit = self.fc2(torch.relu(self.fc1(torch.cat([signal, peak], dim=1))))[:, 0]  # (N,)
        if self.training:
            return score_logit, pixel_logits
        return ToyOutput(torch.sigmoid(score_logit), torch.sigmoid(pixel_logits))


@dataclasses.dataclass
class ToySample:
    signal: np.ndarray  # (8,) float32
    image: np.ndarray  # (1, 16, 16) uint8
    mask: np.ndarray  # (16, 16) bool
    label: int


def make_sample(rng: np.random.Generator, defective: bool) -> ToySample:
    image = rng.integers(20, 90, (1, SIZE, SIZE)).astype(np.uint8)
    mask = np.zeros((SIZE, SIZE), bool)
    signal = rng.normal(0.0, 1.0, SIGNAL).astype(np.float32)
    if defective:
        y, x = rng.integers(0, SIZE - 4, 2)
        mask[y : y + 4, x : x + 4] = True
        image[0][mask] = rng.integers(150, 255, int(mask.sum()))
        signal += 0.7
    return ToySample(signal, image, mask, int(defective))


def write_dataset(root: pathlib.Path, counts: dict[str, int], seed: int = 0) -> pathlib.Path:
    """``root/<split>.npz`` with signals, images, masks and labels, half of each split defective."""
    root.mkdir(parents=True, exist_ok=True)
    for split, count in counts.items():
        rng = np.random.default_rng([seed, len(split), count])
        samples = [make_sample(rng, i % 2 == 1) for i in range(count)]
        np.savez(
            root / f"{split}.npz",
            signal=np.stack([s.signal for s in samples]),
            image=np.stack([s.image for s in samples]),
            mask=np.stack([s.mask for s in samples]),
            label=np.array([s.label for s in samples]),
        )
    return root


def read_split(root: pathlib.Path, split: str) -> list[ToySample]:
    with np.load(root / f"{split}.npz") as npz:
        return [
            ToySample(*(npz[k][i] for k in ("signal", "image", "mask", "label")))
            for i in range(len(npz["label"]))
        ]


class ToyDataset(torch.utils.data.Dataset):
    def __init__(self, samples: list[ToySample]) -> None:
        self.samples, self.epoch = samples, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        s = self.samples[index]
        return (
            torch.from_numpy(s.signal),
            torch.from_numpy(s.image),
            torch.from_numpy(s.mask.astype(np.float32)[None]),
            torch.tensor(float(s.label)),
        )


def _records(samples: Sequence[ToySample], outputs: Sequence[tuple[np.ndarray, float]]) -> list[dict]:
    return [
        {
            "category": "defect" if s.label else "good",
            "label": s.label,
            "mask": s.mask,
            "heatmap": h,
            "score": score,
        }
        for s, (h, score) in zip(samples, outputs, strict=True)
    ]


def torch_outputs(model: nn.Module, samples: Sequence[ToySample]) -> list[tuple[np.ndarray, float]]:
    with torch.no_grad():
        out = model(
            torch.from_numpy(np.stack([s.signal for s in samples])),
            torch.from_numpy(np.stack([s.image for s in samples])),
        )
    return [(out.heatmap[i, 0].numpy(), float(out.score[i])) for i in range(len(samples))]


class ToyRunner:
    """One sample through an exported toy graph in ONNX Runtime (or the native session)."""

    def __init__(self, model: onnx.ModelProto | str) -> None:
        source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else model
        self.session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])

    def run(self, sample: ToySample) -> tuple[np.ndarray, float]:
        score, heatmap = self.session.run(None, {"signal": sample.signal[None], "image": sample.image[None]})
        return heatmap[0, 0], float(score[0])


class ToyPlan(ExportPlan):
    kinds = ("plain",)
    reference_kind = "plain"

    def __init__(self, network: nn.Module, train: Any, options: Any) -> None:
        self.network, self.train, self.options = network, train, options
        self.data = pathlib.Path(options.data or train.data)

    def graph(self, kind: str) -> GraphBuild:
        example = (torch.zeros(1, SIGNAL), torch.zeros(1, 1, SIZE, SIZE, dtype=torch.uint8))
        axes = {name: {0: "batch"} for name in ("signal", "image", "score", "heatmap")}
        return GraphBuild(self.network, example, ["signal", "image"], axes)

    def runner(self, kind: str, model: onnx.ModelProto) -> ToyRunner:
        return ToyRunner(model)

    def validation(self) -> Sequence[ToySample]:
        return read_split(self.data, "valid")

    def more_validation(self, round_index: int, count: int) -> Sequence[ToySample]:
        rng = np.random.default_rng([7, round_index])
        return [make_sample(rng, i % 2 == 1) for i in range(count)]

    def calibration(self, kind: str) -> list[dict[str, np.ndarray]]:
        return [
            {"signal": s.signal[None], "image": s.image[None]} for s in read_split(self.data, "train")[:16]
        ]

    def float_groups(self, model: onnx.ModelProto) -> dict[str, list[str]]:
        sigmoid = [n for n in model.graph.node if n.op_type == "Sigmoid"]
        return {"head": [name for node in sigmoid for name in downstream(model, node)]}

    def accuracy(self, samples: Sequence[ToySample], heatmaps: list, scores: list[float]) -> dict:
        return evaluate(_records(samples, list(zip(heatmaps, scores, strict=True))))

    def parity(self, kind: str, runner: ToyRunner, samples: Sequence[ToySample]) -> dict[str, float]:
        mine = torch_outputs(self.network, samples)
        theirs = [runner.run(s) for s in samples]
        return {
            "onnx_vs_torch": max(float(np.abs(a[0] - b[0]).max()) for a, b in zip(mine, theirs, strict=True)),
            "score_vs_torch": max(abs(a[1] - b[1]) for a, b in zip(mine, theirs, strict=True)),
        }

    def metadata(
        self, kind: str, model: onnx.ModelProto, precision: str, thresholds: dict, provenance: dict
    ) -> ArtifactMetadata:
        types = tensor_types(model)
        return ArtifactMetadata(
            family="toy",
            precision=precision,
            inputs=[
                TensorSpec("signal", *types["signal"], "NC", None, "sensor values"),
                TensorSpec("image", *types["image"], "NCHW", 255.0, "grey image as the camera gives it"),
            ],
            outputs=[
                TensorSpec("score", *types["score"], "N", None, "defect probability"),
                TensorSpec("heatmap", *types["heatmap"], "NCHW", None, "defect probability per pixel"),
            ],
            thresholds={"image": thresholds["image"], "pixel": thresholds["pixel"]},
            family_section={"kind": kind, "image_size": [SIZE, SIZE]},
            provenance=provenance,
        )


class ToyFamily(Family):
    name = "toy"
    config_class = ToyConfig
    selection_metric = "image_auroc"

    def build(self, config: ToyConfig) -> ToyNet:
        return ToyNet(config)

    def training_data(self, train: Any, rank: int) -> TrainingData:
        data = pathlib.Path(train.data)
        validation = read_split(data, "valid") if rank == 0 else None
        dataset = ToyDataset(read_split(data, "train")[: train.family_config.items])
        return TrainingData(dataset, validation, f"{len(dataset)} toy samples", state={"toy_size": SIZE})

    def parameter_groups(self, model: nn.Module, train: Any) -> list[dict[str, Any]]:
        image = [*model.conv1.parameters(), *model.conv2.parameters()]
        return [
            {"params": image},
            {"params": [*model.fc1.parameters(), *model.fc2.parameters()], "lr": train.lr / 3},
        ]

    def epoch_start(self, model: nn.Module, optimizer: Any, epoch: int, train: Any) -> None:
        """The image branch stays frozen for the first two epochs (a stage, as a pretrained backbone's)."""
        for parameter in [*model.conv1.parameters(), *model.conv2.parameters()]:
            parameter.requires_grad_(epoch >= 2)

    def training_step(self, train: Any):
        def step(model: nn.Module, batch: tuple, progress: float, autocast: Any):
            signal, image, mask, label = batch
            with autocast:
                score_logit, pixel_logits = model(signal, image)
            loss = nn.functional.binary_cross_entropy_with_logits(score_logit.float(), label)
            loss = loss + nn.functional.binary_cross_entropy_with_logits(pixel_logits.float(), mask)
            return loss, {"progress": progress}

        return step

    def validate(self, model: nn.Module, validation: Any, *, full: bool) -> dict[str, Any]:
        model.eval()
        try:
            outputs = torch_outputs(model, validation if full else validation[:8])
        finally:
            model.train()
        checked = validation if full else validation[:8]
        return {
            "image_auroc": auroc([s.label for s in checked], [o[1] for o in outputs]),
            "samples": len(checked),
        }

    def evaluate(
        self,
        predictor: Predictor,
        data: pathlib.Path,
        *,
        out: pathlib.Path | None = None,
        progress: bool = True,
    ) -> dict[str, Any]:
        samples = read_split(data, "test")
        if predictor.artifact is not None:
            import defectkit

            session = defectkit.ArtifactSession(predictor.artifact)  # the generic native session
            outputs = []
            for s in samples:
                result = session.run({"signal": s.signal[None], "image": s.image[None]})
                outputs.append((result["heatmap"][0, 0], float(result["score"][0])))
        else:
            outputs = torch_outputs(predictor.model, samples)
        return evaluate(_records(samples, outputs))

    def export_plan(self, model: nn.Module, info: dict, train: Any, options: Any) -> ToyPlan:
        return ToyPlan(model, train, options)

    def infer(
        self, predictor: Predictor, inputs: Sequence[pathlib.Path], out: pathlib.Path, *, progress: bool
    ) -> list[dict]:
        out.mkdir(parents=True, exist_ok=True)
        rows = []
        for path in inputs:
            samples = read_split(path.parent, path.stem)
            for index, (_, score) in enumerate(torch_outputs(predictor.model, samples)):
                rows.append({"path": f"{path}#{index}", "score": score})
        (out / "scores.csv").write_text("path,score\n" + "".join(f"{r['path']},{r['score']}\n" for r in rows))
        return rows

    def demo(self, out: pathlib.Path, options: DemoOptions) -> dict[str, Any]:
        from defectkit.export.pipeline import ExportOptions, export_run
        from defectkit.training import TrainConfig, load_model, train

        data = write_dataset(out / "data", {"train": 96, "valid": 80, "test": 40}, seed=options.seed)
        config = TrainConfig(
            data=str(data),
            out=str(out / "run"),
            family="toy",
            family_config=ToyConfig(),
            epochs=options.epochs or 30,
            lr=3e-2,
            batch_size=16,
            precision="fp32",
            seed=options.train_seed,
        )
        train(config, progress=False)
        model, info = load_model(out / "run")
        trained = self.evaluate(Predictor(model=model, info=info), data)
        report = export_run(ExportOptions(run=out / "run", out=out / "artifact", int8=True, max_extensions=0))
        native = {
            name: self.evaluate(Predictor(artifact=out / "artifact" / name), data)
            for name in ("model_fp32.onnx", "model_int8.onnx")
        }
        session, sample = None, read_split(data, "test")[0]
        import defectkit

        session = defectkit.ArtifactSession(out / "artifact" / "model_int8.onnx")
        seconds = []
        for _ in range(20):
            start = time.perf_counter()
            session.run({"signal": sample.signal[None], "image": sample.image[None]})
            seconds.append(time.perf_counter() - start)
        return {
            "trained": trained,
            "native": native,
            "report": report,
            "p50_ms": 1e3 * statistics.median(seconds),
        }


FAMILY = ToyFamily()


def register() -> ToyFamily:
    return families.register(FAMILY)
