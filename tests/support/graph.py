"""A Microsoft Graph fake for the mail API, on tests/support/https.py.

Modelled on Thunderbird's fakeserver (a change journal; delta tokens are
offsets into it; a cap on items per page forces paging). It speaks the wire
format the Graph source uses and checks what Microsoft checks:

- the bearer token: an HS256 JWT for https://graph.microsoft.com signed by the
  identity-platform fake (tests/support/identity.py), or one the fake issued
  itself (FakeTokens, with the `roles` a test chooses); expired or unknown
  tokens get 401;
- `Prefer: IdType="ImmutableId"`: without it, ids are the regular ones, which
  change when a message is moved;
- `Prefer: odata.maxpagesize=N` for delta pages (default 10), folders 10 to a page;
- at most 4 requests in flight (a fifth gets 429 "MailboxConcurrency"), and a
  budget of requests per window (each request of a $batch counted on its own);
- switches for the hazards the documentation lists: `@removed`, replayed
  changes and duplicates within a round, 410 Gone with Location,
  syncStateNotFound, 429 with Retry-After in seconds or as an HTTP date, 401 on
  an expired token; and a delay per request for the benchmark.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest

from tests.support.https import HttpsServer
from tests.support.identity import TENANT, IdentityPlatform, identity_platform

CLIENT_ID = "11111111-2222-3333-4444-555555555555"  # the app of FakeTokens' tokens
CLIENT_SECRET = "graph-test-client-secret"  # the identity fake's app's; not a real secret
CLIENT_SECRET_ENV = "DESKMAIL_TEST_CLIENT_SECRET"
SIGNING_KEY = b"graph-fake-signing-key"
GRAPH_AUDIENCE = "https://graph.microsoft.com"
WELL_KNOWN = ("inbox", "deleteditems", "archive", "drafts", "sentitems", "junkemail", "outbox")


def _new_id(prefix: str = "AAMk") -> str:
    # Graph ids are URL-safe base64 and case-sensitive; mixed case on purpose.
    return prefix + base64.urlsafe_b64encode(secrets.token_bytes(24)).decode().rstrip("=")


@dataclass
class FakeFolder:
    id: str
    name: str
    parent: str | None
    well_known: str | None = None


@dataclass
class FakeMessage:
    immutable_id: str
    regular_id: str
    folder: str
    raw: bytes
    received: str
    is_read: bool = False


@dataclass
class Change:
    seq: int
    folder: str
    immutable_id: str
    regular_id: str
    removed: bool


@dataclass
class Mailbox:
    address: str
    folders: dict[str, FakeFolder] = field(default_factory=dict)
    messages: dict[str, FakeMessage] = field(default_factory=dict)  # by immutable id
    journal: list[Change] = field(default_factory=list)


@dataclass
class Round:
    """The items of one delta round, computed at its first page; pages slice it."""

    mailbox: str
    folder: str
    items: list[dict[str, Any]]
    end_seq: int


@dataclass
class Switches:
    """What the next requests meet; each counter is used up one request at a time."""

    duplicates: bool = False  # a message changed twice in a round is listed twice
    replay: int = 0  # the next N rounds from a delta token also replay the previous round
    gone: int = 0  # the next N delta-token requests answer 410 Gone with Location
    sync_state_not_found: int = 0  # ... answer 400 syncStateNotFound
    throttle: list[str] = field(default_factory=list)  # Retry-After values for the next 429s
    throttle_in_batch: list[str] = field(default_factory=list)  # ... for requests in a $batch
    expire_tokens: int = 0  # the next N requests find their token expired (401)
    fail_value: dict[str, int] = field(default_factory=dict)  # immutable id -> status for $value


@dataclass
class Counters:
    requests: int = 0  # each request of a $batch counted, and the $batch
    by_kind: dict[str, int] = field(default_factory=dict)
    throttled: int = 0  # 429 answers sent (whole requests and inside $batch)
    max_in_flight: int = 0
    tokens_issued: int = 0
    without_immutable_ids: int = 0


class GraphState:
    def __init__(self, base_url: str = "") -> None:
        self.base_url = base_url
        self.lock = threading.RLock()
        self.mailboxes: dict[str, Mailbox] = {}
        self.forbidden: set[str] = set()  # addresses the app may not open (403)
        self.roles: list[str] = ["Mail.ReadWrite"]
        self.tokens: dict[str, float] = {}  # token -> expiry (time.time())
        self.trusted_key: bytes | None = None  # the identity platform's signing key
        self.switches = Switches()
        self.counters = Counters()
        self.rounds: dict[str, Round] = {}
        self.delta_queries: list[dict[str, str]] = []  # the query of each delta request
        self.seq = 0
        self.delay = 0.0  # seconds before each answer (the benchmark's latency)
        self.concurrency = 4
        self.budget: tuple[int, float] | None = None  # (requests, seconds)
        self._received: deque[float] = deque()
        self._in_flight = 0

    # ---- set-up -----------------------------------------------------------

    def add_mailbox(self, address: str) -> Mailbox:
        with self.lock:
            box = Mailbox(address.casefold())
            root = FakeFolder(_new_id("AQMkRoot"), "Top of Information Store", None)
            box.folders[root.id] = root
            names = {
                "inbox": "Inbox",
                "deleteditems": "Deleted Items",
                "archive": "Archive",
                "drafts": "Drafts",
                "sentitems": "Sent Items",
                "junkemail": "Junk Email",
                "outbox": "Outbox",
            }
            for well_known in WELL_KNOWN:
                folder = FakeFolder(_new_id("AQMk"), names[well_known], root.id, well_known)
                box.folders[folder.id] = folder
            self.mailboxes[box.address] = box
            return box

    def add_folder(self, address: str, path: str) -> str:
        """Creates every missing folder of `path` ("Inbox/Support"); the last one's id."""
        with self.lock:
            box = self.mailboxes[address.casefold()]
            parts = path.split("/")
            current = self.folder_id(address, parts[0])
            for name in parts[1:]:
                child = next(
                    (
                        f
                        for f in box.folders.values()
                        if f.parent == current and f.name.casefold() == name.casefold()
                    ),
                    None,
                )
                if child is None:
                    child = FakeFolder(_new_id("AQMk"), name, current)
                    box.folders[child.id] = child
                current = child.id
            return current

    def folder_id(self, address: str, path: str) -> str:
        box = self.mailboxes[address.casefold()]
        parts = path.split("/")
        current = next(
            f.id
            for f in box.folders.values()
            if f.well_known == parts[0].casefold().replace(" ", "")
        )
        for name in parts[1:]:
            current = next(
                f.id for f in box.folders.values() if f.parent == current and f.name == name
            )
        return current

    def deliver(self, address: str, path: str, raw: bytes, received: str | None = None) -> str:
        """A new message in the folder; its immutable id."""
        with self.lock:
            box = self.mailboxes[address.casefold()]
            folder = self.folder_id(address, path)
            self.seq += 1
            when = received or time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + (
                f".{self.seq:07d}Z"
            )
            message = FakeMessage(_new_id(), _new_id(), folder, raw, when)
            box.messages[message.immutable_id] = message
            self._journal(box, message, removed=False)
            return message.immutable_id

    def in_folder(self, address: str, path: str) -> list[FakeMessage]:
        with self.lock:
            box = self.mailboxes[address.casefold()]
            folder = self.folder_id(address, path)
            return [m for m in box.messages.values() if m.folder == folder]

    def issue_token(self, lifetime: float = 3600.0, roles: list[str] | None = None) -> str:
        """A JWT (HS256) with `roles`, valid for `lifetime` seconds."""
        with self.lock:
            now = time.time()
            claims = {
                "aud": GRAPH_AUDIENCE,
                "tid": TENANT,
                "appid": CLIENT_ID,
                "roles": self.roles if roles is None else roles,
                "iat": int(now),
                "exp": int(now + lifetime),
                "jti": secrets.token_hex(8),
            }
            token = _jwt(claims)
            self.tokens[token] = now + lifetime
            self.counters.tokens_issued += 1
            return token

    # ---- the journal ------------------------------------------------------

    def _journal(self, box: Mailbox, message: FakeMessage, *, removed: bool) -> None:
        self.seq += 1
        box.journal.append(
            Change(self.seq, message.folder, message.immutable_id, message.regular_id, removed)
        )

    def find(self, box: Mailbox, message_id: str) -> FakeMessage | None:
        message = box.messages.get(message_id)
        if message is not None:
            return message
        return next((m for m in box.messages.values() if m.regular_id == message_id), None)

    def move(self, box: Mailbox, message: FakeMessage, destination: str) -> None:
        self._journal(box, message, removed=True)  # gone from the old folder
        message.folder = destination
        message.regular_id = _new_id()  # only the immutable id survives a move
        self._journal(box, message, removed=False)

    def mark_read(self, box: Mailbox, message: FakeMessage) -> None:
        message.is_read = True
        self._journal(box, message, removed=False)

    # ---- limits -----------------------------------------------------------

    def enter(self, cost: int) -> str | None:
        """Admits a request costing `cost`; the Retry-After of a 429 when it may not run."""
        with self.lock:
            if self.switches.throttle:
                self.counters.throttled += 1
                return self.switches.throttle.pop(0)
            if self._in_flight >= self.concurrency:
                self.counters.throttled += 1
                return "1"
            if self.budget is not None:
                limit, seconds = self.budget
                now = time.monotonic()
                while self._received and self._received[0] <= now - seconds:
                    self._received.popleft()
                if len(self._received) + cost > limit:
                    self.counters.throttled += 1
                    wait = self._received[0] + seconds - now
                    return str(max(1, int(wait + 0.999)))
                self._received.extend([now] * cost)
            self._in_flight += 1
            self.counters.max_in_flight = max(self.counters.max_in_flight, self._in_flight)
            self.counters.requests += cost
            return None

    def leave(self) -> None:
        with self.lock:
            self._in_flight -= 1


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _jwt(claims: dict[str, Any]) -> str:
    header = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
    payload = _b64(json.dumps(claims).encode())
    signature = hmac.new(SIGNING_KEY, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def _signed_expiry(token: str, key: bytes | None) -> float | None:
    """The expiry of a JWT for Graph signed with `key`; None for any other token."""
    parts = token.split(".")
    if key is None or len(parts) != 3:
        return None
    expected = hmac.new(key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(_b64(expected), parts[2]):
        return None
    claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    if claims.get("aud") != GRAPH_AUDIENCE:
        return None
    return float(claims["exp"])


@dataclass
class Answer:
    status: int
    body: dict[str, Any] | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _error(status: int, code: str, message: str, **headers: str) -> Answer:
    return Answer(status, {"error": {"code": code, "message": message}}, headers)


class GraphHandler(BaseHTTPRequestHandler):
    state: GraphState
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        state = self.state
        batch = json.loads(body).get("requests", []) if path == "/v1.0/$batch" else []
        retry = state.enter(len(batch) + 1)
        if retry is not None:
            self._send(
                _error(
                    429,
                    "ApplicationThrottled",
                    "MailboxConcurrency limit",
                    **{"Retry-After": retry},
                )
            )
            return
        try:
            answer = self._authorized()
            if answer is None:
                delay = state.delay * (1 + (len(batch) + 3) // 4 if batch else 1)
                if delay:
                    time.sleep(delay)
                prefer = self.headers.get("Prefer", "")
                if path == "/v1.0/$batch":
                    answer = self._batch(batch)
                else:
                    answer = self._route(method, self.path, body, prefer)
        finally:
            state.leave()  # before the answer is written: the client may send the next one
        self._send(answer)

    def _authorized(self) -> Answer | None:
        state = self.state
        header = self.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ")
        with state.lock:
            expiry = state.tokens.get(token)
            if expiry is None:
                expiry = _signed_expiry(token, state.trusted_key)
                if expiry is not None:
                    state.tokens[token] = expiry
            if expiry is not None and state.switches.expire_tokens > 0:
                state.switches.expire_tokens -= 1
                state.tokens[token] = expiry = 0.0
        if not header.startswith("Bearer ") or expiry is None:
            return _error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
        if expiry < time.time():
            return _error(401, "InvalidAuthenticationToken", "Lifetime validation failed.")
        return None

    def _batch(self, requests: list[dict[str, Any]]) -> Answer:
        if len(requests) > 20:
            return _error(400, "BadRequest", "a $batch holds at most 20 requests")
        responses = []
        for request in requests:
            headers = request.get("headers") or {}
            if self.state.switches.throttle_in_batch:
                with self.state.lock:
                    retry = self.state.switches.throttle_in_batch.pop(0)
                    self.state.counters.throttled += 1
                sub = _error(429, "ApplicationThrottled", "throttled", **{"Retry-After": retry})
            else:
                payload = json.dumps(request.get("body")).encode() if "body" in request else b""
                sub = self._route(
                    request["method"], "/v1.0" + request["url"], payload, headers.get("Prefer", "")
                )
            responses.append(
                {
                    "id": request["id"],
                    "status": sub.status,
                    "headers": sub.headers,
                    "body": sub.body if isinstance(sub.body, dict) else {},
                }
            )
        return Answer(200, {"responses": responses})

    # ---- the mail API -----------------------------------------------------

    def _route(self, method: str, target: str, body: bytes, prefer: str) -> Answer:
        state = self.state
        split = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        parts = [unquote(p) for p in split.path.split("/")[2:]]  # after /v1.0
        if len(parts) < 2 or parts[0] != "users":
            return _error(400, "BadRequest", f"unsupported path {split.path}")
        immutable = 'IdType="ImmutableId"' in prefer
        kind = "/".join(p if i % 2 == 0 or i == 0 else "{}" for i, p in enumerate(parts[2:]))
        with state.lock:
            state.counters.by_kind[f"{method} {kind}"] = (
                state.counters.by_kind.get(f"{method} {kind}", 0) + 1
            )
            if not immutable:
                state.counters.without_immutable_ids += 1
            address = parts[1].casefold()
            if address in state.forbidden:
                return _error(403, "ErrorAccessDenied", "Access is denied.")
            box = state.mailboxes.get(address)
            if box is None:
                return _error(
                    404, "ErrorInvalidUser", f"The requested user '{parts[1]}' is invalid."
                )
            rest = parts[2:]
            if rest[:1] == ["mailFolders"] and len(rest) >= 2:
                folder = self._folder(box, rest[1])
                if folder is None:
                    return _error(404, "ErrorItemNotFound", "The specified object was not found.")
                if len(rest) == 2 and method == "GET":
                    return Answer(200, self._folder_json(folder))
                if rest[2:] == ["childFolders"] and method == "GET":
                    return self._children(box, folder, query, split.path)
                if rest[2:] == ["messages", "delta"] and method == "GET":
                    return self._delta(box, folder, query, prefer, immutable, split.path)
            if rest[:1] == ["messages"] and len(rest) >= 2:
                message = state.find(box, rest[1])
                if message is None:
                    return _error(404, "ErrorItemNotFound", "The specified object was not found.")
                if rest[2:] == ["$value"] and method == "GET":
                    status = state.switches.fail_value.get(message.immutable_id)
                    if status is not None:
                        return _error(status, "ErrorInternalServerError", "failed")
                    return Answer(200, message.raw, {"Content-Type": "text/plain"})
                if len(rest) == 2 and method == "PATCH":
                    if json.loads(body or b"{}").get("isRead") is True:
                        state.mark_read(box, message)
                    return Answer(200, self._message_json(message, immutable))
                if rest[2:] == ["move"] and method == "POST":
                    destination = self._folder(box, json.loads(body).get("destinationId", ""))
                    if destination is None:
                        return _error(400, "ErrorInvalidIdMalformed", "bad destinationId")
                    state.move(box, message, destination.id)
                    return Answer(201, self._message_json(message, immutable))
                if len(rest) == 2 and method == "DELETE":
                    deleted = self._folder(box, "deleteditems")
                    assert deleted is not None
                    state.move(box, message, deleted.id)
                    return Answer(204)
        return _error(400, "BadRequest", f"unsupported {method} {split.path}")

    def _folder(self, box: Mailbox, name: str) -> FakeFolder | None:
        if name == "msgfolderroot":
            return next(f for f in box.folders.values() if f.parent is None)
        for folder in box.folders.values():
            if folder.id == name or folder.well_known == name.casefold():
                return folder
        return None

    def _folder_json(self, folder: FakeFolder) -> dict[str, Any]:
        return {"id": folder.id, "displayName": folder.name, "parentFolderId": folder.parent}

    def _message_json(self, message: FakeMessage, immutable: bool) -> dict[str, Any]:
        return {
            "id": message.immutable_id if immutable else message.regular_id,
            "receivedDateTime": message.received,
            "isRead": message.is_read,
        }

    def _children(
        self, box: Mailbox, folder: FakeFolder, query: dict[str, str], path: str
    ) -> Answer:
        children = [f for f in box.folders.values() if f.parent == folder.id]
        wanted = query.get("$filter", "")
        if wanted.startswith("displayName eq '") and wanted.endswith("'"):
            name = wanted[len("displayName eq '") : -1].replace("''", "'")
            children = [f for f in children if f.name.casefold() == name.casefold()]
        skip = int(query.get("$skip", "0"))
        page = children[skip : skip + 10]
        answer: dict[str, Any] = {"value": [self._folder_json(f) for f in page]}
        if skip + 10 < len(children):
            rest = "&".join(
                f"{quote(k, safe='$')}={quote(v)}" for k, v in query.items() if k != "$skip"
            )
            answer["@odata.nextLink"] = f"{self.state.base_url}{path}?{rest}&$skip={skip + 10}"
        return Answer(200, answer)

    def _delta(
        self,
        box: Mailbox,
        folder: FakeFolder,
        query: dict[str, str],
        prefer: str,
        immutable: bool,
        path: str,
    ) -> Answer:
        state = self.state
        state.delta_queries.append(dict(query))
        size = 10
        for part in prefer.split(","):
            name, _, value = part.strip().partition("=")
            if name == "odata.maxpagesize":
                size = int(value)
        link = f"{state.base_url}{path}"
        if "$skiptoken" in query:
            round_id, _, offset = query["$skiptoken"].partition(".")
            round_ = state.rounds.get(round_id)
            if round_ is None:
                return _error(400, "syncStateNotFound", "The sync state was not found.")
            start = int(offset)
        else:
            if "$deltatoken" in query:
                switches = state.switches
                if switches.gone > 0:
                    switches.gone -= 1
                    return _error(
                        410, "resyncRequired", "Resync required.", Location=f"{link}?$select=id"
                    )
                if switches.sync_state_not_found > 0:
                    switches.sync_state_not_found -= 1
                    return _error(400, "syncStateNotFound", "The sync state was not found.")
                since = int(query["$deltatoken"])
                if switches.replay > 0:
                    switches.replay -= 1
                    since = max(0, since - 1_000_000)  # the earlier rounds come again
                items = self._changes(box, folder, since, immutable)
            else:
                items = [
                    self._message_json(m, immutable)
                    for m in sorted(box.messages.values(), key=lambda m: m.received)
                    if m.folder == folder.id
                ]
            round_id = secrets.token_hex(6)
            round_ = Round(box.address, folder.id, items, state.seq)
            state.rounds[round_id] = round_
            start = 0
        page = round_.items[start : start + size]
        answer: dict[str, Any] = {"value": page}
        if start + size < len(round_.items):
            answer["@odata.nextLink"] = f"{link}?$skiptoken={round_id}.{start + size}"
        else:
            answer["@odata.deltaLink"] = f"{link}?$deltatoken={round_.end_seq}"
        return Answer(200, answer)

    def _changes(
        self, box: Mailbox, folder: FakeFolder, since: int, immutable: bool
    ) -> list[dict[str, Any]]:
        """The journal after `since` for the folder: one entry per message (its last
        state), or every change when switches.duplicates is on."""
        changes = [c for c in box.journal if c.seq > since and c.folder == folder.id]
        if not self.state.switches.duplicates:
            last: dict[str, Change] = {}
            for change in changes:
                last.pop(change.immutable_id, None)
                last[change.immutable_id] = change
            changes = list(last.values())
        items: list[dict[str, Any]] = []
        for change in changes:
            message_id = change.immutable_id if immutable else change.regular_id
            if change.removed:
                items.append({"id": message_id, "@removed": {"reason": "deleted"}})
            else:
                message = box.messages[change.immutable_id]
                items.append(self._message_json(message, immutable))
        return items

    def _send(self, answer: Answer) -> None:
        if isinstance(answer.body, bytes):
            data = answer.body
        elif answer.body is None:
            data = b""
        else:
            data = json.dumps(answer.body).encode()
            answer.headers.setdefault("Content-Type", "application/json")
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def http_date(seconds_from_now: float) -> str:
    return formatdate(time.time() + seconds_from_now, usegmt=True)


@dataclass
class GraphFake:
    state: GraphState
    server: HttpsServer

    @property
    def ca_file(self) -> Path:
        return self.server.ca_file

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def authority(self) -> str:
        return self.server.url


def start_graph(directory: Path) -> GraphFake:
    state = GraphState()
    handler = type("GraphHandler", (GraphHandler,), {"state": state})
    server = HttpsServer(handler, directory).start()
    state.base_url = server.url
    return GraphFake(state, server)


@pytest.fixture
def graph_fake(tmp_path: Path) -> Iterator[GraphFake]:
    fake = start_graph(tmp_path)
    try:
        yield fake
    finally:
        fake.server.stop()


class FakeTokens:
    """BearerTokens issued straight from the fake, counting what the source asked."""

    def __init__(self, state: GraphState, roles: list[str] | None = None) -> None:
        self._state = state
        self._roles = roles
        self._token: str | None = None
        self.refusals = 0

    def token(self) -> str:
        if self._token is None:
            self._token = self._state.issue_token(roles=self._roles)
        return self._token

    def refused(self, token: str) -> str:
        self.refusals += 1
        self._token = None
        return self.token()


class MemoryState:
    """SyncState in a dict, as intake's StoredSyncState keeps it in the database."""

    def __init__(self) -> None:
        self.saved: dict[str, str] = {}

    def load(self, scope: str) -> str | None:
        return self.saved.get(scope)

    def save(self, scope: str, value: str) -> None:
        self.saved[scope] = value


@dataclass
class Microsoft365:
    """The Graph fake and the identity-platform fake that signs its tokens, with an app
    registered under a client secret (in CLIENT_SECRET_ENV)."""

    graph: GraphFake
    identity: IdentityPlatform
    client_id: str

    @property
    def state(self) -> GraphState:
        return self.graph.state

    @property
    def ca_file(self) -> Path:
        return self.graph.ca_file

    @property
    def port(self) -> int:
        return self.graph.port

    @property
    def server(self) -> HttpsServer:
        return self.graph.server


@pytest.fixture
def microsoft365(
    graph_fake: GraphFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Microsoft365]:
    from cryptography.fernet import Fernet

    from deskmail.store.sealing import SECRET_KEY_ENV

    directory = tmp_path / "identity"
    directory.mkdir()
    monkeypatch.setenv(SECRET_KEY_ENV, Fernet.generate_key().decode())
    monkeypatch.setenv(CLIENT_SECRET_ENV, CLIENT_SECRET)
    with identity_platform(directory) as platform:
        app = platform.register(secret=CLIENT_SECRET)
        graph_fake.state.trusted_key = platform.key
        yield Microsoft365(graph_fake, platform, app.client_id)


def graph_job_settings(m365: Microsoft365, **settings: Any) -> dict[str, Any]:
    """A Graph job's settings on the fakes: mailbox support@contoso.example, Inbox/Support."""
    defaults: dict[str, Any] = {
        "name": "Graph Support",
        "protocol": "graph",
        "server": "localhost",
        "port": m365.graph.port,
        "ca_file": str(m365.graph.ca_file),
        "user": "support@contoso.example",
        "folder": "Inbox/Support",
        "fallback_user": "helpdesk",
        "fallback_site": "Head Office",
        "oauth2": {
            "tenant": TENANT,
            "client_id": m365.client_id,
            "client_secret_env": CLIENT_SECRET_ENV,
            "authority": m365.identity.url,
            "ca_file": str(m365.identity.ca_file),
        },
    }
    return defaults | settings
