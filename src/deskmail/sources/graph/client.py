"""The transport to Microsoft Graph: bearer tokens, immutable ids, limits, retries.

Every request carries `Prefer: IdType="ImmutableId"`, so a message keeps its id
when it is moved; the bearer token comes from the job's BearerTokens (a 401
asks it for a new one, once); 429 and 503 wait for Retry-After (seconds or an
HTTP date) and try again; at most 4 requests are in flight per mailbox and the
pacer keeps the 10,000-per-10-minutes budget. Failures become SourceError
naming the step, or GraphError with Graph's own error code for the caller to
name.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

import httpx

from deskmail.config.models import JobConfig
from deskmail.sources.base import BearerTokens
from deskmail.sources.errors import SourceError, Step
from deskmail.sources.graph.throttle import MICROSOFT_BUDGET, Budget, limits_for, retry_after
from deskmail.sources.https import https_client
from deskmail.sources.tls import classify, explain

log = logging.getLogger("deskmail.sources.graph")

IMMUTABLE_IDS = 'IdType="ImmutableId"'
BATCH_LIMIT = 20  # requests in one JSON $batch, Graph's maximum
MAX_THROTTLED = 8  # 429/503 answers in a row before giving up on a request
# $value answers up to this size are read in memory; larger ones go to a temporary
# file and stay there until their turn (Body), so a 25 MB mail is held once (not as
# chunks and their join) and only one large mail at a time, however many are fetched ahead.
IN_MEMORY_BYTES = 1024 * 1024
_CHUNK = 256 * 1024


class GraphError(Exception):
    """Graph answered with an error other than throttling or an expired token."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        self.message = message
        super().__init__(f"{status} {code}: {message}" if code else f"{status}: {message}")


class Body:
    """A $value fetched ahead of its turn: its bytes, or the nameless file holding them."""

    def __init__(self, data: bytes = b"", spooled: IO[bytes] | None = None) -> None:
        self._data = data
        self._spooled = spooled

    @property
    def in_memory(self) -> bool:
        return self._spooled is None

    def take(self) -> bytes:
        """The mail, read now if it was spooled; the file is closed (and so gone)."""
        data, self._data = self._data, b""
        if self._spooled is not None:
            with self._spooled as spooled:
                spooled.seek(0)
                data = spooled.read()
            self._spooled = None
        return data

    def discard(self) -> None:
        """Let go of a body never taken (a fetch stopped early)."""
        self._data = b""
        if self._spooled is not None:
            self._spooled.close()
            self._spooled = None


@dataclass(frozen=True, slots=True)
class BatchRequest:
    method: str
    url: str  # relative to the version, e.g. "/users/a@b/messages/ID"
    body: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class BatchAnswer:
    status: int
    body: dict[str, Any] = field(default_factory=dict)
    retry_after: float = 0.0


@dataclass
class Counters:
    """What the client spent, for logs and the benchmark."""

    requests: int = 0  # as Graph counts them: each request of a $batch, and the $batch
    throttled: int = 0  # 429 answers (a whole request or one inside a $batch)
    unavailable: int = 0  # 503 answers


def base_url(job: JobConfig) -> str:
    port = job.effective_port
    host = job.effective_server if port == 443 else f"{job.effective_server}:{port}"
    return f"https://{host}/v1.0"


class GraphClient:
    """One mailbox's connection to Graph; thread-safe (the $value fetches share it)."""

    def __init__(self, job: JobConfig, tokens: BearerTokens, budget: Budget | None = None) -> None:
        """`budget`: Microsoft's limits unless given (tests, the benchmark)."""
        self.base = base_url(job)
        self.server = self.base.removeprefix("https://").removesuffix("/v1.0")
        budget = budget or MICROSOFT_BUDGET
        self._http = https_client(
            job.ca_file,
            job.reject_invalid_certificates,
            self.server,
            httpx.Timeout(job.timeouts.read, connect=job.timeouts.connect),
            base_url=self.base,
            limits=httpx.Limits(max_connections=budget.concurrent),
        )
        self._tokens = tokens
        limits = limits_for(self.server, job.user, budget)
        self._slots = limits.slots
        self.pacer = limits.pacer
        self.counters = Counters()
        self._count_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def same_server(self, url: str) -> bool:
        """A link Graph handed back (nextLink, deltaLink) points at this server: the token
        may be sent there."""
        return url.startswith(self.base + "/")

    # ---- requests ---------------------------------------------------------

    def get(self, url: str, *, prefer: Sequence[str] = ()) -> dict[str, Any]:
        with self._exchange("GET", url, prefer=prefer) as response:
            return _json(response)

    def post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._exchange("POST", url, body=body) as response:
            return _json(response)

    def get_or_gone(self, url: str, *, prefer: Sequence[str] = ()) -> httpx.Response:
        """The answer whatever its status (a delta round tells 410 and expired tokens
        apart itself); throttling and token renewal are handled as for any request."""
        with self._exchange("GET", url, prefer=prefer, check=False) as response:
            response.read()
            return response

    def content(self, url: str, spool_directory: str | None = None) -> Body | None:
        """A $value body, or None when the message is gone (404); a large one is left in
        a nameless file in `spool_directory` (gone when taken, or with the process)."""
        with self._exchange("GET", url, stream=True, missing_ok=True) as response:
            if response.status_code == 404:
                return None
            length = int(response.headers.get("content-length") or 0)
            if 0 < length <= IN_MEMORY_BYTES:
                return Body(response.read())
            with ExitStack() as unless_written:
                spool = unless_written.enter_context(
                    tempfile.TemporaryFile(prefix="graph-", dir=spool_directory)
                )
                for chunk in response.iter_bytes(_CHUNK):
                    spool.write(chunk)
                unless_written.pop_all()  # the Body owns the file now
            return Body(spooled=spool)

    def batch(self, requests: Sequence[BatchRequest]) -> list[BatchAnswer]:
        """One JSON $batch (at most BATCH_LIMIT requests); answers in the order asked."""
        if len(requests) > BATCH_LIMIT:
            raise ValueError(f"a $batch holds at most {BATCH_LIMIT} requests")
        body = {
            "requests": [
                {
                    "id": str(index),
                    "method": request.method,
                    "url": request.url,
                    "headers": {"Content-Type": "application/json", "Prefer": IMMUTABLE_IDS},
                    **({"body": request.body} if request.body is not None else {}),
                }
                for index, request in enumerate(requests)
            ]
        }
        with self._exchange("POST", "/$batch", body=body, count=len(requests) + 1) as response:
            answer = _json(response)
        by_id: dict[str, BatchAnswer] = {}
        for item in answer.get("responses", []):
            status = int(item.get("status", 0))
            if status == 429:
                self._count("throttled")
            headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
            wait = retry_after(headers.get("retry-after")) if status in (429, 503) else 0.0
            body_ = item.get("body")
            by_id[str(item.get("id"))] = BatchAnswer(
                status, body_ if isinstance(body_, dict) else {}, wait
            )
        missing = BatchAnswer(0, {"error": {"message": "no answer in the $batch"}})
        return [by_id.get(str(index), missing) for index in range(len(requests))]

    # ---- the exchange -----------------------------------------------------

    def _count(self, name: str, amount: int = 1) -> None:
        with self._count_lock:
            setattr(self.counters, name, getattr(self.counters, name) + amount)

    @contextmanager
    def _exchange(
        self,
        method: str,
        url: str,
        *,
        body: dict[str, Any] | None = None,
        prefer: Sequence[str] = (),
        stream: bool = False,
        check: bool = True,
        missing_ok: bool = False,
        count: int = 1,
    ) -> Iterator[httpx.Response]:
        """The answer to one request, sent again after throttling or a refused token;
        the concurrency slot is held until the caller has read the answer."""
        token = self._token()
        renewed = False
        throttled = 0
        while True:
            headers = {
                "Authorization": f"Bearer {token}",
                "Prefer": ", ".join((IMMUTABLE_IDS, *prefer)),
            }
            with self._slots:
                self.pacer.spend(count)
                self._count("requests", count)
                request = self._http.build_request(method, url, json=body, headers=headers)
                try:
                    response = self._http.send(request, stream=stream)
                except httpx.HTTPError as exc:
                    raise _network_error(exc, self.server) from exc
                try:
                    status = response.status_code
                    if status == 401 and not renewed:
                        renewed = True
                        response.read()
                        token = self._tokens.refused(token)
                        continue
                    if status in (429, 503):
                        throttled += 1
                        self._count("throttled" if status == 429 else "unavailable")
                        wait = retry_after(response.headers.get("retry-after"))
                    else:
                        if status == 401:
                            raise SourceError(
                                Step.AUTHENTICATION,
                                "Graph refused a newly issued token (401)",
                                server=self.server,
                            )
                        if check and status >= 400 and not (missing_ok and status == 404):
                            response.read()
                            raise _graph_error(response)
                        yield response
                        return
                finally:
                    response.close()
            if throttled > MAX_THROTTLED:
                raise SourceError(
                    Step.PROTOCOL,
                    f"Graph kept answering {status} (throttled) {throttled} times in a row",
                    server=self.server,
                )
            log.info("Graph answered %d: waiting %.1f s as Retry-After asks", status, wait)
            time.sleep(wait)  # outside the slot: other requests may go on meanwhile

    def _token(self) -> str:
        return self._tokens.token()


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError as exc:
        raise GraphError(response.status_code, "", "the answer is not JSON") from exc
    if not isinstance(data, dict):
        raise GraphError(response.status_code, "", "the answer is not a JSON object")
    return data


def _graph_error(response: httpx.Response) -> GraphError:
    code, message = "", response.reason_phrase
    try:
        error = response.json().get("error", {})
        code = str(error.get("code", ""))
        message = str(error.get("message", message))
    except (ValueError, AttributeError):
        pass
    return GraphError(response.status_code, code, message)


def _network_error(exc: httpx.HTTPError, server: str) -> SourceError:
    if isinstance(exc, httpx.TimeoutException):
        return SourceError(Step.TIMEOUT, "Graph did not answer in time", server=server)
    cause: BaseException = exc
    while cause.__context__ is not None and not isinstance(cause, OSError):
        cause = cause.__context__
    if isinstance(cause, OSError):
        return SourceError(classify(cause), explain(cause), server=server)
    return SourceError(Step.CONNECT, str(exc) or type(exc).__name__, server=server)
