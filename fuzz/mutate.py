"""Byte-level damage to a well-formed payload: cut it short, or flip some of its bits."""

from __future__ import annotations

from random import Random


def truncated(rng: Random, data: bytes) -> tuple[str, bytes]:
    """``data`` cut at a random point (possibly to nothing)."""
    keep = rng.randrange(len(data)) if data else 0
    return f"truncated to {keep} of {len(data)} bytes", data[:keep]


def bit_flips(rng: Random, data: bytes, most: int = 16) -> tuple[str, bytes]:
    """``data`` with 1 to ``most`` bits flipped at random places."""
    if not data:
        return "empty", data
    damaged = bytearray(data)
    count = rng.randint(1, most)
    for _ in range(count):
        damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
    return f"{count} bits flipped", bytes(damaged)
