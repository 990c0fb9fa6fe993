"""The mail templates: Jinja2, one subject, text and optional HTML file per kind of mail.

Files are named `{kind}.subject.j2`, `{kind}.text.j2` and `{kind}.html.j2`.
The built-in ones live in outbound/templates/; a file of the same name in the
configured `templates_dir` replaces one. The HTML part is taken from the
folder the text part came from, so an overridden text is never sent next to
the built-in HTML saying something else. Undefined variables are errors
(StrictUndefined), HTML is autoescaped, and templates run sandboxed.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from deskmail.parse.encoded_words import one_line

BUILT_IN = Path(__file__).with_name("templates")


class TemplateError(Exception):
    """A template could not be read or rendered; the message names the file."""


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str  # one line
    text: str
    html: str | None


class Templates:
    """The built-in templates, with overrides from `override_dir` when given."""

    def __init__(self, override_dir: Path | None = None) -> None:
        self.override_dir = override_dir
        self._built_in = _Folder(BUILT_IN)
        self._override = _Folder(override_dir) if override_dir is not None else None

    def render(self, kind: str, context: Mapping[str, object]) -> Rendered:
        if self.override_dir is not None and not self.override_dir.is_dir():
            raise TemplateError(f"templates_dir {self.override_dir} is not a folder")
        subject = self._pick(f"{kind}.subject.j2").render(f"{kind}.subject.j2", context)
        text_from = self._pick(f"{kind}.text.j2")
        text = text_from.render(f"{kind}.text.j2", context)
        html_name = f"{kind}.html.j2"
        html = text_from.render(html_name, context) if text_from.has(html_name) else None
        return Rendered(subject=one_line(subject), text=_ends_with_newline(text), html=html)

    def _pick(self, name: str) -> _Folder:
        if self._override is not None and self._override.has(name):
            return self._override
        if not self._built_in.has(name):
            raise TemplateError(f"no template {name} (built-in or in templates_dir)")
        return self._built_in


@functools.lru_cache(maxsize=8)
def templates_for(templates_dir: Path | None) -> Templates:
    """Shared per folder: Jinja compiles each file once and reloads it when it changes."""
    return Templates(templates_dir)


class _Folder:
    """One folder of templates and its Jinja environment."""

    def __init__(self, path: Path) -> None:
        # Imported here: most runs send no mail, and Jinja costs start-up time and memory.
        import jinja2
        from jinja2.sandbox import SandboxedEnvironment

        self.path = path
        self.environment = SandboxedEnvironment(
            loader=jinja2.FileSystemLoader(path),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",)),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )

    def has(self, name: str) -> bool:
        return (self.path / name).is_file()

    def render(self, name: str, context: Mapping[str, object]) -> str:
        import jinja2

        try:
            return self.environment.get_template(name).render(context)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"{self.path / name}:{exc.lineno}: {exc.message}") from exc
        except Exception as exc:  # undefined variables, failing filters, sandbox refusals
            raise TemplateError(f"{self.path / name}: {type(exc).__name__}: {exc}") from exc


def _ends_with_newline(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"
