"""Files the daemon and the CLI write: owner-only, and never destroyed by a failed write.

Everything marginbot writes holds a trader's commands, positions or alerts: directories are
0700 and files 0600. An output replaces its old version only once it is complete (written
beside it, then renamed), and an output that is also an input is refused before anything is
opened for writing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from bot.errors import InputError


def private_dir(path: Path) -> Path:
    """`path`, created if missing, readable by its owner only."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):  # a directory we do not own stays as it is
        path.chmod(0o700)
    return path


def private_file(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError, PermissionError):
        path.chmod(0o600)


@contextlib.contextmanager
def replacing(output: Path, inputs: Sequence[Path] = ()) -> Iterator[Path]:
    """A temporary path beside `output`; renamed onto it when the block succeeds, removed
    when it fails, so an existing `output` is either replaced whole or left as it was."""
    for source in inputs:
        with contextlib.suppress(FileNotFoundError):
            if output.exists() and output.samefile(source):
                raise InputError(
                    f"{output} is also an input: writing it would destroy what is being read; "
                    "give another output file"
                )
    if output.exists() and output.is_dir():
        raise InputError(f"{output} is a directory; give an output file")
    output.parent.mkdir(parents=True, exist_ok=True)
    # The same suffixes as the output (a writer may choose its format by them, as .gz).
    temporary = output.with_name(f".partial-{os.getpid()}-{output.name}")
    try:
        yield temporary
        temporary.replace(output)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
