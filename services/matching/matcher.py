"""What a request needs to rank: the process's in-memory index and the sentence encoder.

`Ranker.for_request()` refreshes the index *before* the request opens its own transaction (on
SQLite a transaction holds the write lock from its start, so refreshing from a second session
inside it would wait on itself); the request then ranks against that snapshot.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.matching.embedding import Embedder
from services.matching.index import IndexCache
from services.matching.ranking import MemoryIndex


class VectorCache:
    """The vectors of the last texts embedded (a demand's text does not change, and its
    matches are read again and again)."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._vectors: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()

    async def embed(self, embedder: Embedder, texts: list[str]) -> npt.NDArray[np.float32]:
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            vectors = await asyncio.to_thread(embedder.encode, missing)
            for text, vector in zip(missing, vectors, strict=True):
                self._vectors[text] = vector
        for text in texts:
            self._vectors.move_to_end(text)
        found = np.stack([self._vectors[t] for t in texts]) if texts else np.zeros((0, 0))
        while len(self._vectors) > self.size:
            self._vectors.popitem(last=False)
        return found.astype(np.float32, copy=False)


@dataclass
class RequestRanker:
    index: MemoryIndex
    generation: int
    embedder: Embedder
    vectors: VectorCache

    async def embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        return await self.vectors.embed(self.embedder, texts)


@dataclass
class Ranker:
    cache: IndexCache
    sessionmaker: async_sessionmaker[AsyncSession]
    vectors: VectorCache = field(default_factory=VectorCache)

    async def for_request(self) -> RequestRanker:
        index = await self.cache.current(self.sessionmaker)
        return RequestRanker(index, self.cache.generation, self.cache.embedder, self.vectors)

    async def embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        return await asyncio.to_thread(self.cache.embedder.encode, texts)
