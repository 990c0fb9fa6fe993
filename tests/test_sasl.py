"""The SASL answers, checked against the RFCs' examples and a real NTLM acceptor (pyspnego's)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import spnego

from deskmail.config.models import AuthMechanism
from deskmail.sources.sasl import SaslError, sasl_client, sasl_name


def test_every_mechanism_but_auto_has_a_client_named_as_servers_announce_it() -> None:
    for mechanism in AuthMechanism:
        if mechanism is AuthMechanism.AUTO:
            continue
        assert sasl_client(mechanism, "u", "p").name == sasl_name(mechanism)
    assert sasl_name(AuthMechanism.CRAM_MD5) == "CRAM-MD5"


def test_plain_is_one_answer_in_utf8() -> None:
    client = sasl_client(AuthMechanism.PLAIN, "tim", "pässwörd")
    assert client.respond(b"") == b"\0tim\0p\xc3\xa4ssw\xc3\xb6rd"


def test_login_answers_the_user_then_the_password_then_gives_up() -> None:
    client = sasl_client(AuthMechanism.LOGIN, "tim", "secret")
    assert client.respond(b"Username:") == b"tim"
    assert client.respond(b"Password:") == b"secret"
    with pytest.raises(SaslError, match="more than the user name and the password"):
        client.respond(b"Again:")


def test_cram_md5_matches_the_example_of_rfc_2195() -> None:
    client = sasl_client(AuthMechanism.CRAM_MD5, "tim", "tanstaaftanstaaf")
    answer = client.respond(b"<1896.697170952@postoffice.reston.mci.net>")
    assert answer == b"tim b913a602c7eda7a495b4e6e7334d3890"


def test_cram_md5_refuses_an_empty_challenge() -> None:
    with pytest.raises(SaslError, match="empty challenge"):
        sasl_client(AuthMechanism.CRAM_MD5, "tim", "secret").respond(b"")


def _acceptor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> spnego.ContextProxy:
    users = tmp_path / "ntlm-users"
    users.write_text("DESK:spa-user:secret\n:spa-user:secret\n")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))
    return spnego.server(protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm)


@pytest.mark.parametrize("user", ["spa-user", "DESK\\spa-user"])
def test_ntlm_is_accepted_by_an_ntlm_acceptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user: str
) -> None:
    server = _acceptor(tmp_path, monkeypatch)
    client = sasl_client(AuthMechanism.NTLM, user, "secret")
    negotiate = client.respond(b"")  # the server's first, empty challenge
    assert negotiate.startswith(b"NTLMSSP\0\x01")
    authenticate = client.respond(server.step(negotiate) or b"")
    assert authenticate.startswith(b"NTLMSSP\0\x03")
    assert b"secret" not in authenticate and "secret".encode("utf-16-le") not in authenticate
    server.step(authenticate)
    assert server.complete
    assert server.client_principal == user
    with pytest.raises(SaslError, match="asked again"):
        client.respond(b"more")


def test_ntlm_with_a_wrong_password_is_refused_by_the_acceptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = _acceptor(tmp_path, monkeypatch)
    client = sasl_client(AuthMechanism.NTLM, "spa-user", "wrong")
    authenticate = client.respond(server.step(client.respond(b"")) or b"")
    with pytest.raises(spnego.exceptions.SpnegoError):
        server.step(authenticate)


def test_ntlm_refuses_a_challenge_it_cannot_read() -> None:
    client = sasl_client(AuthMechanism.NTLM, "spa-user", "secret")
    client.respond(b"")
    with pytest.raises(SaslError, match="NTLM: the server's challenge was not understood"):
        client.respond(b"not an NTLM message")


def test_only_an_ntlm_job_imports_pyspnego() -> None:
    # Start-up time of a run on an IMAP job is benchmarked: 170 ms of imports stay out of it.
    probe = textwrap.dedent(
        """
        import sys
        import deskmail.sources.imap, deskmail.sources.pop3
        from deskmail.config.models import AuthMechanism
        from deskmail.sources.sasl import sasl_client
        for mechanism in ("plain", "login", "cram-md5"):
            sasl_client(AuthMechanism(mechanism), "u", "p").respond(b"x")
        print("spnego" in sys.modules)
        sasl_client(AuthMechanism.NTLM, "u", "p")
        print("spnego" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]


def test_xoauth2_is_the_user_and_the_bearer_token_then_an_empty_answer_to_an_error() -> None:
    client = sasl_client(AuthMechanism.XOAUTH2, "shared@contoso.example", "ey.token")
    assert client.respond(b"") == b"user=shared@contoso.example\x01auth=Bearer ey.token\x01\x01"
    # A refusal arrives as a challenge with the server's JSON: the answer is empty.
    assert client.respond(b'{"status":"401"}') == b""
