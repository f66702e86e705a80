"""A SIGTERM ends a command as Ctrl-C does: temporary folders go, the exit status says why."""

from __future__ import annotations

import pathlib
import signal
import subprocess
import sys
import textwrap

from defectkit.cli import main

# A command that holds a temporary folder the way export's Calibration does (an attribute
# cleaned by its finaliser, no ``with``), reports it, then waits to be stopped. It runs through
# the real ``main()``; only the command module is swapped for this one.
_COMMAND = textwrap.dedent(
    """
    import importlib, sys, tempfile, time, types
    cli = importlib.import_module("defectkit.cli.main")  # the module; the package exports main()

    def run(args):
        held = tempfile.TemporaryDirectory(prefix="defectkit-quant-")
        print(held.name, flush=True)
        time.sleep(60)

    cli._load = lambda name: types.SimpleNamespace(run=run, add_arguments=lambda parser: None)
    sys.exit(cli.main(["info"]))
    """
)


def test_sigterm_removes_the_temporary_folder_and_exits_143(tmp_path: pathlib.Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", _COMMAND],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        line = process.stdout.readline().strip()
        folder = pathlib.Path(line)
        assert folder.name.startswith("defectkit-quant-") and folder.is_dir(), f"no folder reported: {line!r}"
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert "defectkit info: stopped by SIGTERM" in stderr
    assert not folder.exists(), f"{folder} was left behind"


def test_main_puts_the_previous_handler_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    assert main(["info"]) == 0
    assert signal.getsignal(signal.SIGTERM) is before
