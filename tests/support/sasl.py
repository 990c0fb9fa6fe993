"""Records what the SASL mechanisms answered, to prove none of it reaches a log."""

from __future__ import annotations

import base64
from collections.abc import Callable

from deskmail.config.models import AuthMechanism
from deskmail.sources.sasl import SaslClient

Factory = Callable[[AuthMechanism, str, str], SaslClient]


class _Recording:
    def __init__(self, client: SaslClient, answers: list[bytes]) -> None:
        self.name = client.name
        self._client = client
        self._answers = answers

    def respond(self, challenge: bytes) -> bytes:
        answer = self._client.respond(challenge)
        self._answers.append(answer)
        return answer


class AnswerRecorder:
    """Wraps `sasl_client` (monkeypatched into an adapter) and keeps every answer given."""

    def __init__(self) -> None:
        self.answers: list[bytes] = []
        self.users: list[str] = []

    def wrap(self, factory: Factory) -> Factory:
        def recording(mechanism: AuthMechanism, user: str, secret: str) -> SaslClient:
            self.users.append(user)
            return _Recording(factory(mechanism, user, secret), self.answers)

        return recording


def leaked_answers(recorder: AnswerRecorder, text: str) -> list[str]:
    """Each answer found in text: raw, as Python prints bytes, or in base64.

    A bare user name (LOGIN's first answer) is no secret and is left out.
    """
    users = {user.encode() for user in recorder.users}
    found: list[str] = []
    for answer in recorder.answers:
        if answer in users:
            continue
        forms = (base64.b64encode(answer).decode(), repr(answer)[2:-1], answer.decode("latin-1"))
        found += [form for form in forms if form in text]
    return found
