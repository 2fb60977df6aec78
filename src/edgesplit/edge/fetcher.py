"""ResumingFetcher: TUF's download interface over httpx, resuming cut target downloads with Range.

TUF's own fetcher starts every download from byte 0. On a flaky link a large model would never
arrive, so for *target* files (sha256-prefixed names, immutable on the server) this fetcher keeps
what it received in a partial file and asks for the rest with ``Range: bytes=N-``, both within
one download (``retries`` times) and across pulls. The Updater still checks the length and hash
of the whole stream, so a resumed file is verified exactly like a fresh one. Metadata is never
resumed: ``timestamp.json`` changes in place.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from tuf.api import exceptions
from tuf.ngclient.fetcher import FetcherInterface

from edgesplit.http.auth import bearer_headers

__all__ = ["FetchStats", "ResumingFetcher"]

_CHUNK_BYTES = 64 * 1024


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
    ) -> None:
        self.partial_dir = partial_dir
        self.retries = retries
        self.stats = FetchStats()
        self._client = httpx.Client(
            headers=bearer_headers(token), timeout=timeout_s, transport=transport, verify=verify
        )

    def close(self) -> None:
        self._client.close()

    def discard_partials(self) -> None:
        """Forget every partial download (after a hash mismatch: the bytes kept may be the bad ones)."""
        for path in self.partial_dir.glob("*.part"):
            path.unlink(missing_ok=True)

    def _fetch(self, url: str) -> Iterator[bytes]:
        if "/targets/" not in url:
            return self._chunks(self._open(url, 0), None)
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        partial = self.partial_dir / f"{hashlib.sha256(url.encode()).hexdigest()[:32]}.part"
        have = partial.stat().st_size if partial.exists() else 0
        response = self._open(url, have)
        if have and response.status_code != 206:  # the server sent the whole file: start over
            partial.unlink()
            have = 0
        return self._resumable(url, partial, have, response)

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

    def _chunks(self, response: httpx.Response, sink: Path | None) -> Iterator[bytes]:
        handle = open(sink, "ab") if sink is not None else None  # noqa: SIM115  (closed in finally)
        try:
            for chunk in response.iter_bytes(_CHUNK_BYTES):
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

    def _resumable(self, url: str, partial: Path, have: int, response: httpx.Response) -> Iterator[bytes]:
        if have:
            self.stats.reused_bytes += have
            with open(partial, "rb") as kept:  # in blocks: a partial model can be hundreds of MB
                while block := kept.read(1024 * 1024):
                    yield block
        attempts = 0
        while True:
            try:
                yield from self._chunks(response, partial)
                break
            except exceptions.DownloadError:
                attempts += 1
                if attempts > self.retries:
                    raise  # the partial file stays: the next pull resumes from it
                self.stats.resumes += 1
                response = self._open(url, partial.stat().st_size if partial.exists() else 0)
                if response.status_code != 206:
                    response.close()
                    raise
        partial.unlink(missing_ok=True)
