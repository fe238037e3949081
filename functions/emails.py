"""Email bodies from Jinja2 templates in ``templates/email/``: a plain-text part and an HTML part.

The plain part renders like every other customer text (sandboxed, strict, no
escaping); the HTML part in its own sandbox with autoescaping, so what a
customer wrote (quoted in the transcript) is shown, never interpreted.
Templates are ``<kind>.<language>.txt.j2`` and ``<kind>.<language>.html.j2``;
a language without them falls back to English.
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


def render(kind: str, language: Optional[str], variables: dict[str, Any]) -> tuple[str, str]:
    """``(plain text, html)`` for ``kind``; TemplateError naming the file when one is missing or fails."""
    from jinja2 import TemplateError as JinjaError

    wanted = normalize_language(language) or FALLBACK_LANGUAGE
    code = wanted if (EMAIL_DIR / f"{kind}.{wanted}.txt.j2").exists() else FALLBACK_LANGUAGE
    parts = []
    for suffix, html in (("txt", False), ("html", True)):
        name = f"{kind}.{code}.{suffix}.j2"
        try:
            parts.append(_environment(html).get_template(name).render(variables).strip() + "\n")
        except JinjaError as error:
            raise TemplateError(f"email/{name}: {error.message or error}") from None
    return parts[0], parts[1]
