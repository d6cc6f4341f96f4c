"""Per-replication, per-node, per-purpose random streams (SPEC §3.5).

A stream is a counter-based generator: draw k of a stream is
``mix64(key + k * GAMMA)`` (SplitMix64), so its whole state is one key and one
counter. The key is derived from (seed, replication) and from a hash of the
node id and the purpose, never from positions in the file: changing, adding or
removing one node leaves every other node's draws unchanged (common random
numbers for paired comparisons). Both engines draw through :func:`uniform`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from numba import njit

GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO_POW_M53 = 1.0 / 9007199254740992.0

#: Purposes every node owns a stream for; failure modes add two each (ttf, ttr).
PURPOSES = ("arrival", "product", "process", "setup", "scrap", "routing", "tool", "load", "unload")


@njit(cache=True)
def mix64(z):
    """SplitMix64 finaliser: a bijective scramble of a uint64."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True)
def replication_keys(seed_key, replication, stream_hashes, out_keys):
    """Fill `out_keys` with the key of every stream for one replication."""
    rep_key = mix64(seed_key + GAMMA * np.uint64(replication + 1))
    for s in range(stream_hashes.shape[0]):
        out_keys[s] = mix64(rep_key ^ stream_hashes[s])


@njit(cache=True)
def next_bits(keys, counters, s):
    """Next draw of stream `s`: 64 random bits (a uint64)."""
    c = counters[s]
    counters[s] = c + np.uint64(1)
    return mix64(keys[s] + c * GAMMA)


@njit(cache=True)
def uniform(keys, counters, s):
    """Next draw of stream `s`, uniform on [0, 1) with 53 random bits."""
    return float(next_bits(keys, counters, s) >> _S11) * _TWO_POW_M53


def hash64(text: str) -> int:
    """A stable 64-bit hash of a string (the same on every machine and Python)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def seed_key(seed: int) -> np.uint64:
    """The uint64 root key of a scenario seed (any integer)."""
    return np.uint64(hash64(f"twin-seed/{int(seed)}"))


def failure_purposes(mode_name: str) -> tuple[str, str]:
    return (f"failure:{mode_name}:ttf", f"failure:{mode_name}:ttr")


@dataclass(frozen=True)
class StreamLayout:
    """Where each (node, purpose) stream lives in the flat key/counter arrays."""

    index: dict[tuple[str, str], int]
    hashes: np.ndarray  # uint64, one per stream

    @classmethod
    def for_line(cls, line) -> "StreamLayout":
        index: dict[tuple[str, str], int] = {}
        hashes: list[int] = []
        for station in line.stations:
            purposes = list(PURPOSES)
            for failure in station.failures:
                purposes.extend(failure_purposes(failure.name))
            for purpose in purposes:
                index[(station.id, purpose)] = len(hashes)
                hashes.append(hash64(f"{station.id}/{purpose}"))
        return cls(index, np.array(hashes, dtype=np.uint64))

    def keys(self, seed: int, replication: int) -> np.ndarray:
        out = np.empty(len(self.hashes), dtype=np.uint64)
        replication_keys(seed_key(seed), replication, self.hashes, out)
        return out
