"""A background thread that commits scored chunks while the next chunk is being scored.

DuckDB releases the GIL while it inserts, commits and checkpoints, so writing on a second
thread overlaps the database work with the (GIL-bound) scoring of the next chunk: on two
cores this is worth about a third of the wall time of the deterministic path. The queue is
bounded, so memory stays at a couple of chunks; the first write error stops the run.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.scoring import ScoredItem
from engine.store import Store
from engine.writer import ChunkCounts, write_chunk
from ingest.model import Quarantined


@dataclass
class _Chunk:
    number: int
    first_seq: int
    scored: Sequence[ScoredItem]
    quarantined: Sequence[Quarantined]


_STOP = object()


class BackgroundWriter:
    """Commits chunks in submission order on its own thread; ``on_commit`` runs after each."""

    def __init__(
        self,
        store: Store,
        run_id: str,
        on_commit: Callable[[ChunkCounts], None],
        depth: int = 2,
        item_fields: Sequence[str] = (),
        annotation_fields: Sequence[str] = (),
    ) -> None:
        self.run_id = run_id
        self.item_fields = item_fields
        self.annotation_fields = annotation_fields
        self.on_commit = on_commit
        self.seconds = 0.0
        self._session = store.session()
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="labelgate-writer", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        try:
            while True:
                chunk = self._queue.get()
                if chunk is _STOP:
                    break
                assert isinstance(chunk, _Chunk)
                started = time.perf_counter()
                with self._session.transaction() as con:
                    counts = write_chunk(
                        con,
                        self.run_id,
                        chunk.number,
                        chunk.first_seq,
                        chunk.scored,
                        chunk.quarantined,
                        self.item_fields,
                        self.annotation_fields,
                    )
                self.seconds += time.perf_counter() - started
                self.on_commit(counts)
        except BaseException as exc:  # handed to the submitting thread
            self._error = exc
        finally:
            started = time.perf_counter()
            self._session.release()
            self.seconds += time.perf_counter() - started

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    def submit(
        self, number: int, first_seq: int, scored: Sequence[ScoredItem], quarantined: Sequence[Quarantined]
    ) -> None:
        chunk = _Chunk(number, first_seq, scored, quarantined)
        while True:
            self._check()
            try:
                self._queue.put(chunk, timeout=0.2)
                return
            except queue.Full:
                if not self._thread.is_alive():
                    self._check()
                    raise RuntimeError("the writer thread stopped unexpectedly") from None

    def close(self) -> None:
        """Wait until every submitted chunk is committed; re-raise a write error."""
        if self._thread.is_alive():
            while True:
                try:
                    self._queue.put(_STOP, timeout=0.2)
                    break
                except queue.Full:
                    if not self._thread.is_alive():
                        break
            self._thread.join()
        self._check()
