"""`manifest.json`: the sha256 of every other file of a bundle, and a hash of itself.

Shape (keys sorted, two-space indent, one final newline — the only form
accepted, so any changed byte is noticed)::

    {
      "algorithm": "sha256",
      "files": {"evidence.json": "<hex>", "plots/throughput.png": "<hex>", ...},
      "manifest_sha256": "<hex>",
      "schema": "twin.manifest/1"
    }

`files` has every file of the bundle but `manifest.json` and
`signature.ed25519`, by path relative to the bundle with `/` separators.
`manifest_sha256` is the sha256 of the canonical JSON of the other three
keys, so a changed hash inside the manifest is reported as a change of the
manifest itself, not only as a mismatch of the file it names.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from twin.evidence.document import canonical_json

MANIFEST = "manifest.json"
SCHEMA = "twin.manifest/1"
#: files of a bundle that the manifest does not list
UNLISTED = (MANIFEST, "signature.ed25519")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bundle_files(bundle: Path) -> list[str]:
    """Relative paths (with `/`) of every file in the bundle that the manifest lists, sorted."""
    return sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*")
                  if p.is_file() and p.relative_to(bundle).as_posix() not in UNLISTED)


def bundle_entries(bundle: Path) -> set[str]:
    """Relative paths of everything in the bundle (files, folders, links, none followed): additions
    show. A folder that cannot be listed raises OSError (its files would look missing)."""
    return {(Path(top) / name).relative_to(bundle).as_posix()
            for top, folders, files in os.walk(bundle, onerror=_raise) for name in folders + files}


def _raise(error: OSError) -> None:
    raise error


def self_hash(manifest: dict) -> str:
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def build(bundle: Path) -> dict:
    """The manifest of the files now in `bundle`."""
    manifest = {"algorithm": "sha256", "schema": SCHEMA,
                "files": {rel: sha256_file(bundle / rel) for rel in bundle_files(bundle)}}
    manifest["manifest_sha256"] = self_hash(manifest)
    return manifest


def dumps(manifest: dict) -> bytes:
    """The one accepted byte form of a manifest."""
    return (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode("ascii")
