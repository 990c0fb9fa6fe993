"""A fake of Microsoft's identity platform (Entra ID) for the OAuth2 tests.

It speaks the documented wire format over HTTPS (tests/support/https.py), so
msal and Authlib run their real code against it:

- GET  /common/discovery/instance            instance discovery, as msal asks it
- GET  /{tenant}/v2.0/.well-known/openid-configuration
- POST /{tenant}/oauth2/v2.0/devicecode      the device-code flow's first step
- POST /{tenant}/oauth2/v2.0/token           client credentials (secret, or a certificate
                                             assertion whose RS256 signature is verified),
                                             device code (authorization_pending, then a
                                             token), refresh (rotated: the old one dies),
                                             invalid_grant, invalid_client, invalid_scope

Access tokens are HS256 JWTs that Dovecot's oauth2 passdb validates offline
(`Dovecot.oauth2`): the `email` claim is the mailbox the principal may open.
For an application that is the mailbox Exchange was told about
(`grant_mailbox`, i.e. New-ServicePrincipal + Add-MailboxPermission); without
it the token is valid and the login still fails, as in Exchange Online.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import traceback
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.support.https import HttpsServer

TENANT = "contoso.example"
CLIENT_CREDENTIALS = "client_credentials"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hs256_jwt(claims: dict[str, Any], key: bytes) -> str:
    """A signed JWT as Dovecot reads it: typ JWT, alg HS256, no kid."""
    header = b64url(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
    body = b64url(json.dumps(claims).encode())
    signing_input = f"{header}.{body}".encode("ascii")
    signature = hmac_sha256(key, signing_input)
    return f"{header}.{body}.{b64url(signature)}"


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    import hmac

    return hmac.new(key, data, hashlib.sha256).digest()


def jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified (tests look into what they were given)."""
    claims: dict[str, Any] = json.loads(b64url_decode(token.split(".")[1]))
    return claims


@dataclass
class App:
    """An app registration: a secret and/or a certificate, and what Exchange grants it."""

    client_id: str
    secret: str | None = None
    certificate: x509.Certificate | None = None
    public: bool = False  # "Allow public client flows": device code without a secret
    mailbox: str | None = None  # app-only: the mailbox permission Exchange holds for it


@dataclass
class DeviceSignIn:
    """A device code waiting for its person: `pending` more polls answer authorization_pending."""

    client_id: str
    scope: str
    user: str
    pending: int
    declined: bool = False


@dataclass
class AuthorizationCode:
    """An authorization code on its way back through the browser, with its PKCE challenge."""

    client_id: str
    redirect_uri: str
    challenge: str
    scope: str
    user: str
    nonce: str = ""  # OpenID Connect: echoed in the id token


@dataclass
class Grant:
    """What a refresh token stands for."""

    client_id: str
    user: str
    scope: str


@dataclass
class IdentityPlatform:
    """The fake's state; tests arrange it and look into it."""

    url: str = ""
    ca_file: Path | None = None  # the fake's certificate: a job's ca_file
    tenant: str = TENANT
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))  # shared with Dovecot
    apps: dict[str, App] = field(default_factory=dict)
    device_user: str = "agent@contoso.example"  # who signs in at the device-code page
    device_pending: int = 1  # polls answered authorization_pending before success
    access_lifetime: int = 3599
    refresh_delay: float = 0.0  # seconds a refresh takes after the old token was spent
    advertise_device_code: bool = True  # the metadata names the device authorization endpoint
    interval: int = 1
    devices: dict[str, DeviceSignIn] = field(default_factory=dict)
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    refresh_tokens: dict[str, Grant] = field(default_factory=dict)
    issued: list[str] = field(default_factory=list)  # every access token, for greps
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    user_agents: list[str] = field(default_factory=list)  # which HTTP client asked, per request
    grant_types: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # ---- arranging ---------------------------------------------------------

    def register(self, client_id: str | None = None, **settings: Any) -> App:
        app = App(client_id or str(_uuid()), **settings)
        self.apps[app.client_id] = app
        return app

    def grant_mailbox(self, client_id: str, mailbox: str) -> None:
        """New-ServicePrincipal + Add-MailboxPermission: the app may open this mailbox."""
        self.apps[client_id].mailbox = mailbox

    def revoke_refresh_tokens(self) -> None:
        """An admin revoked the sessions (or consent): every refresh token is refused."""
        with self.lock:
            self.refresh_tokens.clear()

    # ---- the wire ------------------------------------------------------------

    @property
    def issuer(self) -> str:
        return f"{self.url}/{self.tenant}/v2.0"

    def endpoint(self, name: str) -> str:
        return f"{self.url}/{self.tenant}/oauth2/v2.0/{name}"

    def openid_configuration(self) -> dict[str, Any]:
        metadata = self._metadata()
        if not self.advertise_device_code:
            del metadata["device_authorization_endpoint"]
        return metadata

    def _metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.endpoint("authorize"),
            "token_endpoint": self.endpoint("token"),
            "device_authorization_endpoint": self.endpoint("devicecode"),
            "jwks_uri": f"{self.url}/{self.tenant}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "tenant_region_scope": "EU",
        }

    def access_token(self, subject: str, audience: str, email: str | None, **extra: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": f"https://sts.windows.net/{self.tenant}/",
            "iat": now,
            "nbf": now,
            "exp": now + self.access_lifetime,
            "sub": subject,
            "tid": self.tenant,
            "uti": secrets.token_urlsafe(16),  # each token unique, as Entra ID's are
            **extra,
        }
        if email is not None:
            claims["email"] = email
        token = hs256_jwt(claims, self.key)
        self.issued.append(token)
        return token

    def id_token(self, client_id: str, user: str, nonce: str = "") -> str:
        now = int(time.time())
        claims = {
            "aud": client_id,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "oid": _uuid(user),
            "sub": _uuid(user + client_id),
            "tid": self.tenant,
            "preferred_username": user,
            "name": user.split("@")[0].title(),
            "ver": "2.0",
        }
        if nonce:
            claims["nonce"] = nonce
        return f"{b64url(b'{}')}.{b64url(json.dumps(claims).encode())}.{b64url(b'unsigned')}"


def make_certificate(directory: Path, name: str = "app") -> tuple[Path, x509.Certificate]:
    """An RSA key and its self-signed certificate in one PEM file, as an app credential."""
    import datetime

    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"deskmail {name}")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=20))
        .sign(key, hashes.SHA256())
    )
    path = directory / f"{name}.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        + certificate.public_bytes(serialization.Encoding.PEM)
    )
    path.chmod(0o600)
    return path, certificate


def _uuid(seed: str | None = None) -> str:
    raw = hashlib.sha256(seed.encode()).digest() if seed else secrets.token_bytes(16)
    text = raw[:16].hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:32]}"


class _Refusal(Exception):
    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(error)
        self.status, self.error, self.code, self.description = status, error, code, description


class IdentityHandler(BaseHTTPRequestHandler):
    platform: ClassVar[IdentityPlatform]

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        self.platform.requests.append(("GET", path))
        self.platform.user_agents.append(self.headers.get("User-Agent", ""))
        platform = self.platform
        if path == "/common/discovery/instance":
            params = urllib.parse.parse_qs(query)
            authorize = params.get("authorization_endpoint", [""])[0]
            tenant = urllib.parse.urlsplit(authorize).path.strip("/").split("/")[0]
            host = urllib.parse.urlsplit(platform.url).netloc
            self._json(
                200,
                {
                    "tenant_discovery_endpoint": (
                        f"{platform.url}/{tenant}/v2.0/.well-known/openid-configuration"
                    ),
                    "api-version": "1.1",
                    "metadata": [
                        {"preferred_network": host, "preferred_cache": host, "aliases": [host]}
                    ],
                },
            )
        elif path == f"/{platform.tenant}/oauth2/v2.0/authorize":
            self._authorize(urllib.parse.parse_qs(query))
        elif path == f"/{platform.tenant}/v2.0/.well-known/openid-configuration":
            self._json(200, platform.openid_configuration())
        elif path.endswith("/v2.0/.well-known/openid-configuration"):
            tenant = path.split("/")[1]
            self._error(
                _Refusal(
                    400,
                    "invalid_tenant",
                    90002,
                    f"Tenant '{tenant}' not found. Check to make sure you have the correct"
                    " tenant ID and are signing into the correct cloud.",
                )
            )
        else:
            self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        path = self.path.partition("?")[0]
        self.platform.requests.append(("POST", path))
        self.platform.user_agents.append(self.headers.get("User-Agent", ""))
        length = int(self.headers.get("Content-Length") or 0)
        form = {
            key: values[0]
            for key, values in urllib.parse.parse_qs(self.rfile.read(length).decode()).items()
        }
        try:
            if path == f"/{self.platform.tenant}/oauth2/v2.0/devicecode":
                self._json(200, self._device_code(form))
            elif path == f"/{self.platform.tenant}/oauth2/v2.0/token":
                self._json(200, self._token(form))
            else:
                self._json(404, {"error": "not_found"})
        except _Refusal as refusal:
            self._error(refusal)
        except Exception:  # a bug of the fake: shown in the test's output, answered 500
            traceback.print_exc()
            self._json(500, {"error": "server_error"})

    def _authorize(self, params: dict[str, list[str]]) -> None:
        """The browser's sign-in page, already consented: straight back with a code."""
        asked = {key: values[0] for key, values in params.items()}
        platform = self.platform
        redirect = asked.get("redirect_uri", "")
        if asked.get("client_id") not in platform.apps or not redirect.startswith(
            "http://127.0.0.1:"
        ):
            self._json(400, {"error": "invalid_request"})
            return
        if asked.get("code_challenge_method") != "S256" or not asked.get("code_challenge"):
            self._json(400, {"error": "invalid_request", "error_description": "PKCE required"})
            return
        code = secrets.token_urlsafe(24)
        with platform.lock:
            platform.codes[code] = AuthorizationCode(
                asked["client_id"],
                redirect,
                asked["code_challenge"],
                asked.get("scope", ""),
                platform.device_user,
                asked.get("nonce", ""),
            )
        answer = {"code": code, "state": asked.get("state", "")}
        if asked.get("response_mode") == "form_post":  # a page that posts the answer back
            fields = "".join(
                f'<input type="hidden" name="{name}" value="{value}"/>'
                for name, value in answer.items()
            )
            page = (
                f'<html><body onload="document.forms[0].submit()"><form method="post"'
                f' action="{redirect}">{fields}</form></body></html>'
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        query = urllib.parse.urlencode(answer)
        self.send_response(302)
        self.send_header("Location", f"{redirect}?{query}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    # ---- the token endpoint ----------------------------------------------------

    def _device_code(self, form: dict[str, str]) -> dict[str, Any]:
        platform = self.platform
        app = self._app(form)
        if not app.public:
            raise _Refusal(
                400,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion'"
                " or 'client_secret'.",
            )
        code = secrets.token_urlsafe(24)
        user_code = secrets.token_hex(4).upper()
        with platform.lock:
            platform.devices[code] = DeviceSignIn(
                app.client_id, form.get("scope", ""), platform.device_user, platform.device_pending
            )
        return {
            "user_code": user_code,
            "device_code": code,
            "verification_uri": "https://microsoft.com/devicelogin",
            "expires_in": 900,
            "interval": platform.interval,
            "message": "To sign in, use a web browser to open the page"
            f" https://microsoft.com/devicelogin and enter the code {user_code} to authenticate.",
        }

    def _token(self, form: dict[str, str]) -> dict[str, Any]:
        grant_type = form.get("grant_type", "")
        self.platform.grant_types.append(grant_type)
        if grant_type == CLIENT_CREDENTIALS:
            return self._client_credentials(form)
        if grant_type == DEVICE_CODE:
            return self._device_token(form)
        if grant_type == "refresh_token":
            return self._refresh(form)
        if grant_type == "authorization_code":
            return self._code_token(form)
        raise _Refusal(
            400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
        )

    def _app(self, form: dict[str, str]) -> App:
        client_id = form.get("client_id", "")
        basic = self.headers.get("Authorization", "")
        if basic.startswith("Basic "):  # client_secret_basic (Authlib's default)
            pair = base64.b64decode(basic[6:]).decode()
            client_id, _, secret = pair.partition(":")
            form["client_id"], form["client_secret"] = (
                urllib.parse.unquote(client_id),
                urllib.parse.unquote(secret),
            )
            client_id = form["client_id"]
        app = self.platform.apps.get(client_id)
        if app is None:
            raise _Refusal(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory"
                f" '{self.platform.tenant}'.",
            )
        return app

    def _authenticate(self, app: App, form: dict[str, str]) -> None:
        """A confidential client proves itself with its secret or a signed assertion."""
        if "client_assertion" in form:
            if form.get("client_assertion_type") != ASSERTION_TYPE:
                raise _Refusal(400, "invalid_request", 90018, "Invalid client_assertion_type.")
            self._check_assertion(app, form["client_assertion"])
            return
        secret = form.get("client_secret")
        if secret is None:
            raise _Refusal(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion'"
                " or 'client_secret'.",
            )
        if app.secret is None or not secrets.compare_digest(secret, app.secret):
            raise _Refusal(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request"
                f" is the client secret value, not the client secret ID, for a secret added"
                f" to app '{app.client_id}'.",
            )

    def _check_assertion(self, app: App, assertion: str) -> None:
        refusal = _Refusal(
            401,
            "invalid_client",
            700027,
            "Client assertion failed signature validation.",
        )
        if app.certificate is None:
            raise refusal
        try:
            head, body, signature = assertion.split(".")
            header = json.loads(b64url_decode(head))
            claims = json.loads(b64url_decode(body))
            public_key = app.certificate.public_key()
            assert isinstance(public_key, rsa.RSAPublicKey)
            scheme: padding.AsymmetricPadding = (
                padding.PSS(padding.MGF1(hashes.SHA256()), 32)  # msal >= 1.35
                if header.get("alg") == "PS256"
                else padding.PKCS1v15()
            )
            public_key.verify(
                b64url_decode(signature), f"{head}.{body}".encode("ascii"), scheme, hashes.SHA256()
            )
        except Exception:
            raise refusal from None
        thumbprints = {
            "x5t": b64url(app.certificate.fingerprint(hashes.SHA1())),
            "x5t#S256": b64url(app.certificate.fingerprint(hashes.SHA256())),
        }
        if not any(
            str(header.get(name, "")).rstrip("=") == value for name, value in thumbprints.items()
        ):
            raise _Refusal(
                401,
                "invalid_client",
                700027,
                "The certificate with identifier used to sign the client assertion is not"
                " registered on application.",
            )
        if claims.get("aud") != self.platform.endpoint("token"):
            raise _Refusal(401, "invalid_client", 700024, "Client assertion audience is wrong.")
        if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
            raise _Refusal(401, "invalid_client", 700021, "Client assertion issuer is wrong.")
        if int(claims.get("exp", 0)) < time.time():
            raise _Refusal(401, "invalid_client", 700024, "Client assertion is expired.")

    def _client_credentials(self, form: dict[str, str]) -> dict[str, Any]:
        app = self._app(form)
        self._authenticate(app, form)
        scope = form.get("scope", "")
        scopes = scope.split()
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            raise _Refusal(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows"
                " must have a scope value with /.default suffixed to the resource identifier"
                " (application ID URI).",
            )
        audience = scopes[0].removesuffix("/.default")
        token = self.platform.access_token(
            _uuid("sp" + app.client_id),
            audience,
            app.mailbox,
            appid=app.client_id,
            roles=["IMAP.AccessAsApp", "POP.AccessAsApp", "Mail.ReadWrite"],
        )
        return {
            "token_type": "Bearer",
            "expires_in": self.platform.access_lifetime,
            "ext_expires_in": self.platform.access_lifetime,
            "access_token": token,
        }

    def _device_token(self, form: dict[str, str]) -> dict[str, Any]:
        platform = self.platform
        with platform.lock:
            sign_in = platform.devices.get(form.get("device_code", ""))
            if sign_in is None:
                raise _Refusal(
                    400,
                    "expired_token",
                    70020,
                    "The provided value for the code parameter is expired or not found.",
                )
            if sign_in.declined:
                raise _Refusal(400, "authorization_declined", 70000, "The user declined.")
            if sign_in.pending > 0:
                sign_in.pending -= 1
                raise _Refusal(
                    400,
                    "authorization_pending",
                    70016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                )
            del platform.devices[form["device_code"]]
        return self._user_tokens(Grant(sign_in.client_id, sign_in.user, sign_in.scope))

    def _code_token(self, form: dict[str, str]) -> dict[str, Any]:
        app = self._app(form)
        if not app.public:
            self._authenticate(app, form)
        with self.platform.lock:
            code = self.platform.codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        expected = b64url(hashlib.sha256(verifier.encode()).digest())
        if (
            code is None
            or code.client_id != app.client_id
            or code.redirect_uri != form.get("redirect_uri")
            or code.challenge != expected
        ):
            raise _Refusal(
                400,
                "invalid_grant",
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the"
                " authorization request, or the code was used or is unknown.",
            )
        return self._user_tokens(Grant(app.client_id, code.user, code.scope), code.nonce)

    def _refresh(self, form: dict[str, str]) -> dict[str, Any]:
        app = self._app(form)
        if not app.public:
            self._authenticate(app, form)
        platform = self.platform
        with platform.lock:
            grant = platform.refresh_tokens.pop(form.get("refresh_token", ""), None)
        time.sleep(platform.refresh_delay)  # a slow answer: the old token is already dead
        if grant is None or grant.client_id != app.client_id:
            raise _Refusal(
                400,
                "invalid_grant",
                50173,
                "The provided grant has expired due to it being revoked, a fresh auth token"
                " is needed. The user might have changed or reset their password.",
            )
        return self._user_tokens(grant)

    def _user_tokens(self, grant: Grant, nonce: str = "") -> dict[str, Any]:
        platform = self.platform
        asked = [s for s in grant.scope.split() if s not in ("openid", "profile", "offline_access")]
        audience = asked[0].rsplit("/", 1)[0] if asked and "/" in asked[0] else "00000003"
        refresh = secrets.token_urlsafe(32)
        with platform.lock:
            platform.refresh_tokens[refresh] = grant
        client_info = {"uid": _uuid(grant.user), "utid": platform.tenant}
        return {
            "token_type": "Bearer",
            "scope": " ".join(asked),
            "expires_in": platform.access_lifetime,
            "ext_expires_in": platform.access_lifetime,
            "access_token": platform.access_token(
                _uuid(grant.user + grant.client_id),
                audience,
                grant.user,
                upn=grant.user,
                scp=" ".join(s.rsplit("/", 1)[-1] for s in asked),
                appid=grant.client_id,
            ),
            "refresh_token": refresh,
            "id_token": platform.id_token(grant.client_id, grant.user, nonce),
            "client_info": b64url(json.dumps(client_info).encode()),
        }

    # ---- answers ---------------------------------------------------------------

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store, no-cache")
        self.end_headers()
        self.wfile.write(data)

    def _error(self, refusal: _Refusal) -> None:
        trace = _uuid()
        self._json(
            refusal.status,
            {
                "error": refusal.error,
                "error_description": f"AADSTS{refusal.code}: {refusal.description}"
                f" Trace ID: {trace} Correlation ID: {_uuid()} Timestamp: 2026-12-07 04:00:00Z",
                "error_codes": [refusal.code],
                "timestamp": "2026-12-07 04:00:00Z",
                "trace_id": trace,
                "correlation_id": _uuid(),
            },
        )


@contextmanager
def identity_platform(directory: Path) -> Iterator[IdentityPlatform]:
    """A running fake identity platform; `platform.url` is the authority's base URL."""
    platform = IdentityPlatform()
    handler = type("BoundIdentityHandler", (IdentityHandler,), {"platform": platform})
    server = HttpsServer(handler, directory).start()
    platform.url = server.url
    platform.ca_file = server.ca_file
    try:
        yield platform
    finally:
        server.stop()
