"""Preprocessing rules: the built-in families, every promised language, user rules, order,
the bottom-posting guard, exact characters, and refusal of bad rules at config load."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from textwrap import dedent

import pytest

from deskmail.config import ConfigError, load_config
from deskmail.config.preprocessing import BUILTIN_KEYS, PreprocessRuleConfig
from deskmail.preprocess import (
    BUILTINS,
    PreprocessResult,
    builtin_rules,
    enabled_builtin_rules,
    preprocess,
)

REPLY = "The printer on floor 3 works again, thanks!"


def builtin(key: str, enabled: bool = True) -> PreprocessRuleConfig:
    return PreprocessRuleConfig(name=key.title(), builtin=key, enabled=enabled)


def strip(text: str, *keys: str) -> str:
    rules = [builtin(key) for key in keys] if keys else enabled_builtin_rules()
    return preprocess(text, rules).text


def mail(*parts: str) -> str:
    return "\n".join(dedent(part).strip("\n") for part in parts)


# --- the built-in families ---------------------------------------------------------------


def test_outlook_header_block_is_cut() -> None:
    text = mail(
        REPLY,
        "",
        """
        From: Service Desk <support@example.com>
        Sent: Monday, June 3, 2024 10:00 AM
        To: Ann Lee <ann@example.com>
        Subject: RE: Printer
        """,
        "Have you tried turning it off and on again?",
    )
    assert strip(text, "outlook") == REPLY


def test_outlook_header_block_with_a_wrapped_sender_and_bold_labels() -> None:
    text = mail(
        REPLY,
        "",
        """
          *From:* Service Desk [mailto:
          support@example.com]
          *Sent:* Wednesday, June 27, 2012 3:05 PM
          *To:* ann@example.com
        """,
    )
    assert strip(text, "outlook") == REPLY


def test_outlook_separators_are_cut() -> None:
    underscores = mail(REPLY, "", "_" * 32, "From: Service Desk")
    original = mail(REPLY, "", "-----Original Message-----", "Please restart.")
    assert strip(underscores, "outlook") == REPLY
    assert strip(original, "outlook") == REPLY


def test_a_from_line_in_a_sentence_is_not_a_header() -> None:
    text = "From: the accounting team we get this error\nsince this morning."
    assert strip(text, "outlook") == text


@pytest.mark.parametrize(
    "text",
    [
        "From: the team at the Leeds office, thanks for last week.\nTo: everyone in IT, well done.",
        "Date: 12 June 2024\nFrom: London\nTo: Manchester\nSubject to change.",
        "From: invoices@supplier.example\nTo: accounts@example.com\nSubject contains: invoice",
    ],
)
def test_header_lines_without_a_timestamp_are_the_senders_own(text: str) -> None:
    assert strip(mail(REPLY, "", text), "outlook") == mail(REPLY, "", text)


def test_a_header_block_needs_only_a_time_or_a_date_in_figures() -> None:
    timed = "From: Dana White\nSent: 03 June 2024 16:40\nTo: Service Desk"
    dated = "*From:* Outlook user\n*Sent:* 2016-01-27\n*To:* info@example.org"
    for block in (timed, dated):
        assert strip(mail(REPLY, "", block, "", "Quoted"), "outlook") == REPLY, block


@pytest.mark.parametrize(
    "ruler",
    [
        mail("Issue 1: the scanner jams.", "_" * 40, "", "Issue 2: no HDMI cable."),
        mail("Steps:", "_" * 30, "Neither helped."),
    ],
)
def test_an_underscore_ruler_without_headers_under_it_stays(ruler: str) -> None:
    assert strip(ruler, "outlook") == ruler
    assert strip(ruler) == ruler


def test_an_underscore_line_over_headers_of_any_language_is_cut() -> None:
    known = mail(REPLY, "_" * 32, "", "Von: IT-Service", "Gesendet: Montag, 3. Juni 2024 10:02")
    unknown = mail(REPLY, "_" * 24, "Feladó: IT támogatás", "Elküldve: 2024. június 3. 10:02")
    assert strip(known, "outlook") == REPLY
    assert strip(unknown, "outlook") == REPLY


def test_a_header_block_under_a_forward_separator_is_left_to_the_forward_rule() -> None:
    text = mail(
        "FYI",
        "",
        "---------- Forwarded message ---------",
        "From: Vendor <noreply@vendor.example>",
        "Date: Fri, May 31, 2024 at 5:00 PM",
        "Subject: Licence expiry",
        "",
        "Your licence expires on 30 June.",
    )
    assert strip(text, "outlook") == text
    assert strip(text, "outlook", "forwarded") == "FYI"


def test_gmail_and_apple_attribution_even_wrapped_over_two_lines() -> None:
    one_line = mail(
        REPLY, "", "On Tue, Jan 2, 2024 at 10:00 AM Ann <ann@example.com> wrote:", "> Hi"
    )
    apple = mail(REPLY, "", "On 2 Jan 2024, at 10:00, Ann Lee <ann@example.com> wrote:", "", "Hi")
    wrapped = mail(
        REPLY,
        "",
        "On Mon, Aug 26, 2019 at 4:37 PM The Hiring Engine <",
        "a-really-long-automated-email+1234556@example.com> wrote:",
        "",
        "> Test",
    )
    gmail_date_first = mail(REPLY, "", "2014-03-20 8:48 GMT+01:00 Ann Lee <ann@example.com>:", "Hi")
    for text in (one_line, apple, wrapped, gmail_date_first):
        assert strip(text, "gmail") == REPLY, text


def test_gmail_on_android_writes_the_address_then_the_verb_and_date() -> None:
    text = mail(
        REPLY,
        "",
        "Max Mustermann <max@example.com> schrieb am Fr., 28.",
        "Apr. 2017 um 11:53 Uhr:",
        "",
        "> Hallo",
    )
    assert strip(text, "gmail") == REPLY


def test_answers_written_between_the_quotes_under_an_attribution_stay() -> None:
    text = mail(
        "Hallo,",
        "",
        "Am 03.06.24 um 10:02 schrieb Ann Schmidt:",
        "> Welcher Drucker?",
        "",
        "Der im 2. OG.",
        "",
        "> Seit wann?",
        "",
        "Seit gestern.",
    )
    assert strip(text, "gmail") == text
    assert strip(text, "thunderbird") == text
    assert strip(text) == text


def test_a_quoted_line_wrapped_without_its_marker_is_not_an_answer() -> None:
    text = mail(
        REPLY,
        "",
        "On Monday, 24 September, 2012 at 3:46 PM, bob wrote:",
        "> View ticket (http://example.com/action",
        "_nonce=3dd518)",
        ">",
    )
    assert strip(text, "gmail") == REPLY


def test_a_sentence_that_starts_with_on_is_not_an_attribution() -> None:
    text = "On Monday the printer wrote garbage:\nsee the attached scan."
    assert strip(text, "gmail") == text
    assert strip(text) == text


def test_thunderbird_attribution_and_dashed_separator() -> None:
    attribution = mail(REPLY, "", "On 24/11/2025 15:00, Ann Lee wrote:", "> Hi")
    separator = mail(
        REPLY,
        "",
        "-------- Original Message --------",
        "Subject: Printer",
        "Date: Mon, 24 Nov 2025 15:00:00 +0100",
        "From: Ann Lee <ann@example.com>",
    )
    assert strip(attribution, "thunderbird") == REPLY
    assert strip(separator, "thunderbird") == REPLY


@pytest.mark.parametrize(
    "header",
    [
        "---------- Forwarded message ---------",
        "-------- Forwarded Message --------",
        "Begin forwarded message:",
        "-------- Weitergeleitete Nachricht --------",
    ],
)
def test_forwarded_message_headers(header: str) -> None:
    text = mail("FYI, see below.", "", header, "From: Vendor <v@example.com>", "Outage")
    assert strip(text, "forwarded") == "FYI, see below."


def test_a_forward_with_nothing_above_it_keeps_the_forwarded_text() -> None:
    text = mail(
        "---------- Forwarded message ----------",
        "From: Some One <foo@example.com>",
        "Date: Thu, Jan 28, 2016 at 4:00 PM",
        "Subject: Some subject that",
        "spans over 2 lines",
        "",
        "",
        "The VPN drops every hour.",
    )
    assert strip(text, "forwarded") == "The VPN drops every hour."
    assert strip(text) == "The VPN drops every hour."


@pytest.mark.parametrize(
    "footer",
    [
        "Sent from my iPhone",
        "Sent from my Samsung Galaxy S21 Ultra",
        "Sent from Outlook for iOS<https://aka.ms/o0ukef>",
        "Sent from Outlook for Android",
        "Get Outlook for iOS",
        "Get Outlook for Android<https://aka.ms/ghei36>",
        "Sent from my Galaxy",
        "Envoyé de mon iPhone",
        "Von meinem iPhone gesendet",
        "Gesendet von Outlook für Android<https://aka.ms/AAb9ysg>",
        "Enviado desde mi iPhone",
        "Inviato da iPhone",
        "Verzonden vanaf mijn iPhone",
        "Enviado do meu iPhone",
        "Télécharger Outlook pour iOS",
    ],
)
def test_mobile_footers(footer: str) -> None:
    assert strip(mail(REPLY, "", footer), "mobile") == REPLY
    # The app's footer sits above the quoted mail: everything from it goes.
    assert strip(mail(REPLY, "", footer, "", "On Tue, 2 Jan 2024, Ann wrote:"), "mobile") == REPLY


def test_a_sentence_about_a_phone_is_not_a_footer() -> None:
    text = mail(REPLY, "", "Sent from my desk, which is easier than from my phone.")
    assert strip(text, "mobile") == text


def test_signature_delimiter_dash_dash_space() -> None:
    signed = mail(REPLY, "-- ", "Ann Lee", "Accounts, 3rd floor")
    stripped_space = mail(REPLY, "--", "Ann Lee")
    in_a_line = mail("Use the flag -- verbose -- to see more.", "x --", "y")
    assert strip(signed, "signature") == REPLY
    assert strip(stripped_space, "signature") == REPLY
    assert strip(in_a_line, "signature") == in_a_line


@pytest.mark.parametrize(
    "notice",
    [
        "CONFIDENTIALITY NOTICE: This e-mail and any attachments are confidential.",
        "This e-mail and any attachments are confidential and intended solely for the addressee.",
        "This message contains confidential information.",
        "Diese E-Mail enthält vertrauliche und/oder rechtlich geschützte Informationen.",
        "Ce message et toutes les pièces jointes sont confidentiels.",
        "Este correo electrónico y sus anexos son confidenciales.",
        "Le informazioni contenute in questo messaggio sono riservate.",
        "Dit bericht is vertrouwelijk en uitsluitend bestemd voor de geadresseerde.",
        "Esta mensagem pode conter informações confidenciais.",
    ],
)
def test_legal_disclaimers(notice: str) -> None:
    text = mail(REPLY, "", "Ann Lee", "", "_" * 20, notice, "If you are not the recipient...")
    assert strip(text, "disclaimer") == mail(REPLY, "", "Ann Lee")


def test_confidential_inside_a_sentence_stays() -> None:
    text = "Ann Lee\nThis message contains confidential information about my salary, please help."
    assert strip(text, "disclaimer") == text  # not the start of a paragraph


def test_quoted_block_at_the_end_with_its_intro() -> None:
    text = mail(REPLY, "", "2011/4/7 Ann Lee <ann@example.com>", "", "> Did it work?", ">")
    assert strip(text, "quoted") == REPLY


def test_bar_quoted_block_goes_only_under_an_intro() -> None:
    quoted = mail(REPLY, "", "2013/7/20 Ann Lee <ann@example.com>", "", "| Did it work?", "|")
    table = mail(REPLY, "", "| printer | floor |", "| HP 4000 | 3 |")
    assert strip(quoted, "quoted") == REPLY
    assert strip(table, "quoted") == table


def test_bottom_posted_reply_loses_the_quote_above_it() -> None:
    text = mail("On 19/04/2011 07:10, Ann Lee wrote:", "", "> Did it work?", "", REPLY)
    result = preprocess(text, enabled_builtin_rules())
    assert result.text == REPLY
    assert result.fired == ("Quoted lines",)
    assert "Gmail and Apple Mail" in result.held_back  # cutting at the header left nothing


def test_answers_between_quotes_are_kept_whole() -> None:
    text = mail("> Which printer?", "The one on floor 3.", "> Since when?", "Since Monday.")
    assert strip(text, "quoted") == text


# --- languages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "Am 13.12.2017 21:11 schrieb Ann Lee <ann@example.com>:",
        "Am Fr., 28. Nov. 2025 um 15:57 Uhr schrieb Ann Lee <\nann@example.com>:",
        "Le 19 mars 2014 10:37, Ann Lee <ann@example.com> a écrit :",
        "Le lun. 15 nov. 2021 à 19:42, Ann Lee <ann@example.com>\na écrit :",
        "El 19/03/2014 11:34, Juan Pérez <juan@example.com> escribió:",
        "El 06/04/2010, a las 13:13, Juan Pérez escribió:",
        "Op 12 december 2016 19:05 schreef Ann Lee <\nann@example.com>:",
        "Op 24 aug. 2013 om 16:48 heeft Ann Lee <ann@example.com> het volgende geschreven:",
        "Il giorno 8 dic 2016, alle ore 10:00, Ann Lee <ann@example.com> ha scritto:",
        "Il giovedì 8 dicembre 2016, Ann Lee <ann@example.com>\nha scritto:",
        "Em 10 de julho de 2017 às 16:32:35, Ann Lee (\nann@example.com) escreveu:",
        "Em qui, 24 de jan de 2019 às 14:31, Ann Lee <ann@example.com> escreveu:",
    ],
)
def test_reply_headers_in_every_promised_language(header: str) -> None:
    text = mail(REPLY, "", header, "", "> Quoted question")
    assert strip(text, "gmail") == REPLY


@pytest.mark.parametrize(
    ("sender", "sent", "to", "subject"),
    [
        ("From", "Sent", "To", "Subject"),
        ("Von", "Gesendet", "An", "Betreff"),
        ("De", "Envoyé", "À", "Objet"),
        ("De ", "Envoyé le ", "À ", "Objet "),  # French typography: a space before the colon
        ("De", "Enviado", "Para", "Asunto"),
        ("Van", "Verzonden", "Aan", "Onderwerp"),
        ("Da", "Inviato", "A", "Oggetto"),
        ("De", "Enviada", "Para", "Assunto"),
        ("От", "Отправлено", "Кому", "Тема"),
        ("Kimden", "Gönderildi", "Kime", "Konu"),
        ("发件人", "发送时间", "收件人", "主题"),
        ("寄件者", "寄件日期", "收件者", "主旨"),
        ("差出人", "送信日時", "宛先", "件名"),
    ],
)
def test_outlook_header_labels_in_every_promised_language(
    sender: str, sent: str, to: str, subject: str
) -> None:
    block = f"{sender}: Ann Lee\n{sent}: 3.6.2024 10:00\n{to}: Support\n{subject}: Printer"
    assert strip(mail(REPLY, "", block, "", "Quoted question"), "outlook") == REPLY


@pytest.mark.parametrize(
    "separator",
    [
        "-----Ursprüngliche Nachricht-----",
        "-------- Message d'origine --------",
        "-----Mensaje original-----",
        "-----Oorspronkelijk bericht-----",
        "-----Messaggio originale-----",
        "-----Mensagem original-----",
    ],
)
def test_original_message_separators_in_every_promised_language(separator: str) -> None:
    assert strip(mail(REPLY, "", separator, "Quoted"), "outlook") == REPLY


@pytest.mark.parametrize(
    "header",
    [
        "Den 24 februari 2015 22:48 skrev Ann Lee <ann@example.com>:",  # Swedish, Danish
        "W dniu 7 stycznia 2015 15:24 użytkownik Ann Lee <ann@example.com> napisał:",
        "Dne 2. 1. 2024 10:00 Ann Lee napsal(a):",
        "2024年1月2日(火) 10:00 山田太郎 <taro@example.jp>:",
        "2024年1月2日 10:00，Ann Lee 写道：",
        "2024년 1월 2일 (화) 오전 10:00, Ann님이 작성하였습니다:",
        "ср, 30 апр. 2025 г. в 15:19, Ann Lee <ann@example.com>:",
    ],
)
def test_reply_headers_beyond_the_promised_languages(header: str) -> None:
    assert strip(mail(REPLY, "", header, "> Quoted"), "gmail") == REPLY


@pytest.mark.parametrize(
    "text",
    [
        "On Monday the printer wrote garbage:\nsee the attached scan.",
        "2024 was the year the old server wrote:\nits last log line.",
        "Please send the report to: bob@example.com\nThanks",
        "Date: tomorrow\nTime: 10:00 in room 3",
        "The error was:\n> Access denied\n\nWhat should I do?",
        "Key points\n----------\n- one\n- two",
        "Use --force -- or -- nothing.",
        "This is confidential: my new password did not arrive.",
    ],
)
def test_ordinary_text_survives_every_builtin(text: str) -> None:
    assert strip(text) == text


# --- user-defined rules ----------------------------------------------------------------------


def test_cut_from_a_regex_matches_per_line() -> None:
    rule = PreprocessRuleConfig(name="Ticket footer", cut_from=r"^\[Ticket footer\]")
    text = "Printer broken [Ticket footer] inline stays\n[Ticket footer]\nref 42"
    assert preprocess(text, [rule]).text == "Printer broken [Ticket footer] inline stays"


def test_remove_between_two_regexes_removes_each_block() -> None:
    rule = PreprocessRuleConfig(
        name="Banner", remove_between=(r"^\[EXTERNAL\]", r"^\[/EXTERNAL\]\n")
    )
    text = "[EXTERNAL]\nbe careful\n[/EXTERNAL]\nHello\n[EXTERNAL]\nagain\n[/EXTERNAL]\nBye\n"
    assert preprocess(text, [rule]).text == "Hello\nBye\n"


def test_remove_between_leaves_a_block_without_its_end() -> None:
    rule = PreprocessRuleConfig(name="Banner", remove_between=("<<", ">>"))
    text = "keep << gone >> keep << no end"
    assert preprocess(text, [rule]).text == "keep  keep << no end"


def test_replace_with_backreferences() -> None:
    rule = PreprocessRuleConfig.model_validate(
        {"name": "Phone", "replace": r"(?i)phone:\s*(?P<number>[\d ]+)", "with": r"tel. \g<number>"}
    )
    result = preprocess("Phone: 0123 456\nBye", [rule])
    assert result.text == "tel. 0123 456\nBye"
    assert result.fired == ("Phone",)


# --- order, disabled rules, the guard --------------------------------------------------------


def test_rules_run_in_order_and_fired_lists_them_in_order() -> None:
    to_marker = PreprocessRuleConfig.model_validate(
        {"name": "Mark", "replace": "^Regards$", "with": "-- "}
    )
    text = "Fixed, thanks.\nRegards\nAnn"
    first_mark = preprocess(text, [to_marker, builtin("signature")])
    first_cut = preprocess(text, [builtin("signature"), to_marker])
    assert first_mark.text == "Fixed, thanks."
    assert first_mark.fired == ("Mark", "Signature")
    assert first_cut.text == "Fixed, thanks.\n-- \nAnn"
    assert first_cut.fired == ("Mark",)


def test_disabled_rules_and_no_rules_do_nothing() -> None:
    text = mail(REPLY, "-- ", "Ann")
    assert preprocess(text, [builtin("signature", enabled=False)]).text == text
    nothing = preprocess(text, None)  # no list in the config: built-ins, all disabled
    assert (nothing.text, nothing.fired, nothing.changed) == (text, (), False)


def test_a_rule_that_would_leave_nothing_is_held_back() -> None:
    bottom_posted = mail("On 19/04/2011 07:10, Ann Lee <ann@example.com> wrote:", "Hi", REPLY)
    result = preprocess(bottom_posted, [builtin("gmail")])
    assert result.text == bottom_posted
    assert result.fired == ()
    assert result.held_back == ("Gmail",)
    cut_all = PreprocessRuleConfig(name="All", cut_from=r"\A")
    assert preprocess(REPLY, [cut_all]).text == REPLY


def test_backslashes_survive_every_rule() -> None:
    body = r"Error at C:\Users\alice\AppData and \\fileserver01\finance\Q3 (\n is literal)"
    text = mail(body, "", "On Tue, 2 Jan 2024, Ann <ann@example.com> wrote:", "> C:\\Temp")
    rules = [
        *enabled_builtin_rules(),
        PreprocessRuleConfig(name="Cut", cut_from="^NEVER$"),
        PreprocessRuleConfig(name="Between", remove_between=("<<", ">>")),
        PreprocessRuleConfig.model_validate({"name": "R", "replace": "(Error)", "with": r"\1!"}),
    ]
    assert preprocess(text, rules).text == body.replace("Error", "Error!")


def test_the_result_is_frozen() -> None:
    result = preprocess("x", None)
    assert isinstance(result, PreprocessResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.text = "y"  # type: ignore[misc]


def test_builtin_lists_for_the_default_and_the_sample_config() -> None:
    defaults = builtin_rules()
    assert [rule.builtin for rule in defaults] == [rule.key for rule in BUILTINS]
    # The configuration checks `builtin` against its own list, without preprocessing code.
    assert tuple(rule.key for rule in BUILTINS) == BUILTIN_KEYS
    assert [rule.builtin for rule in defaults][:3] == ["outlook", "gmail", "thunderbird"]
    assert not any(rule.enabled for rule in defaults)
    assert all(rule.enabled for rule in enabled_builtin_rules())
    assert len({rule.name for rule in defaults}) == len(defaults)


# --- refused at config load ------------------------------------------------------------------

JOB = """
[[jobs]]
name = "Support"
protocol = "maildir"
path = "mail"
"""


def load_error(tmp_path: Path, rules: str) -> ConfigError:
    path = tmp_path / "deskmail.toml"
    path.write_text(JOB + "preprocessing = [\n" + dedent(rules) + "]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.file == path
    return caught.value


def test_an_invalid_regex_is_refused_with_its_key(tmp_path: Path) -> None:
    error = load_error(tmp_path, """{ name = "Footer", cut_from = '(unclosed' },""")
    assert error.key == 'jobs[0] ("Support").preprocessing[0].cut_from'
    assert "'(unclosed' is not a valid regular expression: missing )" in error.problem
    assert "deskmail.toml: jobs[0]" in str(error)


def test_every_bad_rule_is_reported_at_once(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        { name = "Ok", builtin = "outlook" },
        { name = "Typo", builtin = "gmial" },
        { name = "Block", remove_between = ['^start', '[end'] },
        { name = "Swap", replace = '(\\w+)', with = '\\2' },
        { name = "Two", cut_from = 'a', replace = 'b' },
        { name = "Stray", builtin = "mobile", with = 'x' },
        """,
    )
    problems = {issue.key.split(".", 1)[1]: issue.problem for issue in error.issues}
    assert problems["preprocessing[1].builtin"] == (
        "unknown built-in rule 'gmial' (known: outlook, gmail, thunderbird, forwarded, mobile,"
        " signature, disclaimer, quoted); did you mean 'gmail'?"
    )
    assert problems["preprocessing[2].remove_between"].startswith(
        "end: '[end' is not a valid regular expression"
    )
    assert problems["preprocessing[3].with"].startswith(
        "'\\2' is not a valid replacement: invalid group reference 2"
    )
    assert problems["preprocessing[4]"] == (
        "needs exactly one of builtin, cut_from, remove_between, replace (has cut_from and replace)"
    )
    assert problems["preprocessing[5].with"] == "is only used with replace"
    assert len(error.issues) == 5


def test_valid_rules_load(tmp_path: Path) -> None:
    path = tmp_path / "deskmail.toml"
    path.write_text(
        JOB
        + dedent(
            """
            preprocessing = [
              { name = "Outlook", builtin = "outlook" },
              { name = "Footer", cut_from = '^\\[Ticket\\]', enabled = false },
              { name = "Phone", replace = 'tel:(\\d+)', with = 'phone \\1' },
            ]
            """
        ),
        encoding="utf-8",
    )
    rules = load_config(path).jobs[0].preprocessing
    assert rules is not None
    assert [rule.name for rule in rules] == ["Outlook", "Footer", "Phone"]
    assert rules[2].replacement == r"phone \1"
