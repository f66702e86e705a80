"""A SIGTERM ends a command as Ctrl-C does: temporary folders go, the exit status says why."""

from __future__ import annotations

import os
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


def _start(script: str, folder: pathlib.Path) -> subprocess.Popen:
    """``script`` in a fresh interpreter, its output read line by line."""
    return subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=folder
    )


def test_sigterm_removes_the_temporary_folder_and_exits_143(tmp_path: pathlib.Path) -> None:
    process = _start(_COMMAND, tmp_path)
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


# A command whose forked child (as a DataLoader worker is) is stopped first: the child ends by
# the signal as before, silently; the command itself still unwinds on its own SIGTERM.
_FORKING_COMMAND = textwrap.dedent(
    """
    import importlib, multiprocessing, sys, time, types
    cli = importlib.import_module("defectkit.cli.main")

    def run(args):
        child = multiprocessing.get_context("fork").Process(target=time.sleep, args=(60,))
        child.start()
        print(child.pid, flush=True)
        child.join()
        print(child.exitcode, flush=True)
        time.sleep(60)

    cli._load = lambda name: types.SimpleNamespace(run=run, add_arguments=lambda parser: None)
    sys.exit(cli.main(["info"]))
    """
)


def test_a_forked_child_ends_by_the_signal_and_the_command_still_unwinds(tmp_path: pathlib.Path) -> None:
    process = _start(_FORKING_COMMAND, tmp_path)
    try:
        child = int(process.stdout.readline())
        os.kill(child, signal.SIGTERM)
        assert int(process.stdout.readline()) == -signal.SIGTERM  # killed by the signal, as before
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert stderr.count("stopped by SIGTERM") == 1, stderr  # the command's, not the child's
