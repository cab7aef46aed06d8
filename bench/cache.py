"""Generated inputs cached on disk, keyed by the parameters that shaped them.

Generating a storm of a million alerts takes longer than replaying it, so inputs
are written once under ``bench/.cache/`` and reused while their parameters (and
the generator's ``GENERATOR_VERSION``) stay the same.
"""

import hashlib
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import orjson

CACHE_DIR = Path(__file__).resolve().parent / ".cache"
GENERATOR_VERSION = 1
"""Bump when a generator's output changes for the same parameters."""


def progress(message: str) -> None:
    """Benchmarks print figures on stdout; everything a person watches goes to stderr."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def cached_file(
    stem: str,
    suffix: str,
    params: Mapping[str, object],
    write: Callable[[Path], Mapping[str, object]],
) -> Path:
    """The cached file for ``params``, written by ``write`` (to a temporary name) when missing.

    What ``write`` returns (facts about the file, such as counts) is kept next to it
    and read back with ``metadata``.
    """
    key_source = orjson.dumps({"v": GENERATOR_VERSION, **params}, option=orjson.OPT_SORT_KEYS)
    key = hashlib.sha256(key_source).hexdigest()[:12]
    path = CACHE_DIR / f"{stem}-{key}{suffix}"
    if path.exists():
        return path
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    progress(f"generating {path.name} ({orjson.dumps(params).decode()})")
    try:
        facts = write(partial)
        _metadata_path(path).write_bytes(orjson.dumps(facts))
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def metadata(path: Path) -> dict[str, object]:
    loaded: dict[str, object] = orjson.loads(_metadata_path(path).read_bytes())
    return loaded


def _metadata_path(path: Path) -> Path:
    return path.with_name(f"{path.name}.meta.json")
