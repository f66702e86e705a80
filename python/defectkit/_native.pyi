"""Type stub for the private native module; users call the defectkit facade."""

import numpy as np

def read_strip(path: str) -> np.ndarray: ...
def default_onnxruntime_library() -> str: ...
def load_onnxruntime(library_path: str = "") -> dict[str, object]: ...
def input_copies() -> int: ...

class Model:
    def __init__(
        self,
        path: str,
        intra_op_threads: int = 0,
        inter_op_threads: int = 0,
        onnxruntime_library: str = "",
        provider: str = "cpu",
        graph_optimization: str = "all",
    ) -> None: ...
    @property
    def path(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def inputs(self) -> list[tuple[str, list[int]]]: ...
    @property
    def outputs(self) -> list[tuple[str, list[int]]]: ...
    @property
    def metadata(self) -> dict[str, str]: ...
    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]: ...

class Inspector:
    def __init__(
        self,
        path: str,
        intra_op_threads: int = 0,
        inter_op_threads: int = 0,
        provider: str = "cpu",
        graph_optimization: str = "all",
        max_batch: int = 16,
        onnxruntime_library: str = "",
        verify: bool = False,
        expected_sha256: str = "",
    ) -> None: ...
    @property
    def path(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def info(self) -> dict[str, object]: ...
    def inspect_path(
        self,
        path: str,
        roi: bool = False,
        image_threshold: float | None = None,
        pixel_threshold: float | None = None,
    ) -> dict[str, object]: ...
    def inspect_array(
        self,
        array: np.ndarray,
        layout: str = "CHW",
        roi: bool = False,
        image_threshold: float | None = None,
        pixel_threshold: float | None = None,
    ) -> dict[str, object]: ...
