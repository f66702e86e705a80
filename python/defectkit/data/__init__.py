"""Strip data: the TIFF strip reader/writer of the data contract and the demo dataset generator.

``make_demo_dataset`` is imported on first use, so reading strips does not need
OpenCV or tqdm (the demo generator's optional dependencies).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from defectkit.data.strip_io import read_strip_tifffile, write_strip

if TYPE_CHECKING:
    from defectkit.data.demo import make_demo_dataset

__all__ = ["make_demo_dataset", "read_strip_tifffile", "write_strip"]


def __getattr__(name: str) -> Any:
    if name == "make_demo_dataset":
        from defectkit.data.demo import make_demo_dataset

        return make_demo_dataset
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
