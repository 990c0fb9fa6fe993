"""A fake Exchange Server EWS endpoint, for exchangelib on its real path.

It answers, over HTTPS (tests/support/https.py), the operations exchangelib
sends for a deskmail EWS job, in the wire format of Exchange 2016: the
unauthenticated probe (401 with WWW-Authenticate), ConvertId for the version,
GetFolder, FindFolder, SyncFolderItems, GetItem with MimeContent, UpdateItem,
MoveItem and DeleteItem. Every answer carries the ServerVersionInfo header.
It also answers SOAP autodiscover (GetUserSettings at /autodiscover/autodiscover.svc,
with the HEAD check exchangelib makes of a host an SRV record names).
Logins are checked with NTLM (pyspnego as the acceptor, bound to the
connection as IIS does), HTTP Basic, or OAuth2 bearer tokens of the identity
fake (an app-only token must impersonate the mailbox it was granted).

The mailbox keeps a change journal per folder: a SyncState is an offset into
it, pages hold at most MaxChangesReturned changes and say
IncludesLastItemInRange; ItemIds change when an item moves. Switches:
`invalidate_sync_states()` (ErrorInvalidSyncStateData for every older state),
`busy` (ErrorServerBusy with BackOffMilliseconds for that many requests),
`hard_deletes` records any DeleteItem with DeleteType HardDelete.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import itertools
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

import pytest
import spnego
from spnego.exceptions import SpnegoError

from tests.support.dns import DnsZone, dns_server, hosts_from_zone
from tests.support.https import HttpsServer

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
NS = {"s": SOAP, "m": M, "t": T}

PATH = "/EWS/Exchange.asmx"
AUTODISCOVER_PATH = "/autodiscover/autodiscover.svc"
A = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
WSA = "http://www.w3.org/2005/08/addressing"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
_ANS = {"a": A}
DOMAIN = "EXAMPLE"
USER = "support"
PASSWORD = "Ews-Passw0rd"
ADDRESS = "support@example.com"

_HEADER = (
    '<s:Header><h:ServerVersionInfo MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507"'
    ' MinorBuildNumber="6" Version="V2017_07_11"'
    f' xmlns:h="{T}" xmlns="{T}"/></s:Header>'
)
# Exchange ends a failed SyncFolderItems message with an empty state, as exchangelib reads it.
_SYNC_ERROR_TAIL = "<m:SyncState/><m:IncludesLastItemInRange>true</m:IncludesLastItemInRange>"


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@dataclass
class Item:
    id: str
    folder: str
    mime: bytes
    is_read: bool = False
    change: int = 1


@dataclass
class Folder:
    id: str
    name: str
    parent: str | None
    distinguished: str | None = None
    # The change journal: (kind, item id) with kind create | delete | read.
    journal: list[tuple[str, str]] = field(default_factory=list)


class Mailbox:
    """One mailbox's folders and items; the handler's state, shared by all connections."""

    def __init__(self, address: str = ADDRESS) -> None:
        self.address = address
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        self.folders: dict[str, Folder] = {}
        self.items: dict[str, Item] = {}
        self.generation = 1
        self.busy = 0  # the next N requests answer ErrorServerBusy
        self.refuse_versions = False  # every request: ErrorInvalidServerVersion
        # EffectiveRights of this login: on the items, and per folder (by path) on folders.
        self.item_rights = {"Delete": True, "Modify": True}
        self.read_only_folders: set[str] = set()
        self.busy_answers = 0
        self.backoff_ms = 50  # the BackOffMilliseconds a busy answer asks for
        self.hard_deletes: list[str] = []
        self.requests: list[str] = []  # operation names, in order
        self.authenticated_users: set[str] = set()
        # Bearer mode: tokens of the identity fake (tests/support/identity.py) for this audience.
        self.bearer_key = b""
        # Exchange's resource answers to both names (app-only tokens name the first).
        self.bearer_audiences = {"https://outlook.office365.com", "https://outlook.office.com"}
        # A person's token opens their own mailbox and those they have FullAccess to.
        self.full_access: set[str] = {address}
        self.refuse_tokens = 0
        self.refused_tokens: list[str] = []
        self.ews_url = ""  # what autodiscover answers as the EWS URL (ews_fake sets it)
        self.autodiscover_users: list[str] = []  # who GetUserSettings was asked about
        self.autodiscover_hosts: list[str] = []  # the Host of each autodiscover request
        root = self._add_folder("Top of Information Store", None, "msgfolderroot")
        self.inbox = self._add_folder("Inbox", root.id, "inbox")
        self.deleted = self._add_folder("Deleted Items", root.id, "deleteditems")

    def _add_folder(self, name: str, parent: str | None, distinguished: str | None) -> Folder:
        folder = Folder(id=_b64(f"folder:{next(self._ids)}:{name}"), name=name, parent=parent)
        folder.distinguished = distinguished
        self.folders[folder.id] = folder
        return folder

    def add_folder(self, path: str) -> Folder:
        """A folder by path from the inbox: "Inbox/Support"."""
        parent = self.inbox
        for name in path.split("/")[1:]:
            found = [f for f in self.folders.values() if f.parent == parent.id and f.name == name]
            parent = found[0] if found else self._add_folder(name, parent.id, None)
        return parent

    def folder(self, path: str) -> Folder:
        parent = self.inbox
        for name in path.split("/")[1:]:
            parent = next(
                f for f in self.folders.values() if f.parent == parent.id and f.name == name
            )
        return parent

    def deliver(self, mime: bytes, path: str = "Inbox") -> str:
        with self.lock:
            return self._place(mime, self.folder(path), is_read=False)

    def _place(self, mime: bytes, folder: Folder, *, is_read: bool) -> str:
        item = Item(id=_b64(f"item:{next(self._ids)}:{folder.id}"), folder=folder.id, mime=mime)
        item.is_read = is_read
        self.items[item.id] = item
        folder.journal.append(("create", item.id))
        return item.id

    def _remove(self, item: Item) -> None:
        del self.items[item.id]
        self.folders[item.folder].journal.append(("delete", item.id))

    def in_folder(self, path: str) -> list[Item]:
        folder = self.folder(path)
        return [item for item in self.items.values() if item.folder == folder.id]

    def bearer_claims(self, token: str) -> dict[str, Any] | None:
        """The claims of a valid access token (HS256 with `bearer_key`, unexpired, for
        `bearer_audiences`), or None; `refuse_tokens` refuses that many valid ones first."""
        try:
            head, payload, signature = token.split(".")
            claims: dict[str, Any] = json.loads(_b64url_decode(payload))
        except ValueError:
            return None
        expected = hmac.new(self.bearer_key, f"{head}.{payload}".encode(), hashlib.sha256)
        if not hmac.compare_digest(_b64url_decode(signature), expected.digest()):
            return None
        if claims.get("exp", 0) < time.time() or claims.get("aud") not in self.bearer_audiences:
            return None
        with self.lock:
            if self.refuse_tokens > 0:
                self.refuse_tokens -= 1
                self.refused_tokens.append(token)
                return None
        self.authenticated_users.add(str(claims.get("sub")))
        return claims

    def user_settings(self, body: ET.Element) -> bytes:
        """Autodiscover's GetUserSettings (SOAP, Exchange 2010 and later): the EWS URL and the
        schemas of this mailbox; SettingIsNotAvailable for the other settings asked, and
        InvalidUser for any other address."""
        asked = [s.text or "" for s in body.iterfind(".//a:RequestedSettings/a:Setting", _ANS)]
        known = {
            "ExternalEwsUrl": self.ews_url,
            "InternalEwsUrl": self.ews_url,
            "AutoDiscoverSMTPAddress": self.address,
            "UserDisplayName": "Support",
            "CasVersion": "15.01.2507.006",
            "EwsSupportedSchemas": "Exchange2007, Exchange2007_SP1, Exchange2010,"
            " Exchange2010_SP1, Exchange2010_SP2, Exchange2013, Exchange2013_SP1, Exchange2016",
        }
        answers = []
        for mailbox in body.iterfind(".//a:Users/a:User/a:Mailbox", _ANS):
            user = (mailbox.text or "").lower()
            self.autodiscover_users.append(user)
            if user != self.address:
                answers.append(
                    "<UserResponse><ErrorCode>InvalidUser</ErrorCode><ErrorMessage>Invalid user:"
                    f" '{escape(user)}'</ErrorMessage>"
                    '<RedirectTarget i:nil="true"/><UserSettingErrors/><UserSettings/>'
                    "</UserResponse>"
                )
                continue
            settings = "".join(
                f'<UserSetting i:type="StringSetting"><Name>{name}</Name>'
                f"<Value>{escape(known[name])}</Value></UserSetting>"
                for name in asked
                if name in known
            )
            errors = "".join(
                "<UserSettingError><ErrorCode>SettingIsNotAvailable</ErrorCode><ErrorMessage>"
                f"User setting '{name}' is not available.</ErrorMessage>"
                f"<SettingName>{name}</SettingName></UserSettingError>"
                for name in asked
                if name not in known
            )
            answers.append(
                "<UserResponse><ErrorCode>NoError</ErrorCode><ErrorMessage>No error.</ErrorMessage>"
                f'<RedirectTarget i:nil="true"/><UserSettingErrors>{errors}</UserSettingErrors>'
                f"<UserSettings>{settings}</UserSettings></UserResponse>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<s:Envelope xmlns:s="{SOAP}" xmlns:a="{WSA}"><s:Header>'
            '<a:Action s:mustUnderstand="1">http://schemas.microsoft.com/exchange/2010/'
            "Autodiscover/Autodiscover/GetUserSettingsResponse</a:Action>"
            f'<h:ServerVersionInfo xmlns:h="{A}" xmlns:i="{XSI}"><h:MajorVersion>15'
            "</h:MajorVersion><h:MinorVersion>1</h:MinorVersion><h:MajorBuildNumber>2507"
            "</h:MajorBuildNumber><h:MinorBuildNumber>6</h:MinorBuildNumber><h:Version>"
            "Exchange2015</h:Version></h:ServerVersionInfo></s:Header><s:Body>"
            f'<GetUserSettingsResponseMessage xmlns="{A}"><Response xmlns:i="{XSI}">'
            "<ErrorCode>NoError</ErrorCode><ErrorMessage/>"
            f"<UserResponses>{''.join(answers)}</UserResponses></Response>"
            "</GetUserSettingsResponseMessage></s:Body></s:Envelope>"
        ).encode()

    def invalidate_sync_states(self) -> None:
        """Every SyncState handed out so far is refused (ErrorInvalidSyncStateData)."""
        with self.lock:
            self.generation += 1

    # ---- the operations -------------------------------------------------------------

    def operation(self, name: str, body: ET.Element) -> str:
        handler = getattr(self, f"_op_{name}", None)
        if handler is None:
            raise ValueError(f"the EWS fake does not answer {name}")
        with self.lock:
            return str(handler(body))

    def _resolve_folder(self, elem: ET.Element) -> Folder | None:
        if elem.tag == f"{{{T}}}DistinguishedFolderId":
            wanted = elem.get("Id", "")
            if wanted == "root":
                wanted = "msgfolderroot"
            return next((f for f in self.folders.values() if f.distinguished == wanted), None)
        return self.folders.get(elem.get("Id", ""))

    def _this_mailbox(self, elem: ET.Element) -> bool:
        """Whether a DistinguishedFolderId names this mailbox (or none, the login's own)."""
        address = elem.find("t:Mailbox/t:EmailAddress", NS)
        return address is None or (address.text or "").lower() == self.address

    def _folder_xml(self, folder: Folder) -> str:
        parent = f'<t:ParentFolderId Id="{folder.parent}" ChangeKey="AQ"/>' if folder.parent else ""
        children = sum(1 for f in self.folders.values() if f.parent == folder.id)
        items = [i for i in self.items.values() if i.folder == folder.id]
        unread = sum(1 for i in items if not i.is_read)
        folder_class = "" if folder.distinguished == "msgfolderroot" else "IPF.Note"
        return (
            f'<t:Folder><t:FolderId Id="{folder.id}" ChangeKey="AQ"/>{parent}'
            + (f"<t:FolderClass>{folder_class}</t:FolderClass>" if folder_class else "")
            + f"<t:DisplayName>{escape(folder.name)}</t:DisplayName>"
            f"<t:TotalCount>{len(items)}</t:TotalCount>"
            f"<t:ChildFolderCount>{children}</t:ChildFolderCount>"
            + _rights({"CreateContents": folder.id not in self.read_only_folders, "Read": True})
            + f"<t:UnreadCount>{unread}</t:UnreadCount></t:Folder>"
        )

    def _op_ConvertId(self, body: ET.Element) -> str:
        messages = "".join(
            _error("ConvertId", "ErrorInvalidIdMalformed", "Id is malformed.")
            for _ in body.iter(f"{{{T}}}AlternateId")
        )
        return _response("ConvertId", messages)

    def _op_GetFolder(self, body: ET.Element) -> str:
        ids = body.find("m:FolderIds", NS)
        messages = []
        for elem in list(ids) if ids is not None else []:
            folder = self._resolve_folder(elem)
            if not self._this_mailbox(elem):
                messages.append(
                    _error(
                        "GetFolder",
                        "ErrorNonExistentMailbox",
                        "The SMTP address has no mailbox associated with it.",
                        "<m:Folders/>",
                    )
                )
            elif folder is None:
                messages.append(
                    _error(
                        "GetFolder",
                        "ErrorFolderNotFound",
                        "The specified folder could not be found in the store.",
                        "<m:Folders/>",
                    )
                )
            else:
                messages.append(
                    _success("GetFolder", f"<m:Folders>{self._folder_xml(folder)}</m:Folders>")
                )
        return _response("GetFolder", "".join(messages))

    def _op_FindFolder(self, body: ET.Element) -> str:
        parents = body.find("m:ParentFolderIds", NS)
        constant = body.find(".//m:Restriction//t:Constant", NS)
        name = constant.get("Value") if constant is not None else None
        messages = []
        for elem in list(parents) if parents is not None else []:
            parent = self._resolve_folder(elem)
            if parent is None:
                messages.append(
                    _error(
                        "FindFolder",
                        "ErrorFolderNotFound",
                        "The specified folder could not be found in the store.",
                    )
                )
                continue
            found = [
                f
                for f in self.folders.values()
                if f.parent == parent.id and (name is None or f.name.lower() == name.lower())
            ]
            folders = "".join(self._folder_xml(f) for f in found)
            messages.append(
                _success(
                    "FindFolder",
                    f'<m:RootFolder IndexedPagingOffset="{len(found)}"'
                    f' TotalItemsInView="{len(found)}" IncludesLastItemInRange="true">'
                    f"<t:Folders>{folders}</t:Folders></m:RootFolder>",
                )
            )
        return _response("FindFolder", "".join(messages))

    def _op_SyncFolderItems(self, body: ET.Element) -> str:
        folder_elem = body.find("m:SyncFolderId", NS)
        folder = self._resolve_folder(folder_elem[0]) if folder_elem is not None else None
        if folder is None:
            return _response(
                "SyncFolderItems",
                _error(
                    "SyncFolderItems",
                    "ErrorFolderNotFound",
                    "The specified folder could not be found in the store.",
                    _SYNC_ERROR_TAIL,
                ),
            )
        state_elem = body.find("m:SyncState", NS)
        start = 0
        if state_elem is not None and state_elem.text:
            try:
                generation, folder_id, offset = (
                    base64.b64decode(state_elem.text).decode().split("|")
                )
                valid = int(generation) == self.generation and folder_id == folder.id
                start = int(offset)
            except ValueError:
                valid = False
            if not valid:
                return _response(
                    "SyncFolderItems",
                    _error(
                        "SyncFolderItems",
                        "ErrorInvalidSyncStateData",
                        "Synchronization state data is corrupt or otherwise invalid.",
                        _SYNC_ERROR_TAIL,
                    ),
                )
        limit_elem = body.find("m:MaxChangesReturned", NS)
        limit = int(limit_elem.text or "100") if limit_elem is not None else 100
        known_before = {item_id for kind, item_id in folder.journal[:start] if kind == "create"}
        changes: list[str] = []
        position = start
        while position < len(folder.journal) and len(changes) < limit:
            kind, item_id = folder.journal[position]
            position += 1
            item = self.items.get(item_id)
            if kind == "create" and item is not None and item.folder == folder.id:
                changes.append(
                    f'<t:Create><t:Message><t:ItemId Id="{item_id}" ChangeKey="CK{item.change}"/>'
                    "</t:Message></t:Create>"
                )
            elif kind == "delete" and item_id in known_before:
                changes.append(f'<t:Delete><t:ItemId Id="{item_id}" ChangeKey="CK0"/></t:Delete>')
        last = position >= len(folder.journal)
        state = _b64(f"{self.generation}|{folder.id}|{position}")
        return _response(
            "SyncFolderItems",
            _success(
                "SyncFolderItems",
                f"<m:SyncState>{state}</m:SyncState>"
                f"<m:IncludesLastItemInRange>{str(last).lower()}</m:IncludesLastItemInRange>"
                f"<m:Changes>{''.join(changes)}</m:Changes>",
            ),
        )

    def _item_ids(self, body: ET.Element, container: str = "m:ItemIds") -> list[str]:
        ids = body.find(container, NS)
        return [elem.get("Id", "") for elem in ids] if ids is not None else []

    def _op_GetItem(self, body: ET.Element) -> str:
        fields = {elem.get("FieldURI") for elem in body.iter(f"{{{T}}}FieldURI")}
        messages = []
        for item_id in self._item_ids(body):
            item = self.items.get(item_id)
            if item is None:
                messages.append(_not_found("GetItem", "<m:Items/>"))
                continue
            parts = []
            if "item:MimeContent" in fields:
                mime = base64.b64encode(item.mime).decode()
                parts.append(f'<t:MimeContent CharacterSet="UTF-8">{mime}</t:MimeContent>')
            parts.append(f'<t:ItemId Id="{item.id}" ChangeKey="CK{item.change}"/>')
            parts.append(f'<t:ParentFolderId Id="{item.folder}" ChangeKey="AQ"/>')
            if "item:EffectiveRights" in fields:
                parts.append(_rights({**self.item_rights, "Read": True}))
            if "message:IsRead" in fields:
                parts.append(f"<t:IsRead>{str(item.is_read).lower()}</t:IsRead>")
            messages.append(
                _success("GetItem", f"<m:Items><t:Message>{''.join(parts)}</t:Message></m:Items>")
            )
        return _response("GetItem", "".join(messages))

    def _op_UpdateItem(self, body: ET.Element) -> str:
        messages = []
        for change in body.iterfind(".//t:ItemChange", NS):
            id_elem = change.find("t:ItemId", NS)
            item = self.items.get(id_elem.get("Id", "") if id_elem is not None else "")
            if item is None:
                messages.append(_not_found("UpdateItem", "<m:Items/>"))
                continue
            value = change.find(".//t:SetItemField/t:Message/t:IsRead", NS)
            if value is not None:
                item.is_read = value.text in ("true", "1")
                item.change += 1
                self.folders[item.folder].journal.append(("read", item.id))
            messages.append(
                _success(
                    "UpdateItem",
                    f'<m:Items><t:Message><t:ItemId Id="{item.id}" ChangeKey="CK{item.change}"/>'
                    "</t:Message></m:Items><m:ConflictResults><t:Count>0</t:Count></m:ConflictResults>",
                )
            )
        return _response("UpdateItem", "".join(messages))

    def _move(self, item: Item, target: Folder) -> str:
        self._remove(item)
        return self._place(item.mime, target, is_read=item.is_read)

    def _op_MoveItem(self, body: ET.Element) -> str:
        to = body.find("m:ToFolderId", NS)
        target = self._resolve_folder(to[0]) if to is not None else None
        messages = []
        for item_id in self._item_ids(body):
            item = self.items.get(item_id)
            if item is None or target is None:
                messages.append(_not_found("MoveItem", "<m:Items/>"))
                continue
            new_id = self._move(item, target)
            messages.append(
                _success(
                    "MoveItem",
                    f'<m:Items><t:Message><t:ItemId Id="{new_id}" ChangeKey="CK1"/>'
                    "</t:Message></m:Items>",
                )
            )
        return _response("MoveItem", "".join(messages))

    def _op_DeleteItem(self, body: ET.Element) -> str:
        delete_type = body.get("DeleteType", "")
        messages = []
        for item_id in self._item_ids(body):
            item = self.items.get(item_id)
            if item is None:
                messages.append(_not_found("DeleteItem"))
                continue
            if delete_type == "HardDelete":
                self.hard_deletes.append(item_id)
                self._remove(item)
            elif delete_type == "MoveToDeletedItems":
                self._move(item, self.deleted)
            else:  # SoftDelete: into the recoverable items, out of the folder
                self._remove(item)
            messages.append(_success("DeleteItem", ""))
        return _response("DeleteItem", "".join(messages))


def _rights(granted: dict[str, bool]) -> str:
    names = ("CreateAssociated", "CreateContents", "CreateHierarchy", "Delete", "Modify", "Read")
    flags = "".join(f"<t:{n}>{str(granted.get(n, False)).lower()}</t:{n}>" for n in names)
    return f"<t:EffectiveRights>{flags}</t:EffectiveRights>"


def _response(operation: str, messages: str) -> str:
    return (
        f'<m:{operation}Response xmlns:m="{M}" xmlns:t="{T}">'
        f"<m:ResponseMessages>{messages}</m:ResponseMessages></m:{operation}Response>"
    )


def _success(operation: str, content: str) -> str:
    return (
        f'<m:{operation}ResponseMessage ResponseClass="Success">'
        f"<m:ResponseCode>NoError</m:ResponseCode>{content}</m:{operation}ResponseMessage>"
    )


def _error(operation: str, code: str, text: str, content: str = "") -> str:
    return (
        f'<m:{operation}ResponseMessage ResponseClass="Error">'
        f"<m:MessageText>{escape(text)}</m:MessageText><m:ResponseCode>{code}</m:ResponseCode>"
        f"<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>{content}</m:{operation}ResponseMessage>"
    )


def _not_found(operation: str, content: str = "") -> str:
    return _error(
        operation, "ErrorItemNotFound", "The specified object was not found in the store.", content
    )


def _envelope(body: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP}">{_HEADER}<s:Body>{body}</s:Body></s:Envelope>'
    ).encode()


_BUSY_FAULT = (
    "<s:Fault>"
    f'<faultcode xmlns:a="{T}">a:ErrorServerBusy</faultcode>'
    '<faultstring xml:lang="en-US">The server cannot service this request right now.'
    " Try again later.</faultstring><detail>"
    '<e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">'
    "ErrorServerBusy</e:ResponseCode>"
    '<e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">'
    "The server cannot service this request right now. Try again later.</e:Message>"
    f'<t:MessageXml xmlns:t="{T}"><t:Value Name="BackOffMilliseconds">{{ms}}</t:Value>'
    "</t:MessageXml></detail></s:Fault>"
)


_DENIED = "The account does not have permission to impersonate the requested user."
_NO_ACCESS = "Access is denied. Check credentials and try again."


def _fault(code: str, text: str) -> str:
    return (
        f'<s:Fault><faultcode xmlns:a="{T}">a:{code}</faultcode>'
        f'<faultstring xml:lang="en-US">{escape(text)}</faultstring><detail>'
        '<e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">'
        f"{code}</e:ResponseCode>"
        '<e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">'
        f"{escape(text)}</e:Message></detail></s:Fault>"
    )


class EwsHandler(BaseHTTPRequestHandler):
    """One connection; NTLM authenticates the connection, as IIS does."""

    protocol_version = "HTTP/1.1"
    mailbox: Mailbox
    auth: str = "ntlm"  # "ntlm" | "basic" | "bearer"

    def setup(self) -> None:
        super().setup()
        self._ntlm: Any = None
        self._user: str | None = None
        self._claims: dict[str, Any] | None = None

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if body:
            self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _challenge(self, token: str | None = None) -> None:
        if self.auth == "basic":
            header = 'Basic realm="localhost"'
        else:
            header = f"NTLM {token}" if token else "NTLM"
        self._send(401, b"", {"WWW-Authenticate": header})

    def _authenticated(self) -> bool:
        """Whether this request may go on; answers the 401 itself when not."""
        header = self.headers.get("Authorization", "")
        scheme, _, blob = header.partition(" ")
        if self.auth == "bearer":  # per request, never per connection
            self._claims = self.mailbox.bearer_claims(blob if scheme == "Bearer" else "")
            if self._claims is None:
                self._send(401, b"", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
                return False
            return True
        if self._user is not None:
            return True
        if self.auth == "basic":
            if scheme.lower() == "basic":
                user, _, password = base64.b64decode(blob).decode().partition(":")
                if user.split("\\")[-1].lower() in (USER, ADDRESS) and password == PASSWORD:
                    self._user = user
                    self.mailbox.authenticated_users.add(user)
                    return True
            self._challenge()
            return False
        if scheme.upper() != "NTLM" or not blob:
            self._ntlm = None
            self._challenge()
            return False
        token = base64.b64decode(blob)
        if self._ntlm is None:
            self._ntlm = spnego.server(protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm)
        try:
            answer = self._ntlm.step(token)
        except SpnegoError:
            self._ntlm = None
            self._challenge()
            return False
        if not self._ntlm.complete:
            self._challenge(base64.b64encode(answer or b"").decode())
            return False
        self._user = str(self._ntlm.client_principal)
        self.mailbox.authenticated_users.add(self._user)
        return True

    def _may_act(self, envelope: ET.Element) -> bool:
        """An app-only token (roles, no scp) acts for a mailbox by impersonation, if Exchange
        was told so; a person's (scp) for a mailbox they own or have FullAccess to."""
        claims = self._claims or {}
        if "scp" in claims:
            if str(claims.get("email", "")).lower() in self.mailbox.full_access:
                return True
            self._send(500, _envelope(_fault("ErrorAccessDenied", _NO_ACCESS)))
            return False
        named = envelope.find("s:Header/t:ExchangeImpersonation/t:ConnectingSID/*", NS)
        wanted = (named.text or "").lower() if named is not None else None
        if wanted is not None and wanted == str(claims.get("email", "")).lower():
            return True
        self._send(500, _envelope(_fault("ErrorImpersonateUserDenied", _DENIED)))
        return False

    def do_HEAD(self) -> None:
        """exchangelib checks an autodiscover host it was sent to (an SRV record, a
        redirect) with an unauthenticated HEAD; IIS answers it with the login challenge."""
        self._challenge()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(length)
        path = self.path.split("?")[0].lower()
        if path == AUTODISCOVER_PATH:
            self.mailbox.autodiscover_hosts.append(self.headers.get("Host", ""))
            if self._authenticated():
                self._send(200, self.mailbox.user_settings(ET.fromstring(data)))
            return
        if path != PATH.lower():
            self._send(404)
            return
        if not self._authenticated():
            return
        envelope = ET.fromstring(data)
        body = envelope.find("s:Body", NS)
        if body is None or not len(body):
            self._send(400)
            return
        operation = body[0].tag.rpartition("}")[2]
        self.mailbox.requests.append(operation)
        # ConvertId, exchangelib's version probe, names no mailbox.
        if self.auth == "bearer" and operation != "ConvertId" and not self._may_act(envelope):
            return
        if self.mailbox.refuse_versions:  # an older Exchange than any version asked for
            fault = _fault("ErrorInvalidServerVersion", "The specified server version is invalid.")
            self._send(500, _envelope(fault))
            return
        with self.mailbox.lock:
            busy = self.mailbox.busy > 0
            if busy:
                self.mailbox.busy -= 1
                self.mailbox.busy_answers += 1
        if busy:
            self._send(500, _envelope(_BUSY_FAULT.replace("{ms}", str(self.mailbox.backoff_ms))))
            return
        self._send(200, _envelope(self.mailbox.operation(operation, body[0])))


@dataclass
class EwsFake:
    """The running fake: its mailbox, URL and CA file."""

    server: HttpsServer
    mailbox: Mailbox

    @property
    def service_url(self) -> str:
        return f"{self.server.url}{PATH}"

    @property
    def ca_file(self) -> Path:
        return self.server.ca_file


def _user_file(directory: Path) -> Path:
    path = directory / "ews-ntlm-users"
    path.write_text(f"{DOMAIN}:{USER}:{PASSWORD}\n")
    return path


@contextmanager
def ews_fake(
    directory: Path,
    auth: str = "ntlm",
    *,
    address: str = ADDRESS,
    port: int = 0,
    names: tuple[str, ...] = (),
) -> Iterator[EwsFake]:
    """An EWS fake on https://localhost:PORT/EWS/Exchange.asmx with one mailbox, which also
    answers autodiscover at /autodiscover/autodiscover.svc (port 443 for a domain's own)."""
    directory.mkdir(parents=True, exist_ok=True)
    # pyspnego's NTLM acceptor reads its accounts from the file this variable names.
    before = os.environ.get("NTLM_USER_FILE")
    os.environ["NTLM_USER_FILE"] = str(_user_file(directory))
    mailbox = Mailbox(address)
    handler = type("Handler", (EwsHandler,), {"mailbox": mailbox, "auth": auth})
    server = HttpsServer(handler, directory, port, names).start()
    mailbox.ews_url = f"{server.url}{PATH}"
    try:
        yield EwsFake(server, mailbox)
    finally:
        server.stop()
        if before is None:
            os.environ.pop("NTLM_USER_FILE", None)
        else:
            os.environ["NTLM_USER_FILE"] = before


def ews_job(fake: EwsFake, **settings: Any) -> dict[str, Any]:
    """A job table for the fake (NTLM with the domain login), as a TOML file writes it."""
    table: dict[str, Any] = {
        "protocol": "ews",
        "service_url": fake.service_url,
        "user": f"{DOMAIN}\\{USER}",
        "mailbox": ADDRESS,
        "password_env": "DESKMAIL_EWS_PASSWORD",
        "ca_file": str(fake.ca_file),
        "auth_mechanism": "ntlm",
    }
    table.update(settings)
    return table


AUTODISCOVER_PORT = 443  # a domain's autodiscover URLs carry no port
_PORT_LOCK = Path(tempfile.gettempdir()) / "deskmail-tests-port-443.lock"


@contextmanager
def autodiscover_fake(directory: Path, zone: DnsZone, **settings: Any) -> Iterator[EwsFake]:
    """The EWS fake on https://localhost (port 443), and exchangelib's autodiscover asking
    the DNS server of `zone` (tests/support/dns.py) instead of the machine's.

    Port 443 needs root (the tests run as root, CI too): elsewhere the test is skipped,
    and fails under CI=true. A lock file keeps parallel test processes off the port in turn.
    exchangelib's autodiscover caches (in memory, and a file in the temp directory shared
    by every process of the user) are emptied before and after. The zone's A names are
    on the fake's certificate, and this process connects to them where the zone says
    (dns.py's hosts_from_zone), as a machine whose DNS had those records would.
    """
    from exchangelib.autodiscover import Autodiscovery, cache

    directory.mkdir(parents=True, exist_ok=True)
    with (
        open(_PORT_LOCK, "w") as lock,
        dns_server(zone) as dns,
        hosts_from_zone(dns),
    ):
        fcntl.flock(lock, fcntl.LOCK_EX)
        kwargs, attrs = Autodiscovery.DNS_RESOLVER_KWARGS, Autodiscovery.DNS_RESOLVER_ATTRS
        storage = cache.AUTODISCOVER_PERSISTENT_STORAGE
        Autodiscovery.DNS_RESOLVER_KWARGS = {"configure": False}
        Autodiscovery.DNS_RESOLVER_ATTRS = {
            **attrs,
            "nameservers": ["127.0.0.1"],
            "port": dns.port,
        }
        cache.AUTODISCOVER_PERSISTENT_STORAGE = directory / "exchangelib-autodiscover-cache"
        cache.autodiscover_cache._protocols.clear()
        try:
            with ExitStack() as stack:
                try:
                    fake = stack.enter_context(
                        ews_fake(directory, port=AUTODISCOVER_PORT, names=tuple(zone.a), **settings)
                    )
                except OSError as exc:
                    reason = f"the autodiscover fake cannot listen on port 443 ({exc.strerror})"
                    if os.environ.get("CI", "").lower() == "true":
                        pytest.fail(f"EWS autodiscover tests cannot run under CI: {reason}")
                    pytest.skip(reason)
                yield fake
        finally:
            cache.autodiscover_cache._protocols.clear()
            cache.AUTODISCOVER_PERSISTENT_STORAGE = storage
            Autodiscovery.DNS_RESOLVER_KWARGS, Autodiscovery.DNS_RESOLVER_ATTRS = kwargs, attrs
