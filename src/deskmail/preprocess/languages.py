"""What mail clients write around a reply, per language.

Each entry is a regex fragment (matched case-insensitively). The built-in
rules (builtins/) combine one field across every language, so a German
Outlook header is found in a mail whose reply is English, as happens in
mixed teams.

The vocabulary was collected from the clients themselves and checked
against mail-parser-reply's MAIL_LANGUAGES and the test fixtures of talon,
quotequail, email_reply_parser and its ports. For the languages written
in other scripts, mail-parser-reply's own attribution patterns are used as
they are (see MAILPARSER_REPLY_ATTRIBUTIONS).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mailparser_reply.constants import MAIL_LANGUAGES

# "iPhone", "Samsung Galaxy S21 Ultra", "BlackBerry 10": a few words, no sentence.
_DEVICE = r"\w[\w.'’&+®™()/-]*(?: [\w.'’&+®™()/-]+){0,4}"


@dataclass(frozen=True, slots=True)
class Language:
    code: str
    # "On <date>, <name> wrote:": the words that open it and the verb that ends it;
    # name_verbs come before the sender instead ("Am <date> schrieb <name>:").
    leads: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    name_verbs: tuple[str, ...] = ()
    # Outlook's header block: "From:" then "Sent:", "To:", "Subject:" ...
    header_from: tuple[str, ...] = ()
    header_date: tuple[str, ...] = ()
    header_other: tuple[str, ...] = ()
    # "-----Original Message-----" (Outlook) / "-------- Original Message --------" (Thunderbird)
    original_message: tuple[str, ...] = ()
    # "---------- Forwarded message ---------" and Apple Mail's "Begin forwarded message:"
    forwarded: tuple[str, ...] = ()
    forwarded_intro: tuple[str, ...] = ()
    # Whole-line footers added by phone apps: "Sent from my iPhone".
    mobile: tuple[str, ...] = ()
    # How confidentiality notices open.
    disclaimers: tuple[str, ...] = ()


LANGUAGES: tuple[Language, ...] = (
    Language(
        "en",
        leads=("On",),
        verbs=("wrote", "writes", "sent"),
        header_from=("From",),
        header_date=("Sent", "Date"),
        header_other=("To", "Cc", "Bcc", "Subject", "Reply-To", "Importance"),
        original_message=("Original Message", "Reply Message"),
        forwarded=("Forwarded message", "Forwarded e-?mail"),
        forwarded_intro=("Begin forwarded message:",),
        mobile=(
            rf"Sent from my {_DEVICE}",
            r"Sent (?:from|with|via|using) (?!my\b)[A-Z][\w.-]*(?: [\w.-]+){0,5}?",
            r"Get Outlook for (?:iOS|Android)",
        ),
        disclaimers=(
            r"CONFIDENTIALITY(?: NOTICE| NOTE| STATEMENT)?\s*:?",
            r"(?:LEGAL )?DISCLAIMER\s*:",
            r"(?:IMPORTANT|PRIVILEGED)(?: AND CONFIDENTIAL)?\s*(?:NOTICE|NOTE)\s*:",
            r"This (?:e-?mail|message|communication|transmission)(?: message)?"
            r"(?:,? (?:and|including) (?:any|all) (?:of )?(?:its |the )?(?:attachments?|files?)"
            r"(?: (?:to|with) it)?,?)?"
            r" (?:is|are|may be|may contain|contains?|is intended)"
            r"(?: (?:strictly|only|solely|privileged and))?"
            r" (?:confidential|privileged|for the (?:sole|exclusive) use|intended)",
            r"The (?:information|content) (?:contained )?in this"
            r" (?:e-?mail|message|communication)(?: and any attachments?)?"
            r" (?:is|are|may be) (?:strictly )?(?:confidential|privileged)",
            r"If you (?:are not|have received this (?:e-?mail|message) in error)",
        ),
    ),
    Language(
        "de",
        leads=("Am",),
        verbs=("schrieb", "geschrieben"),
        name_verbs=("schrieb",),
        header_from=("Von",),
        header_date=("Gesendet", "Datum"),
        header_other=("An", "Cc", "Kopie", "Betreff", "Wichtigkeit"),
        original_message=(
            "Ursprüngliche Nachricht",
            "Original-?Nachricht",
            "Antwort Nachricht",
        ),
        forwarded=("Weitergeleitete (?:Nachricht|Mitteilung|E-Mail)",),
        forwarded_intro=("Anfang der weitergeleiteten (?:Nachricht|E-Mail):",),
        mobile=(
            rf"Von meinem {_DEVICE} gesendet",
            rf"Gesendet (?:von|mit|über) (?:meinem |der |dem )?{_DEVICE}",
            r"(?:Holen Sie sich|Hol dir) Outlook für (?:iOS|Android)",
            r"Outlook für (?:iOS|Android) (?:beziehen|herunterladen)",
        ),
        disclaimers=(
            r"Diese (?:E-?Mail|Nachricht)(?: und (?:alle|etwaige|ihre) Anh(?:ä|ae)nge)?"
            r" (?:enth(?:ä|ae)lt|enthalten|kann|k(?:ö|oe)nnen|ist|sind) [^\n]{0,40}?vertraulich",
            r"Der Inhalt dieser (?:E-?Mail|Nachricht) ist vertraulich",
            r"Vertraulichkeitshinweis\s*:?",
            r"Wichtiger Hinweis\s*:",
        ),
    ),
    Language(
        "fr",
        leads=("Le",),
        verbs=("a écrit", "a ecrit"),
        header_from=("De",),
        header_date=("Envoyé(?: le)?", "Envoye(?: le)?", "Date", "Message du"),
        header_other=("À", "A", "Cc", "Copie à", "Objet", "Sujet"),
        original_message=("Message d'origine", "Message original"),
        forwarded=("Message transféré", "Message transmis"),
        forwarded_intro=("Début du message (?:réexpédié|transféré|transmis) ?:",),
        mobile=(
            rf"Envoyé (?:de|depuis) mon {_DEVICE}",
            rf"Envoyé (?:à partir|depuis) (?:de )?{_DEVICE}",
            r"(?:Télécharger|Obtenir|Obtenez) Outlook pour (?:iOS|Android)",
        ),
        disclaimers=(
            r"Ce (?:message|courriel|e-?mail|mail)(?: électronique)?"
            r"(?: et (?:ses|toutes les|les|tous ses|ses éventuelles) pièces jointes)?"
            r" (?:est|sont|peu(?:ven)?t contenir|contien(?:nen)?t)[^\n]{0,40}?confidenti",
            r"Avis de confidentialité\s*:?",
            r"AVERTISSEMENT\s*:",
        ),
    ),
    Language(
        "es",
        leads=("El",),
        verbs=("escribió", "escribio"),
        header_from=("De",),
        header_date=("Enviado(?: el)?", "Fecha"),
        header_other=("Para", "CC", "CCO", "Asunto"),
        original_message=("Mensaje original",),
        forwarded=("Mensaje reenviado",),
        forwarded_intro=("Inicio del mensaje reenviado:",),
        mobile=(
            rf"Enviado desde mi {_DEVICE}",
            rf"Enviado desde {_DEVICE}",
            r"(?:Obtener|Descargar) Outlook para (?:iOS|Android)",
        ),
        disclaimers=(
            r"Este (?:correo|mensaje|e-?mail)(?: electrónico)?"
            r"(?: y (?:sus|los|cualquier) (?:anexos|adjuntos|archivos adjuntos))?"
            r" (?:es|son|contiene|puede contener|va dirigido)[^\n]{0,40}?"
            r"(?:confidencial|exclusivamente)",
            r"AVISO (?:DE CONFIDENCIALIDAD|LEGAL)\s*:?",
        ),
    ),
    Language(
        "it",
        leads=("Il", "In data"),
        verbs=("ha scritto",),
        header_from=("Da",),
        header_date=("Inviato", "Data"),
        header_other=("A", "Cc", "Oggetto"),
        original_message=("Messaggio originale",),
        forwarded=("Messaggio inoltrato",),
        forwarded_intro=("Inizio messaggio inoltrato:",),
        mobile=(
            rf"Inviato da(?:l mio)? {_DEVICE}",
            r"(?:Scarica|Ottieni) Outlook per (?:iOS|Android)",
        ),
        disclaimers=(
            r"Le informazioni contenute (?:in questo|nel presente) (?:messaggio|e-?mail)",
            r"Questo (?:messaggio|e-?mail)(?: e (?:i suoi|gli eventuali|gli) allegati)?"
            r" (?:è|e'|sono|contiene|può contenere|potrebbe contenere)[^\n]{0,40}?"
            r"(?:riservat|confidenzial)",
            r"AVVISO DI RISERVATEZZA\s*:?",
        ),
    ),
    Language(
        "nl",
        leads=("Op",),
        verbs=("schreef", "het volgende geschreven", "geschreven"),
        name_verbs=("schreef",),
        header_from=("Van",),
        header_date=("Verzonden", "Datum"),
        header_other=("Aan", "CC", "Onderwerp", "Urgentie"),
        original_message=("Oorspronkelijk bericht", "Origineel bericht"),
        forwarded=("Doorgestuurd bericht",),
        forwarded_intro=("Begin doorgestuurd bericht:",),
        mobile=(
            rf"(?:Verzonden|Verstuurd) (?:vanaf|vanuit|met|via) (?:mijn )?{_DEVICE}",
            r"(?:Download )?Outlook voor (?:iOS|Android)(?: downloaden)?",
        ),
        disclaimers=(
            r"Dit (?:e-?mail)?bericht(?: en (?:de|eventuele) bijlagen?)?"
            r" (?:is|zijn|kan)[^\n]{0,40}?(?:vertrouwelijk|uitsluitend bestemd)",
            r"De informatie (?:verzonden|opgenomen) (?:in|met) dit (?:e-?mail)?bericht",
        ),
    ),
    Language(
        "pt",
        leads=("Em", "No dia"),
        verbs=("escreveu",),
        header_from=("De",),
        header_date=("Enviad[ao](?: em)?", "Data"),
        header_other=("Para", "Cc", "Assunto"),
        original_message=("Mensagem original",),
        forwarded=("Mensagem (?:re)?encaminhada",),
        forwarded_intro=("Início da mensagem (?:re)?encaminhada:",),
        mobile=(
            rf"Enviad[ao] d[eo] (?:meu )?{_DEVICE}",
            r"(?:Obter o|Baixe o|Obtenha o) Outlook para (?:iOS|Android)",
        ),
        disclaimers=(
            r"Esta mensagem(?: e (?:seus|os|quaisquer) anexos)?"
            r" (?:é|são|pode conter|contém|podem conter)[^\n]{0,40}?(?:confidencia|sigilos)",
            r"AVISO DE CONFIDENCIALIDADE\s*:?",
        ),
    ),
    # Beyond the seven the product promises: cheap to know, common in Europe.
    Language(
        "da",
        leads=("Den",),
        verbs=("skrev",),
        name_verbs=("skrev",),
        header_from=("Fra",),
        header_date=("Sendt", "Dato"),
        header_other=("Til", "Emne", "Cc"),
        original_message=("Oprindelig meddelelse", "Oprindelig besked"),
        forwarded=("Videresendt (?:meddelelse|besked)",),
        mobile=(rf"Sendt fra min {_DEVICE}",),
    ),
    Language(
        "sv",
        leads=("Den",),
        verbs=("skrev",),
        name_verbs=("skrev",),
        header_from=("Från",),
        header_date=("Skickat", "Datum"),
        header_other=("Till", "Ämne", "Kopia"),
        original_message=("Ursprungligt meddelande", "Originalmeddelande"),
        forwarded=("Vidarebefordrat meddelande",),
        mobile=(rf"Skickat från min {_DEVICE}",),
    ),
    Language(
        "no",
        leads=("På", "Den"),
        verbs=("skrev",),
        name_verbs=("skrev",),
        header_from=("Fra",),
        header_date=("Sendt", "Dato"),
        header_other=("Til", "Emne"),
        original_message=("Opprinnelig melding",),
        forwarded=("Videresendt melding",),
    ),
    Language(
        "pl",
        leads=("W dniu", "Dnia"),
        verbs=(r"napisał(?:a|\(a\))?", "pisze"),
        header_from=("Od",),
        header_date=("Wysłano", "Data"),
        header_other=("Do", "Temat", "DW"),
        original_message=("Oryginalna wiadomość", "Wiadomość oryginalna"),
        forwarded=("Przekazana wiadomość",),
        mobile=(rf"Wysłan[eo] z (?:mojego )?{_DEVICE}",),
    ),
    Language(
        "fi",
        verbs=("kirjoitti",),
        header_from=("Lähettäjä",),
        header_date=("Lähetetty",),
        header_other=("Vastaanottaja", "Aihe"),
        mobile=(r"Lähetetty \w+(?:sta|stä)",),
    ),
    Language("cs", leads=("Dne",), verbs=(r"napsal(?:a|\(a\))?",)),
    Language("vi", leads=("Vào",), verbs=("đã viết",)),
    Language(
        "ru",
        verbs=(r"написал(?:а)?",),
        header_from=("От",),
        header_date=("Отправлено", "Дата"),
        header_other=("Кому", "Копия", "Тема"),
    ),
    Language(
        "tr",
        header_from=("Kimden",),
        header_date=("Gönderildi", "Tarih"),
        header_other=("Kime", "Bilgi", "Konu"),
    ),
    Language(
        "zh",
        verbs=("写道",),
        # Simplified, then traditional Chinese.
        header_from=("发件人", "寄件者"),
        header_date=("发送时间", "日期", "寄件日期"),
        header_other=("收件人", "抄送", "主题", "收件者", "副本", "主旨"),
    ),
    Language(
        "ja",
        header_from=("差出人", "送信者"),
        header_date=("送信日時", "日付"),
        header_other=("宛先", "件名", "CC"),
    ),
    Language("ko", verbs=("작성하였습니다", "작성")),
)

# mail-parser-reply's own attribution patterns, used as they are where the table
# above has no attribution of its own: Japanese ("2024年1月2日(火) 10:00 Ann <ann@x.org>:").
# (Its Korean and Chinese ones cannot match: their negative lookahead rejects the
# very line they describe; the verbs above cover those languages instead.)
MAILPARSER_REPLY_ATTRIBUTIONS = ("ja",)


def _mailparser_reply_pattern(code: str) -> re.Pattern[str]:
    entry: dict[str, Any] = MAIL_LANGUAGES[code]
    return re.compile(str(entry["wrote_header"]), re.MULTILINE | re.IGNORECASE)


def mailparser_reply_attributions() -> tuple[re.Pattern[str], ...]:
    return tuple(
        _mailparser_reply_pattern(code)
        for code in MAILPARSER_REPLY_ATTRIBUTIONS
        if code in MAIL_LANGUAGES
    )


def every(field: str) -> list[str]:
    """One field of every language, e.g. every("verbs")."""
    return [fragment for language in LANGUAGES for fragment in getattr(language, field)]
