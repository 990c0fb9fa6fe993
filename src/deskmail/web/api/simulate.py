"""POST /api/v1/rules/simulate: what `deskmail explain` says of a mail, as data.

The mail is an uploaded .eml (multipart field `eml`) or a message deskmail keeps
(field `message`: "quarantined:12" or "attachment:34"). Nothing is written.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import File, Form, Request, UploadFile
from pydantic import BaseModel

from deskmail.config.fate import Fate
from deskmail.report.explain import Explanation
from deskmail.store.engine import Store
from deskmail.web.api.resource import resource_router
from deskmail.web.context import context_of
from deskmail.web.problems import field_problem
from deskmail.web.queries.jobs import job_named
from deskmail.web.queries.simulation import MAX_EML_BYTES, MessageRef, raw_of, simulate
from deskmail.web.security.roles import ApiAdmin

router = resource_router(prefix="/rules", tags=["rules"])


class PersonOut(BaseModel):
    name: str
    logon: str | None
    site: str | None


class StepOut(BaseModel):
    step: str
    decided: str  # empty when the step let the mail pass unchanged


class FieldOut(BaseModel):
    name: str
    value: str


class OutcomeOut(BaseModel):
    fate: Fate
    headline: str
    fields: list[FieldOut]
    problems: list[str]


class AttachmentOut(BaseModel):
    keep: bool
    text: str


class SimulationOut(BaseModel):
    """The result of `deskmail explain`, section by section, in its order."""

    job: str
    sender: str | None
    known_person: PersonOut | None
    subject: str
    message_id: str | None
    parser_defects: list[str]
    preprocessing_fired: list[str]
    text_after_preprocessing: list[str]
    threading: str
    rules_matched: list[str]
    rule_reasons: list[str]
    extracted: list[str]  # what the rules' named groups set, a line each
    steps: list[StepOut]
    outcome: OutcomeOut
    attachments: list[AttachmentOut]
    changed: bool = False  # a simulation never writes

    @classmethod
    def of(cls, found: Explanation) -> SimulationOut:
        person = found.person
        return cls(
            job=found.job,
            sender=found.sender,
            known_person=PersonOut(name=person.name, logon=person.logon, site=person.site)
            if person
            else None,
            subject=found.subject,
            message_id=found.message_id,
            parser_defects=found.defects,
            preprocessing_fired=found.preprocessing_fired,
            text_after_preprocessing=found.text_after,
            threading=found.threading,
            rules_matched=found.rules_matched,
            rule_reasons=found.rule_reasons,
            extracted=found.extracted,
            steps=[StepOut(step=s.step, decided=s.decided) for s in found.steps],
            outcome=OutcomeOut(
                fate=found.outcome.fate,
                headline=found.outcome.headline,
                fields=[FieldOut(name=n, value=v) for n, v in found.outcome.fields],
                problems=found.outcome.problems,
            ),
            attachments=[AttachmentOut(keep=a.keep, text=a.text) for a in found.attachments],
        )


@router.post("/simulate", summary="What the rules would do with a mail (nothing is written)")
async def simulate_mail(
    request: Request,
    user: ApiAdmin,
    eml: Annotated[UploadFile | None, File(description="the mail, as an .eml file")] = None,
    message: Annotated[
        str | None,
        Form(max_length=100, description='a kept message: "quarantined:ID" or "attachment:ID"'),
    ] = None,
    job: Annotated[
        str | None, Form(max_length=200, description="the job (default: the first enabled)")
    ] = None,
) -> SimulationOut:
    context = context_of(request)
    raw = await mail_bytes(context.store, eml, message, where="body")
    chosen = job_named(context.config, context.store, job)
    if chosen is None:
        raise field_problem(422, "body.job", f"no job named {job!r}" if job else "no job exists")
    return SimulationOut.of(simulate(context.store, chosen, raw))


async def mail_bytes(
    store: Store, eml: UploadFile | None, message: str | None, *, where: str
) -> bytes:
    """The mail to simulate, from an upload or a reference; a problem naming the field."""
    if (eml is None or not eml.filename) == (not message):
        raise field_problem(422, f"{where}.eml", "send either an .eml file or a message reference")
    if eml is not None and eml.filename:
        raw = await eml.read(MAX_EML_BYTES + 1)
        if len(raw) > MAX_EML_BYTES:
            raise field_problem(422, f"{where}.eml", f"is over {MAX_EML_BYTES:,} bytes")
        if not raw.strip():
            raise field_problem(422, f"{where}.eml", "is empty")
        return raw
    ref = MessageRef.parse(message or "")
    if ref is None:
        raise field_problem(422, f"{where}.message", 'is not "quarantined:ID" or "attachment:ID"')
    with store.session() as session:
        found = raw_of(session, store.blobs, ref)
    if found is None:
        raise field_problem(404, f"{where}.message", f"no kept message {ref.token}")
    return found
