"""Emails from Jinja2 templates in ``templates/email/``: a subject, a plain-text part and an HTML part.

The subject and plain part render like every other customer text (sandboxed,
strict, no escaping); the HTML part in its own sandbox with autoescaping, so
what a customer wrote (quoted in the transcript) is shown, never interpreted.
Templates are ``<kind>.<language>.subject.j2``, ``<kind>.<language>.txt.j2``
and ``<kind>.<language>.html.j2``; a language without them falls back to
English (chosen like the acknowledgements' language: the policy file's
``[acknowledge] language``).
"""
from __future__ import annotations

import functools
from typing import Any, Optional

from functions.templating import TEMPLATES_DIR, TemplateError, normalize_language

EMAIL_DIR = TEMPLATES_DIR / "email"
FALLBACK_LANGUAGE = "en"


@functools.cache
def _environment(html: bool) -> Any:
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(loader=FileSystemLoader(str(EMAIL_DIR)), autoescape=html,
                                undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, auto_reload=False)


def render(kind: str, language: Optional[str], variables: dict[str, Any]) -> tuple[str, str, str]:
    """``(subject, plain text, html)`` for ``kind``; TemplateError naming the file when one is missing or fails."""
    from jinja2 import TemplateError as JinjaError

    wanted = normalize_language(language) or FALLBACK_LANGUAGE
    code = wanted if (EMAIL_DIR / f"{kind}.{wanted}.txt.j2").exists() else FALLBACK_LANGUAGE
    parts = []
    for suffix, html in (("subject", False), ("txt", False), ("html", True)):
        name = f"{kind}.{code}.{suffix}.j2"
        try:
            parts.append(_environment(html).get_template(name).render(variables).strip() + "\n")
        except JinjaError as error:
            raise TemplateError(f"email/{name}: {error.message or error}") from None
    subject = " ".join(parts[0].split())  # one header line, whatever the template's whitespace
    return subject, parts[1], parts[2]
