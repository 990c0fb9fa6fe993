"""A mailbox folder read through Microsoft Graph, by delta rounds.

- A key names (tenant, mailbox, immutable message id): the id survives moves
  between folders because every request asks for immutable ids.
- list_keys reads the changes since the deltaLink saved at the last
  checkpoint; checkpoint saves the new one, after the pass is committed.
- fetch reads `$value` (the MIME) without changing anything, up to
  FETCH_THREADS at a time, in the order asked.
- acknowledge marks read, moves to move_to, or moves to Deleted Items (never a
  hard delete), 20 messages to a $batch.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice

from deskmail.config.models import AfterProcessing, JobConfig
from deskmail.sources.base import (
    BearerTokens,
    ClosingSource,
    FetchedMessage,
    MailboxInfo,
    SyncState,
)
from deskmail.sources.errors import SourceError, Step
from deskmail.sources.graph.client import (
    BATCH_LIMIT,
    MAX_THROTTLED,
    BatchRequest,
    Body,
    GraphClient,
    GraphError,
)
from deskmail.sources.graph.delta import read_changes
from deskmail.sources.graph.folders import Folder, mailbox_path, resolve_folder
from deskmail.sources.graph.permissions import missing_permission
from deskmail.sources.graph.throttle import Budget

log = logging.getLogger("deskmail.sources.graph")

# $value requests in flight at once, within the mailbox's limit of 4 (throttle.py).
FETCH_THREADS = 4
# Graph's codes for a mailbox that does not exist or cannot be read through Graph.
_NO_MAILBOX = frozenset({"errorinvaliduser", "mailboxnotenabledforrestapi", "resourcenotfound"})


@dataclass(frozen=True, slots=True)
class GraphKey:
    tenant: str
    mailbox: str
    id: str  # immutable id, case-sensitive

    def __str__(self) -> str:
        return f"graph:{self.tenant}:{self.mailbox}:{self.id}"


class GraphSource(ClosingSource):
    """One folder of one mailbox; resolves the folder (and move_to) on creation."""

    def __init__(
        self,
        job: JobConfig,
        tokens: BearerTokens | None,
        state: SyncState | None = None,
        budget: Budget | None = None,
        *,
        spool_directory: str | None = None,
    ) -> None:
        """`spool_directory`: where a large $value goes before it is read (the blob
        store's temporary directory, as large attachments); the system's by default."""
        if tokens is None or job.oauth2 is None:
            raise SourceError(
                Step.AUTHENTICATION, "a Graph job signs in with OAuth2: add [jobs.oauth2]"
            )
        self._job = job
        self._tokens = tokens
        self._state = state
        self._tenant = job.oauth2.tenant.casefold()
        self._user = job.user.casefold()
        self._mailbox = mailbox_path(job.user)
        self._client = GraphClient(job, tokens, budget)
        self._next_link: str | None = None
        self._spool_directory = spool_directory
        try:
            with self._translating(Step.FOLDER):
                self.folder = resolve_folder(self._client, self._mailbox, job.folder)
                self._destination = self._resolve_destination()
        except BaseException:
            self.close()
            raise

    @property
    def client(self) -> GraphClient:
        return self._client

    # ---- Source protocol --------------------------------------------------

    def info(self) -> MailboxInfo:
        """What a check reports; also refuses a token that lacks the permission the
        after-processing action needs (read from its claims: nothing is changed)."""
        after = self._job.effective_after_processing
        lacking = missing_permission(self._tokens.token(), after)
        if lacking is not None:
            raise SourceError(Step.CONSENT, lacking, server=self._client.server)
        with self._translating(Step.FOLDER):
            round_ = read_changes(self._client, self._mailbox, self.folder.id, None)
        return MailboxInfo(
            protocol="graph",
            server=self._client.server,
            folder=self.folder.path,
            keys=tuple(str(self._key(i)) for i in round_.ids),
            tls="HTTPS",
            identity=self._job.user,
        )

    def list_keys(self) -> list[str]:
        saved = self._state.load(self._scope) if self._state is not None else None
        with self._translating(Step.FOLDER):
            round_ = read_changes(self._client, self._mailbox, self.folder.id, saved)
        self._next_link = round_.delta_link
        return [str(self._key(message_id)) for message_id in round_.ids]

    def checkpoint(self) -> None:
        if self._state is not None and self._next_link is not None:
            self._state.save(self._scope, self._next_link)
            self._next_link = None

    def fetch(self, keys: Iterable[str]) -> Iterator[FetchedMessage]:
        wanted = [(key, message_id) for key in keys if (message_id := self._id(key))]
        with ThreadPoolExecutor(FETCH_THREADS, thread_name_prefix="graph-fetch") as pool:
            queued = iter(wanted)
            running: deque[tuple[str, Future[Body | None]]] = deque(
                (key, pool.submit(self._content, message_id))
                for key, message_id in islice(queued, FETCH_THREADS)
            )
            try:
                while running:
                    key, future = running.popleft()
                    body = future.result()
                    following = next(queued, None)
                    if following is not None:
                        running.append((following[0], pool.submit(self._content, following[1])))
                    if body is None:
                        log.info("%s is gone from the mailbox; skipped", key)
                        continue
                    raw = body.take()  # a spooled one is read only now, at its turn
                    yield FetchedMessage(key, raw)
                    del raw
            finally:  # stopped early: the bodies fetched ahead are let go, their files closed
                for _, future in running:
                    future.cancel()
                    if not future.cancelled() and future.exception() is None:
                        ahead = future.result()
                        if ahead is not None:
                            ahead.discard()

    def acknowledge(self, keys: Iterable[str]) -> None:
        action = self._job.effective_after_processing
        if action is AfterProcessing.KEEP:
            return
        requests = [self._action(message_id) for key in keys if (message_id := self._id(key))]
        for start in range(0, len(requests), BATCH_LIMIT):
            self._send_batch(requests[start : start + BATCH_LIMIT])

    def close(self) -> None:
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()

    # ---- helpers ----------------------------------------------------------

    @property
    def _scope(self) -> str:
        return f"graph:{self.folder.id}"

    def _key(self, message_id: str) -> GraphKey:
        return GraphKey(self._tenant, self._user, message_id)

    def _id(self, key: str) -> str | None:
        prefix = f"graph:{self._tenant}:{self._user}:"
        if not key.startswith(prefix):
            log.warning("%s does not belong to this mailbox; skipped", key)
            return None
        return key[len(prefix) :]

    def _content(self, message_id: str) -> Body | None:
        with self._translating(Step.PROTOCOL):
            url = f"{self._mailbox}/messages/{message_id}/$value"
            return self._client.content(url, self._spool_directory)

    def _resolve_destination(self) -> str | None:
        action = self._job.effective_after_processing
        if action is AfterProcessing.DELETE:
            return "deleteditems"  # a move to Deleted Items; never DELETE or permanentDelete
        if action is AfterProcessing.MOVE and self._job.move_to:
            folder: Folder = resolve_folder(self._client, self._mailbox, self._job.move_to)
            return folder.id
        return None

    def _action(self, message_id: str) -> BatchRequest:
        url = f"{self._mailbox}/messages/{message_id}"
        if self._destination is not None:
            return BatchRequest("POST", f"{url}/move", {"destinationId": self._destination})
        return BatchRequest("PATCH", url, {"isRead": True})

    def _send_batch(self, requests: list[BatchRequest]) -> None:
        """Sends the requests again that Graph throttled inside the $batch."""
        for _ in range(MAX_THROTTLED + 1):
            with self._translating(Step.PROTOCOL):
                answers = self._client.batch(requests)
            again = []
            for request, answer in zip(requests, answers, strict=True):
                if answer.status in (429, 503):
                    again.append((request, answer.retry_after))
                elif answer.status >= 400 and answer.status != 404:  # 404: already gone
                    error = answer.body.get("error", {})
                    raise self._failure(
                        GraphError(
                            answer.status, str(error.get("code", "")), str(error.get("message", ""))
                        ),
                        Step.PROTOCOL,
                    )
            if not again:
                return
            time.sleep(max(wait for _, wait in again))
            requests = [request for request, _ in again]
        raise SourceError(
            Step.PROTOCOL,
            "Graph kept throttling the after-processing requests",
            server=self._server,
        )

    @property
    def _server(self) -> str:
        return self._client.server

    @contextmanager
    def _translating(self, step: Step) -> Iterator[None]:
        try:
            yield
        except GraphError as exc:
            raise self._failure(exc, step) from exc

    def _failure(self, exc: GraphError, step: Step) -> SourceError:
        """Graph's error as the step a person can act on."""
        code = exc.code.casefold()
        if exc.status == 403 or code == "erroraccessdenied":
            if step is Step.FOLDER:
                detail = f"the app may not open mailbox {self._job.user} ({exc.code or 403})"
                return SourceError(Step.MAILBOX, detail, server=self._server)
            detail = f"Graph refused the request ({exc.code or 403}): {exc.message}"
            return SourceError(Step.CONSENT, detail, server=self._server)
        if exc.status == 404 and code in _NO_MAILBOX:
            detail = f"mailbox {self._job.user} not found ({exc.code})"
            return SourceError(Step.MAILBOX, detail, server=self._server)
        if exc.status == 404 and step is Step.FOLDER:
            detail = f"folder {self._job.folder!r} not found ({exc.code or 404})"
            return SourceError(Step.FOLDER, detail, server=self._server)
        return SourceError(step, f"Graph answered {exc}", server=self._server)
