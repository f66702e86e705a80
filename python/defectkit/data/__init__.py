"""Strip data: the TIFF strip reader/writer of the data contract (tifffile), and dataset layouts."""

from __future__ import annotations

from defectkit.data.strip_io import read_strip_tifffile, write_strip

__all__ = ["read_strip_tifffile", "write_strip"]
