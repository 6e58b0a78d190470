"""A batch on a Dask cluster (``export --cluster ADDRESS``): the optional extra ``lipsync-ja[cluster]``.

``dask.distributed``'s ``Client.get_executor()`` gives standard futures, so the runner treats
the cluster as it treats local processes. The cluster's scheduler sends each chunk to a
worker and, if the worker dies, to another (up to its ``allowed-failures``, then
``KilledWorker``: ``lost`` says so and the runner splits the chunk). Chunks carry their
inputs and results come back as bytes (``lipsync.export.work``): the workers need lipsync
(the same version) but no disk shared with the submitting side, which writes every output.

Dask is imported when a run first needs the cluster, never by ``import lipsync``.
"""

from __future__ import annotations

from concurrent.futures import Executor, Future
from typing import Any

from lipsync.errors import ClusterError, MissingDependency
from lipsync.export.pools import Done
from lipsync.export.work import Chunk, work_chunk

__all__ = ["INSTALL_HINT", "DaskPool"]

INSTALL_HINT = "--cluster needs Dask's distributed scheduler: pip install 'lipsync-ja[cluster]'"
#: Seconds to wait for the scheduler to answer a connection.
CONNECT_TIMEOUT = 10.0
_REFRESH = 8  # chunks between two looks at how many threads the workers have


class DaskPool:
    """The workers of the Dask scheduler at ``address`` (``tcp://host:8786``), connected on first use."""

    generation = 0

    def __init__(self, address: str, *, timeout: float = CONNECT_TIMEOUT) -> None:
        self.address = address
        self.timeout = timeout
        self._client: Any = None
        self._executor: Executor | None = None
        self._killed: type[BaseException] | None = None
        self._slots = 1
        self._sent = 0

    def connect(self) -> None:
        """Reach the scheduler now (the first chunk does it otherwise)."""
        if self._client is not None:
            return
        try:
            from distributed import Client
            from distributed.scheduler import KilledWorker
        except ImportError as exc:
            raise MissingDependency(INSTALL_HINT) from exc
        try:
            connect: Any = Client  # untyped in some versions
            self._client = connect(self.address, timeout=self.timeout, set_as_default=False)
        except Exception as exc:  # OSError, TimeoutError, ValueError (a bad address)...
            raise ClusterError(f"cannot reach the Dask scheduler at {self.address}: "
                               f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
        self._killed = KilledWorker
        self._executor = self._client.get_executor(pure=False)
        self._look()

    def _look(self) -> None:
        try:
            self._slots = max(1, sum(self._client.nthreads().values()))
        except Exception as exc:
            raise ClusterError(f"lost the Dask scheduler at {self.address}: {exc}") from exc

    @property
    def slots(self) -> int:
        self.connect()
        return self._slots

    @property
    def workers(self) -> dict[str, int]:
        """Each worker's address and thread count, as the scheduler knows them now."""
        self.connect()
        return dict(self._client.nthreads())

    def submit(self, chunk: Chunk) -> Future[Done]:
        self.connect()
        assert self._executor is not None
        self._sent += 1
        if self._sent % _REFRESH == 0:
            self._look()  # workers come and go: keep about two chunks per thread in flight
        return self._executor.submit(work_chunk, chunk)

    def lost(self, exc: BaseException, generation: int) -> bool:
        if self._client is None or self._client.status != "running":
            raise ClusterError(f"lost the Dask scheduler at {self.address}") from exc
        if isinstance(exc, ImportError):
            raise ClusterError(f"a worker cannot run lipsync ({exc}): install lipsync-ja on every "
                               "worker") from exc
        return self._killed is not None and isinstance(exc, self._killed)

    def close(self, *, cancel: bool = False) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=not cancel)
            self._executor = None
        if self._client is not None:
            self._client.close()
            self._client = None
