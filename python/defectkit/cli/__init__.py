"""The ``defectkit`` command line."""

from __future__ import annotations

from defectkit.cli.main import main

__all__ = ["main"]
