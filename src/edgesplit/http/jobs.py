"""Deferred work over HTTP: 202 + job id on the edge, the jobs API, and idempotent execution on the cloud."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from edgesplit.background import run_in_background
from edgesplit.errors import InvalidRequest, NotFound
from edgesplit.generation import Prompt
from edgesplit.http.response_models import JobList, StoredResult
from edgesplit.schemas import ChatCompletionRequest, CompletionRequest, JobRecord

if TYPE_CHECKING:  # the stores live in the tiers; the HTTP layer only calls them
    from edgesplit.http.node import JobQueue
    from edgesplit.http.results import ResultStore

__all__ = ["accepted", "add_job_routes", "run_idempotent", "upstream_body"]

_JOB_ID = re.compile(r"^job_[0-9a-f]{32}$")
_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
_STATUSES = ("queued", "delivering", "done", "failed")


def upstream_body(req: ChatCompletionRequest | CompletionRequest, model: str, prompt: Prompt) -> dict[str, Any]:
    """The request as the upstream should receive it: ``prompt`` (the redacted one), its model name,
    not streamed, no edgesplit options."""
    body = req.model_dump(
        mode="json", exclude_none=True, exclude={"edgesplit", "stream", "stream_options", "messages", "prompt"}
    )
    body["model"] = model
    if prompt.is_chat:
        body["messages"] = prompt.as_openai_messages()
    else:
        body["prompt"] = prompt.text
    return body


def accepted(job: JobRecord) -> JSONResponse:
    """``202 Accepted`` with the job record and where to poll it."""
    return JSONResponse(job.model_dump(mode="json"), status_code=202, headers={"location": f"/v1/jobs/{job.id}"})


async def run_idempotent(
    store: ResultStore, key: str, raw_body: bytes, run: Callable[[], Awaitable[dict[str, Any]]]
) -> JSONResponse:
    """Run a non-streamed request at most once per ``Idempotency-Key``; a replay gets the stored answer."""
    if not _KEY.match(key):
        raise InvalidRequest("idempotency-key must be 1-200 characters of [A-Za-z0-9_.:-]", param="idempotency-key")
    claim = await run_in_background(store.claim, key, hashlib.sha256(raw_body).hexdigest())  # SQLite off the loop
    if claim.status == "done":
        assert claim.response is not None
        return JSONResponse(claim.response, headers={"x-edgesplit-replayed": "true"})
    try:
        payload = await run()
    except BaseException:
        await run_in_background(store.abandon, key)
        raise
    await run_in_background(store.complete, key, payload)
    return JSONResponse(payload, headers={"x-edgesplit-replayed": "false"})


def add_job_routes(
    app: FastAPI,
    outbox: JobQueue | None,
    results: ResultStore | None,
    restore: Callable[[JobRecord], JobRecord] = lambda job: job,
) -> None:
    """``/v1/jobs`` on a node with an outbox; ``/v1/results/{key}`` on a node with a result store."""
    if outbox is not None:

        @app.get("/v1/jobs", response_model=JobList)
        async def list_jobs(request: Request) -> dict[str, Any]:
            status = request.query_params.get("status")
            if status is not None and status not in _STATUSES:
                raise InvalidRequest(f"status must be one of {', '.join(_STATUSES)}", param="status")
            limit_text = request.query_params.get("limit", "100")
            if not limit_text.isdigit() or not 1 <= int(limit_text) <= 1000:
                raise InvalidRequest("limit must be an integer from 1 to 1000", param="limit")

            def read() -> dict[str, Any]:
                jobs = [restore(job) for job in outbox.jobs(status, int(limit_text))]
                return {"object": "list", "data": [j.model_dump(mode="json") for j in jobs], "counts": outbox.counts()}

            return await run_in_background(read)

        @app.get("/v1/jobs/{job_id}", response_model=JobRecord)
        async def get_job(job_id: str) -> dict[str, Any]:
            if not _JOB_ID.match(job_id):
                raise InvalidRequest(f"malformed job id {job_id!r}", param="job_id", code="invalid_job_id")
            job = await run_in_background(outbox.get, job_id)
            if job is None:
                raise NotFound(f"no job {job_id!r}", param="job_id", code="job_not_found")
            return (await run_in_background(restore, job)).model_dump(mode="json")

    if results is not None:
        # documented, not filtered: a stored answer goes back with every field the node first gave it
        @app.get("/v1/results/{key}", response_model=None, responses={200: {"model": StoredResult}})
        async def get_result(key: str) -> dict[str, Any]:
            if not _KEY.match(key):
                raise InvalidRequest("malformed idempotency key", param="key")
            stored = await run_in_background(results.get, key)
            if stored is None:
                raise NotFound(f"no finished result for key {key!r}", param="key", code="result_not_found")
            return stored
