"""Seeds derived from names: one stable seed for any tuple of parts (the run seed and what for)."""

from __future__ import annotations

import zlib
from typing import Any


def derive_seed(*parts: Any) -> int:
    """A stable 31-bit seed from any parts (stable across processes, unlike ``hash``)."""
    return zlib.crc32("/".join(map(str, parts)).encode()) & 0x7FFFFFFF
