"""A private, real Dovecot 2.3 for the mailbox source tests.

The session-scoped `dovecot` fixture starts Dovecot as root from a generated
config in its own temp dir, on free loopback ports:

    IMAP (plain + STARTTLS), IMAPS, POP3 (plain + STLS), POP3S, and IMAPS on
    127.0.0.2 for the host-name mismatch test (the certificate only names
    localhost and 127.0.0.1).

Every user name logs in with the password "secret" (static passdb and userdb,
allow_all_users), so each test takes a fresh name from `dovecot.user()` and
needs no cleanup. Mail belongs to an unprivileged system user. Extra
instances (no TLS at all, a reduced IMAP capability list) start lazily through
`dovecot.no_tls` and `dovecot.variant(...)` and stop with the main one.

Under pytest-xdist every worker runs its own instances. Without Dovecot (or
without root) the tests are skipped, except under CI=true where they fail so
that CI cannot go quietly green.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import fcntl
import ipaddress
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from imapclient import IMAPClient

from deskmail.config.models import JobConfig, Protocol, Security, Timeouts

PASSWORD = "secret"
# One user with a non-ASCII password (passwd-file, checked before the static
# passdb) proves credentials are sent as UTF-8.
UNICODE_USER = "unicode-user"
UNICODE_PASSWORD = "pässwörd-ü€"
OS_USER = "deskmailtest"
DOVECOT = "/usr/sbin/dovecot"
# The SASL mechanisms of `dovecot.spa` (the main instance offers PLAIN and LOGIN only).
SPA_MECHANISMS = "plain login cram-md5 ntlm"
# NTLM is checked by tests/support/ntlm_auth.py against these accounts, password PASSWORD.
NTLM_USER = "spa-user"
NTLM_DOMAIN = "DESK"
ALT_ADDRESS = "127.0.0.2"  # Linux routes all of 127/8 to loopback
# The capability list Dovecot announces after login when a variant asks for
# an old-fashioned server (no MOVE; optionally no UIDPLUS).
BASIC_CAPABILITIES = "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT CHILDREN"

_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")


def make_mail(subject: str = "Printer on fire", body: bytes = b"Please help.\r\n") -> bytes:
    """A small RFC 5322 message with CRLF line ends and a unique Message-ID."""
    head = (
        "From: Alice Example <alice@example.com>\r\n"
        "To: support@example.com\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: <{secrets.token_hex(8)}@deskmail.test>\r\n"
        "Date: Mon, 24 Nov 2025 10:00:00 +0000\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"Dovecot tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _dovecot_binary() -> str:
    found = shutil.which("dovecot") or (DOVECOT if os.access(DOVECOT, os.X_OK) else None)
    if found is None:
        _unavailable("dovecot is not installed (make system-deps installs it)")
    if os.geteuid() != 0:
        _unavailable("the private Dovecot runs as root; run the tests as root")
    return found


def _ensure_os_user() -> tuple[int, int]:
    # A lock because xdist workers start their fixtures at the same moment.
    with open(os.path.join(tempfile.gettempdir(), "deskmail-useradd.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            entry = pwd.getpwnam(OS_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                 "--shell", "/usr/sbin/nologin", OS_USER],
                check=True,
            )  # fmt: skip
            entry = pwd.getpwnam(OS_USER)
    return entry.pw_uid, entry.pw_gid


def _free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def _alt_port() -> int | None:
    try:
        return _free_port(ALT_ADDRESS)
    except OSError:  # not Linux: only 127.0.0.1 is on loopback
        return None


def _write_certificate(directory: Path, names: tuple[str, ...] = ()) -> tuple[Path, Path]:
    """A self-signed certificate for localhost, 127.0.0.1 and `names` (EC: instant to make)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    *(x509.DNSName(name) for name in names),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.chmod(0o644)
    key_path.chmod(0o600)
    return cert_path, key_path


class Dovecot:
    """One running Dovecot instance and helpers to look into its mailboxes."""

    password = PASSWORD

    def __init__(
        self,
        binary: str,
        name: str,
        *,
        tls: bool = True,
        alt_address: bool = False,
        imap_capability: str | None = None,
        auth_mechanisms: str = "plain login",
        oauth2: bool = False,
    ) -> None:
        self.binary = binary
        self.name = name
        self.tls = tls
        self.imap_capability = imap_capability
        self.auth_mechanisms = auth_mechanisms
        # pytest's tmp_path parents are 0700, which locks out Dovecot's
        # unprivileged auth and mail processes; mkdtemp + 0755 does not.
        self.base = Path(tempfile.mkdtemp(prefix=f"deskmail-dovecot-{name}-"))
        self.base.chmod(0o755)
        self.config = self.base / "dovecot.conf"
        self.log = self.base / "dovecot.log"
        self.pid_file = self.base / "run" / "master.pid"
        self.imap_port = _free_port()
        self.pop3_port = _free_port()
        self.imaps_port = _free_port() if tls else None
        self.pop3s_port = _free_port() if tls else None
        self.alt_imaps_port = _alt_port() if tls and alt_address else None
        self.ca_file: Path | None = None
        self.key_file: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._extras: dict[str, Dovecot] = {}
        # With oauth2, bearer tokens (XOAUTH2, OAUTHBEARER) are HS256 JWTs signed with this key.
        self.oauth2_key: bytes | None = secrets.token_bytes(32) if oauth2 else None

    # ---- life cycle -------------------------------------------------------

    def start(self) -> None:
        uid, gid = _ensure_os_user()
        mail = self.base / "mail"
        mail.mkdir()
        os.chown(mail, uid, gid)
        (self.base / "run").mkdir()
        (self.base / "state").mkdir()
        if self.tls:
            self.ca_file, self.key_file = _write_certificate(self.base)
            users = self.base / "users"
            users.write_text(f"{UNICODE_USER}:{{PLAIN}}{UNICODE_PASSWORD}::::::\n", "utf-8")
            users.chmod(0o644)
        if "ntlm" in self.auth_mechanisms.split():
            self._write_ntlm_helper()
        if self.oauth2_key is not None:
            self._write_oauth2_settings()
        self.config.write_text(self._render_config(uid, gid), "utf-8")
        self._launch()

    def _write_ntlm_helper(self) -> None:
        """Dovecot 2.3 checks NTLM only through Samba's ntlm_auth helper (auth_use_winbind):
        a stand-in speaking the same helper protocol, with its accounts in a file."""
        users = self.base / "ntlm-users"
        users.write_text(f":{NTLM_USER}:{PASSWORD}\n{NTLM_DOMAIN}:{NTLM_USER}:{PASSWORD}\n")
        users.chmod(0o600)
        helper = Path(__file__).with_name("ntlm_auth.py")
        wrapper = self.base / "ntlm_auth"
        # Dovecot starts helpers with an empty environment: everything is spelled out.
        wrapper.write_text(
            f'#!/bin/sh\nNTLM_USER_FILE={users} exec {sys.executable} {helper} "$@"\n'
        )
        wrapper.chmod(0o755)

    def _write_oauth2_settings(self) -> None:
        """Offline validation of HS256 tokens: the key where Dovecot looks for a token
        without kid or azp (keys/default/HS256/default), the user in the email claim."""
        assert self.oauth2_key is not None
        keys = self.base / "keys" / "default" / "HS256"
        keys.mkdir(parents=True)
        (keys / "default").write_text(base64.b64encode(self.oauth2_key).decode())
        for folder in (self.base / "keys", self.base / "keys" / "default", keys):
            folder.chmod(0o755)
        (keys / "default").chmod(0o644)
        settings = self.base / "dovecot-oauth2.conf.ext"
        settings.write_text(
            "introspection_mode = local\n"
            f"local_validation_key_dict = fs:posix:prefix={self.base / 'keys'}/\n"
            "username_attribute = email\n"
        )
        settings.chmod(0o644)

    def kill(self) -> None:
        """SIGKILL the master (an outage); its files stay, so `revive` brings it back."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait(timeout=10)
        # Its children (login and mail processes) are gone with the master's sockets.
        ports = [p for p in (self.imap_port, self.pop3_port, self.imaps_port, self.pop3s_port) if p]
        deadline = time.monotonic() + 10
        while any(self._listening(port) for port in ports) and time.monotonic() < deadline:
            time.sleep(0.05)

    def revive(self) -> None:
        """Start the same server again after `kill`: same ports, same mail."""
        self._launch()

    def _launch(self) -> None:
        with open(self.log, "ab") as log:
            # -F keeps the master in the foreground: its pid is ours for sure.
            self._process = subprocess.Popen(
                [self.binary, "-F", "-c", str(self.config)], stdout=log, stderr=log
            )
        ports = [p for p in (self.imap_port, self.pop3_port, self.imaps_port, self.pop3s_port) if p]
        waiting = set(ports)
        deadline = time.monotonic() + 15
        while waiting:
            waiting = {port for port in waiting if not self._listening(port)}
            if self._process.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_text("utf-8", "replace")[-3000:]
                self.stop()
                pytest.fail(f"Dovecot {self.name} did not start; log:\n{tail}", pytrace=False)
            time.sleep(0.02)
        # Let the probes' "Disconnected" lines reach the log now, so that they
        # cannot be taken for a test's own connection later.
        while self.log_since(0).count("-login: Info: Disconnected") < len(ports):
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)

    @staticmethod
    def _listening(port: int) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return True
        return False

    def stop(self) -> None:
        """Stop this instance and its extras; each master takes ~1 s, so all at once."""
        instances = [self, *self._extras.values()]
        self._extras.clear()
        for instance in instances:
            instance._terminate()
        for instance in instances:
            instance._reap()

    def _terminate(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        # Signal only the master we started, after checking the pid file names it.
        recorded = self.pid_file.read_text().strip() if self.pid_file.exists() else ""
        if recorded and int(recorded) != process.pid:
            raise RuntimeError(f"{self.pid_file} names {recorded}, not our {process.pid}")
        process.send_signal(signal.SIGTERM)

    def _reap(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        shutil.rmtree(self.base, ignore_errors=True)

    def _render_config(self, uid: int, gid: int) -> str:
        base = self.base
        if self.tls:
            assert self.ca_file is not None
            dh = Path("/usr/share/dovecot/dh.pem")
            ssl_block = f"ssl = yes\nssl_cert = <{self.ca_file}\nssl_key = <{self.key_file}\n"
            if dh.exists():
                ssl_block += f"ssl_dh = <{dh}\n"
            unicode_passdb = (
                f"passdb {{\n  driver = passwd-file\n"
                f"  args = scheme=PLAIN username_format=%u {base / 'users'}\n}}\n"
            )
        else:
            ssl_block = "ssl = no\n"
            unicode_passdb = ""
        imap_listeners = (
            f"  inet_listener imap {{\n    address = 127.0.0.1\n    port = {self.imap_port}\n  }}\n"
        )
        pop3_listeners = (
            f"  inet_listener pop3 {{\n    address = 127.0.0.1\n    port = {self.pop3_port}\n  }}\n"
        )
        if self.imaps_port:
            imap_listeners += (
                f"  inet_listener imaps {{\n    address = 127.0.0.1\n"
                f"    port = {self.imaps_port}\n    ssl = yes\n  }}\n"
            )
        if self.alt_imaps_port:
            imap_listeners += (
                f"  inet_listener imaps_alt {{\n    address = {ALT_ADDRESS}\n"
                f"    port = {self.alt_imaps_port}\n    ssl = yes\n  }}\n"
            )
        if self.pop3s_port:
            pop3_listeners += (
                f"  inet_listener pop3s {{\n    address = 127.0.0.1\n"
                f"    port = {self.pop3s_port}\n    ssl = yes\n  }}\n"
            )
        capability = f"  imap_capability = {self.imap_capability}\n" if self.imap_capability else ""
        winbind = ""
        if "ntlm" in self.auth_mechanisms.split():
            # The helper runs as the auth process's user: root reads the test's virtualenv.
            winbind = (
                f"auth_use_winbind = yes\nauth_winbind_helper_path = {base / 'ntlm_auth'}\n"
                "service auth {\n  user = root\n}\n"
            )
        return f"""\
# Generated by tests/support/dovecot.py: a private test instance, loopback only.
instance_name = deskmail-test-{self.name}-{os.getpid()}
base_dir = {base}/run
state_dir = {base}/state
protocols = imap pop3
listen = 127.0.0.1
log_path = {self.log}
info_log_path = {self.log}
{ssl_block}
disable_plaintext_auth = no
auth_mechanisms = {self.auth_mechanisms}
{winbind}auth_failure_delay = 0
auth_verbose = yes
login_log_format_elements = user=<%u> method=%m rip=%r lip=%l %c session=<%{{session}}>

first_valid_uid = {uid}
last_valid_uid = {uid}
mail_home = {base}/mail/%u
mail_location = maildir:~/Maildir

namespace inbox {{
  inbox = yes
  separator = /
}}

{unicode_passdb}{self._oauth2_passdb()}passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} allow_all_users=yes
}}

service imap-login {{
{imap_listeners}}}
service pop3-login {{
{pop3_listeners}}}
service anvil {{
  # Without this socket the auth process applies no failure penalty: a wrong
  # password from 127.0.0.1 would otherwise delay every later login by up to 15 s.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
protocol imap {{
  mail_max_userip_connections = 1000
{capability}}}
protocol pop3 {{
  mail_max_userip_connections = 1000
}}
"""

    def _oauth2_passdb(self) -> str:
        if self.oauth2_key is None:
            return ""
        return (
            "passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
            f"  args = {self.base / 'dovecot-oauth2.conf.ext'}\n}}\n"
        )

    # ---- extra instances --------------------------------------------------

    @property
    def no_tls(self) -> Dovecot:
        """A second instance with `ssl = no`: it offers neither STARTTLS nor STLS."""
        return self.variant("notls")

    @property
    def spa(self) -> Dovecot:
        """A TLS-less instance that also offers CRAM-MD5 and NTLM (SPA)."""
        return self.variant("spa", auth_mechanisms=SPA_MECHANISMS)

    @property
    def spa_tls(self) -> Dovecot:
        """The same mechanisms with TLS ports and the test CA."""
        return self.variant("spatls", auth_mechanisms=SPA_MECHANISMS, tls=True)

    @property
    def oauth2(self) -> Dovecot:
        """A TLS instance that also takes OAuth2 bearer tokens (XOAUTH2, OAUTHBEARER),
        validated offline against `oauth2_key` (tests/support/identity.py signs with it)."""
        return self.variant(
            "oauth2", auth_mechanisms="plain login xoauth2 oauthbearer", tls=True, oauth2=True
        )

    def variant(
        self,
        name: str,
        *,
        imap_capability: str | None = None,
        auth_mechanisms: str = "plain login",
        tls: bool = False,
        oauth2: bool = False,
    ) -> Dovecot:
        """A lazily started instance (TLS-less unless told), e.g. with fewer IMAP capabilities."""
        if name not in self._extras:
            extra = Dovecot(
                self.binary,
                name,
                tls=tls,
                imap_capability=imap_capability,
                auth_mechanisms=auth_mechanisms,
                oauth2=oauth2,
            )
            self._extras[name] = extra
            extra.start()
        return self._extras[name]

    # ---- test helpers -----------------------------------------------------

    @staticmethod
    def user(prefix: str = "u") -> str:
        """A user name no other test uses: its mailbox starts empty."""
        return f"{prefix}{secrets.token_hex(5)}"

    def log_offset(self) -> int:
        return self.log.stat().st_size

    def log_since(self, offset: int) -> str:
        with open(self.log, "rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", "replace")

    def wait_for_log(self, offset: int, needle: str, timeout: float = 5.0) -> str:
        """The log written since offset, once it contains needle (Dovecot logs asynchronously)."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_since(offset)
            if needle in text or time.monotonic() > deadline:
                return text
            time.sleep(0.02)

    @contextlib.contextmanager
    def imap(self, user: str, folder: str | None = "INBOX") -> Iterator[IMAPClient]:
        """A logged-in imapclient session (plain port, no TLS), folder selected when given."""
        client = IMAPClient("127.0.0.1", self.imap_port, ssl=False, timeout=10)
        try:
            client.login(user, PASSWORD)
            if folder is not None:
                if not client.folder_exists(folder):
                    client.create_folder(folder)
                client.select_folder(folder)
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def append(
        self, user: str, raw: bytes, folder: str = "INBOX", flags: tuple[str, ...] = ()
    ) -> int:
        """Store one message (creating the folder if needed); returns its UID."""
        with self.imap(user, None) as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            response = client.append(folder, raw, flags=flags)
        match = _APPENDUID.search(response)
        assert match, f"no APPENDUID in {response!r}"
        return int(match.group(2))

    def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        with self.imap(user, None) as client:
            return int(client.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])

    def count(self, user: str, folder: str = "INBOX") -> int:
        """How many messages the folder holds, including ones flagged \\Deleted."""
        with self.imap(user, None) as client:
            if not client.folder_exists(folder):
                return 0
            return int(client.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"])

    def uids(self, user: str, folder: str = "INBOX") -> list[int]:
        with self.imap(user, folder) as client:
            return sorted(int(uid) for uid in client.search("ALL"))

    def flags(self, user: str, folder: str = "INBOX") -> dict[int, set[str]]:
        """Flags of every message by UID, as text: {3: {"\\\\Seen"}}."""
        with self.imap(user, folder) as client:
            uids = client.search("ALL")
            found = client.get_flags(uids) if uids else {}
        # \Recent belongs to whichever session saw the message first: not a stored flag.
        return {
            int(uid): {flag.decode() for flag in flags} - {"\\Recent"}
            for uid, flags in found.items()
        }

    def folders(self, user: str) -> set[str]:
        with self.imap(user, None) as client:
            return {name for _flags, _delimiter, name in client.list_folders()}

    def job(
        self, user: str, protocol: str = "imap", security: str = "ssl", **overrides: Any
    ) -> JobConfig:
        """A job for this server: the right port, the test CA trusted, short timeouts.

        The password is in the job (password = "secret") unless overrides give
        password_env or password_file; tests pass `dovecot.password` to the source.
        """
        proto, sec = Protocol(protocol), Security(security)
        implicit_tls = sec is Security.SSL
        if implicit_tls and not self.tls:
            raise ValueError(f"Dovecot {self.name} has no TLS ports")
        ports = {
            (Protocol.IMAP, False): self.imap_port,
            (Protocol.IMAP, True): self.imaps_port,
            (Protocol.POP3, False): self.pop3_port,
            (Protocol.POP3, True): self.pop3s_port,
        }
        fields: dict[str, Any] = {
            "name": f"test {protocol} {security}",
            "protocol": proto,
            "server": "127.0.0.1",
            "port": ports[(proto, implicit_tls)],
            "security": sec,
            "user": user,
            "ca_file": self.ca_file,
            "timeouts": Timeouts(connect=5, read=10),
        }
        if not {"password_env", "password_file"} & overrides.keys():
            fields["password"] = PASSWORD
        fields.update(overrides)
        return JobConfig(**fields)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """The private Dovecot of this test session (of this xdist worker)."""
    binary = _dovecot_binary()
    server = Dovecot(binary, "main", alt_address=True)
    try:
        server.start()
        yield server
    finally:
        server.stop()
