"""Real trouble for a workspace, for the tests of what users see when it comes.

``small_disk(folder)`` mounts a tmpfs of a few megabytes on ``folder`` (keeping what the
folder held), so a test can fill it up, free it again, or remount it read-only: the same
ENOSPC and EROFS a real disk gives, no mock. ``read_only_files`` makes files immutable while
they are open. ``holding`` runs another process that holds a database, under the command line
a test chooses. Mounting and ``chattr`` need root: elsewhere those tests are skipped with the
reason, except in CI (which runs as root) where that is a failure.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

__all__ = ["SmallDisk", "holding", "read_only_files", "small_disk"]


@dataclass(frozen=True)
class SmallDisk:
    """A mounted tmpfs: fill it, free it, make it read-only or writable again."""

    root: Path

    @property
    def _filler(self) -> Path:
        return self.root / ".filler"

    def fill(self) -> None:
        """Write one file until the disk refuses (ENOSPC): nothing else fits any more."""
        descriptor = os.open(self._filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            while True:
                os.write(descriptor, b"\0" * 65536)
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise
        finally:
            os.close(descriptor)

    def free(self) -> None:
        """Space is back."""
        self._filler.unlink(missing_ok=True)

    def read_only(self) -> None:
        _mount("-o", "remount,ro", str(self.root))

    def writable(self) -> None:
        _mount("-o", "remount,rw", str(self.root))


@contextmanager
def small_disk(folder: Path, size: str = "8m") -> Iterator[SmallDisk]:
    """``folder`` moved onto a fresh tmpfs of ``size``; unmounted (lazily) at the end."""
    folder.mkdir(parents=True, exist_ok=True)
    kept = Path(tempfile.mkdtemp(prefix="small-disk-"))
    for entry in folder.iterdir():
        shutil.move(entry, kept / entry.name)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    for entry in kept.iterdir():
        shutil.move(entry, folder / entry.name)
    kept.rmdir()
    if mounted.returncode != 0:
        reason = f"cannot mount a small tmpfs here ({mounted.stderr.strip()}); needs root"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason}")
        pytest.skip(reason)
    try:
        yield SmallDisk(folder)
    finally:
        with suppress(OSError):
            SmallDisk(folder).free()
        # Lazy: a store still open on the disk (closed later by a fixture) does not block it.
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


@contextmanager
def read_only_files(folder: Path) -> Iterator[None]:
    """``folder`` and every file in it made immutable (``chattr +i``) for a while: writes to
    them fail as on a read-only disk (EPERM), even for root and for files already open."""
    paths = [str(folder), *(str(path) for path in folder.iterdir())]
    made = subprocess.run(["chattr", "+i", *paths], capture_output=True, text=True)
    if made.returncode != 0:
        subprocess.run(["chattr", "-i", *paths], capture_output=True)
        reason = f"cannot make files immutable here ({made.stderr.strip()}); needs root"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason}")
        pytest.skip(reason)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *paths], capture_output=True)


@contextmanager
def holding(database: Path, argv: list[str]) -> Iterator[subprocess.Popen[str]]:
    """Another process, run as ``argv`` (e.g. ``["intentgap", "import"]``), that holds
    ``database`` open until the end: a script by that name, next to the database, opens it."""
    program = database.parent / argv[0]
    program.write_text(
        "import sys, time\nfrom data.store import Store\n"
        "store = Store(sys.argv[-1])\nprint('held', flush=True)\ntime.sleep(120)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, str(program), *argv[1:], str(database)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait()
        program.unlink()
