"""ResumingFetcher: TUF's download interface over httpx, resuming cut target downloads with Range.

TUF's own fetcher starts every download from byte 0. On a flaky link a large model would never
arrive, so for *target* files (sha256-prefixed names, immutable on the server) this fetcher keeps
what it received in a partial file and asks for the rest with ``Range: bytes=N-``, both within
one download (``retries`` times) and across pulls. The Updater still checks the length and hash
of the whole stream, so a resumed file is verified exactly like a fresh one. Metadata is never
resumed: ``timestamp.json`` changes in place.

Every download has a whole-file deadline, not only a per-read timeout, so a trickle cannot hold
the sync lock for hours: ``timeout_s + length / min_rate_bps`` for a target (set around each one
with :meth:`deadline_for`), ``2 * timeout_s`` for a metadata file. A cut or failed reconnect is
retried up to ``retries`` times with jittered exponential backoff, within that deadline.
"""

from __future__ import annotations

import hashlib
import random
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from tuf.api import exceptions
from tuf.ngclient.fetcher import FetcherInterface

from edgesplit.transport.upstream import bearer_headers

__all__ = ["DeadlinePassed", "FetchStats", "ResumingFetcher"]

_BACKOFF_CAP_S = 30.0


class DeadlinePassed(exceptions.SlowRetrievalError):
    """The whole download took longer than its deadline (not retried: the deadline is the budget)."""


@dataclass
class FetchStats:
    wire_bytes: int = 0  # bytes received over the link
    reused_bytes: int = 0  # bytes of a target read back from a partial file instead of re-sent
    resumes: int = 0  # Range requests after a cut


class ResumingFetcher(FetcherInterface):
    def __init__(
        self,
        token: str | None,
        partial_dir: Path,
        timeout_s: float = 30.0,
        retries: int = 3,
        transport: httpx.BaseTransport | None = None,
        verify: ssl.SSLContext | bool = True,
        min_rate_bps: float = 20_000.0,
        backoff_s: float = 0.5,
    ) -> None:
        self.partial_dir = partial_dir
        self.retries = retries
        self.timeout_s = timeout_s
        self.min_rate_bps = min_rate_bps
        self.backoff_s = backoff_s
        self.stats = FetchStats()
        self._target_deadline: float | None = None  # monotonic time the current target must be done by
        self._client = httpx.Client(
            headers=bearer_headers(token), timeout=timeout_s, transport=transport, verify=verify
        )

    def close(self) -> None:
        self._client.close()

    def discard_partials(self) -> None:
        """Forget every partial download (after a hash mismatch: the bytes kept may be the bad ones)."""
        for path in self.partial_dir.glob("*.part"):
            path.unlink(missing_ok=True)

    @contextmanager
    def deadline_for(self, length: int) -> Iterator[None]:
        """Downloads inside must finish within ``timeout_s + length / min_rate_bps`` seconds."""
        self._target_deadline = time.monotonic() + self.timeout_s + length / self.min_rate_bps
        try:
            yield
        finally:
            self._target_deadline = None

    def _fetch(self, url: str) -> Iterator[bytes]:
        if "/targets/" not in url:
            deadline = time.monotonic() + 2 * self.timeout_s
            return self._chunks(self._open(url, 0), None, deadline)
        deadline = self._target_deadline or time.monotonic() + 2 * self.timeout_s
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        partial = self.partial_dir / f"{hashlib.sha256(url.encode()).hexdigest()[:32]}.part"
        have = partial.stat().st_size if partial.exists() else 0
        response = self._open(url, have)
        if have and response.status_code != 206:  # the server sent the whole file: start over
            partial.unlink()
            have = 0
        return self._resumable(url, partial, have, response, deadline)

    def _open(self, url: str, start: int) -> httpx.Response:
        headers = {"range": f"bytes={start}-"} if start else {}
        request = self._client.build_request("GET", url, headers=headers)
        try:
            response = self._client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise exceptions.SlowRetrievalError(f"no answer from {url}") from exc
        except httpx.HTTPError as exc:
            raise exceptions.DownloadError(f"cannot reach {url}: {type(exc).__name__}") from exc
        if response.status_code == 416 and start:  # the partial file is longer than the target
            response.close()
            raise exceptions.DownloadError(f"range not satisfiable for {url}")
        if response.status_code >= 400:
            response.close()
            raise exceptions.DownloadHTTPError(f"HTTP {response.status_code} for {url}", response.status_code)
        return response

    def _chunks(self, response: httpx.Response, sink: Path | None, deadline: float) -> Iterator[bytes]:
        handle = open(sink, "ab") if sink is not None else None  # noqa: SIM115  (closed in finally)
        try:
            for chunk in response.iter_bytes():  # as it arrives: a chunk size would buffer a trickle
                if time.monotonic() > deadline:
                    raise DeadlinePassed(f"download from {response.url} is under the minimum rate; gave up")
                self.stats.wire_bytes += len(chunk)
                if handle is not None:
                    handle.write(chunk)
                    handle.flush()  # what is on disk is what a resume starts from
                yield chunk
        except httpx.TimeoutException as exc:
            raise exceptions.SlowRetrievalError(f"download from {response.url} stalled") from exc
        except httpx.HTTPError as exc:
            raise exceptions.DownloadError(f"download from {response.url} broke: {type(exc).__name__}") from exc
        finally:
            response.close()
            if handle is not None:
                handle.close()

    def _resumable(
        self, url: str, partial: Path, have: int, response: httpx.Response | None, deadline: float
    ) -> Iterator[bytes]:
        if have:
            self.stats.reused_bytes += have
            with open(partial, "rb") as kept:  # in blocks: a partial model can be hundreds of MB
                while block := kept.read(1024 * 1024):
                    yield block
        attempts = 0
        while True:
            try:
                if response is None:
                    response = self._reopen(url, partial)
                yield from self._chunks(response, partial, deadline)
                break
            except DeadlinePassed:
                raise  # the partial file stays: the next pull resumes from it
            except exceptions.DownloadError:
                response = None
                attempts += 1
                if attempts > self.retries:
                    raise
                self._backoff(attempts, deadline)
        partial.unlink(missing_ok=True)

    def _reopen(self, url: str, partial: Path) -> httpx.Response:
        response = self._open(url, partial.stat().st_size if partial.exists() else 0)
        if response.status_code != 206:
            response.close()
            raise exceptions.DownloadError(f"{url}: the server did not resume with Range")
        self.stats.resumes += 1
        return response

    def _backoff(self, attempt: int, deadline: float) -> None:
        """Sleep ``backoff_s * 2^(attempt-1)``, jittered to 50-100 %, capped, and never past the deadline."""
        wait_s = min(_BACKOFF_CAP_S, self.backoff_s * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
        left_s = deadline - time.monotonic()
        if left_s <= 0:
            raise DeadlinePassed("download deadline passed while retrying")
        time.sleep(min(wait_s, left_s))
