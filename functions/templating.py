"""What Heed says to customers: Jinja2 templates in ``templates/``, chosen, rendered, checked against limits.

:func:`render` picks the template for a kind (``ack``, ``ack_after_hours``,
...), a platform, where the text goes (``channel``: ``dm``, ``comment`` (a
public reply under a comment), ``mention`` (a public reply tweet) or
``private_reply`` (a private message answering a comment)) and a language,
renders it and checks the result against the platform's limit (:data:`LIMITS`).

Templates are ``templates/<kind>[.<channel>][.<platform>].<language>.txt.j2``
(platform and channel names never collide, so the order of those two parts in
a file name doesn't matter). The first that exists wins, in this order
(``templates/README.md``)::

    for language in (the conversation's, e.g. pt-br; its base language, pt; the default language):
        <kind>.<platform>.<channel>.<language>
        <kind>.<channel>.<language>
        <kind>.<platform>.<language>
        <kind>.<language>

Rendering is sandboxed (``SandboxedEnvironment``), plain text (no
autoescaping) and strict (``StrictUndefined``: a template using a variable that
isn't there fails, in ``make check-templates`` and the unit tests, rather than
sending a blank). Only files in ``templates/`` are ever template source; what
customers write is passed as variable values and comes out literally
(``{{ 7*7 }}`` as a name stays ``{{ 7*7 }}``).

Variables (:data:`VARIABLES`; all always given): ``customer_name`` (may be
None: templates must handle it), ``brand_name``, ``next_available`` and
``expected_response`` (words from :mod:`functions.domain.phrases`, in the
template's language), ``conversation_id``.

``python -m functions.templating --check`` (``make check-templates``) renders
every template on every platform/channel it can be used on with sample values,
a very long name included, and exits 1 naming each template and the limit it breaks.
"""
from __future__ import annotations

import argparse
import functools
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Optional

from functions.domain import phrases

ROOT = Path(__file__).resolve().parent.parent
"""The package root: ``functions/`` and ``templates/`` sit side by side here, in the repo and in the Lambda zip."""
TEMPLATES_DIR = ROOT / "templates"
SUFFIX = ".txt.j2"
DEFAULT_LANGUAGE = "en"

SURFACES: dict[str, tuple[str, ...]] = {
    "facebook": ("dm", "comment", "private_reply"),
    "instagram": ("dm", "comment", "private_reply"),
    "whatsapp": ("dm",),
    "x": ("dm", "mention"),
    "telegram": ("dm",),
}
"""Where Heed can send text, per platform: the (platform, channel) pairs a template may be rendered for."""
CHANNELS: tuple[str, ...] = ("dm", "comment", "mention", "private_reply")
ACK_KINDS: tuple[str, ...] = ("ack", "ack_after_hours")
VARIABLES: tuple[str, ...] = ("customer_name", "brand_name", "next_available", "expected_response", "conversation_id")
KIND_VARIABLES: dict[str, tuple[str, ...]] = {"handoff": ("reply_address",)}
"""Variables only some kinds get, on top of :data:`VARIABLES` (the handoff notice names the conversation's address)."""
KIND_CHANNELS: dict[str, tuple[str, ...]] = {"handoff": ("dm", "private_reply")}
"""Where a kind is ever sent, when not everywhere: the handoff notice carries an address, never posted in public."""
SAMPLE_EXTRAS: dict[str, str] = {"reply_address": "support+k5mz2q7xw4ny3vb6tc8rd9hfje@mail.heed.example"}

X_MENTION_RESERVE = 17
"""Room kept in an X reply for the ``@handle `` the X client puts in front: ``@``, 15 (the longest handle), a space."""

_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})*")
# A domain starts only where no word, dot or hyphen precedes it: from every label of "a.a.a.a..." the
# scan would run to the end again (20,000 characters took 2.6 s; now linear).
_URLISH = re.compile(r"https?://\S+|(?<![\w.-])[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b(?:/\S*)?")
_X_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_X_URL = 23


class TemplateError(Exception):
    """A template can't be found or rendered; the message names the template file."""


class TemplateNotFound(TemplateError):
    pass


class LimitExceeded(TemplateError):
    """The text breaks the platform's limit; the message names the template (if any) and the limit."""


@dataclass(frozen=True)
class Limit:
    """A platform's length limit. ``unit``:

    * ``characters``: counted as UTF-16 code units, never fewer than code points
      (an emoji counts 2), the safer reading of "characters";
    * ``bytes``: UTF-8 bytes;
    * ``x``: X's weighted count (twitter-text v3: most Latin, Greek, Cyrillic,
      Hebrew, Arabic... count 1, everything else (CJK, emoji) 2 per code point;
      a URL or bare domain counts 23 like t.co, never less than as typed).

    ``reserve`` is kept free for what the platform client adds (X's ``@handle``).
    """

    maximum: int
    unit: Literal["characters", "bytes", "x"]
    what: str
    reserve: int = 0

    def measure(self, text: str) -> int:
        if self.unit == "bytes":
            return len(text.encode("utf-8"))
        if self.unit == "x":
            return x_weighted_length(text)
        return len(text.encode("utf-16-le")) // 2

    def fits(self, text: str) -> bool:
        return bool(text.strip()) and self.measure(text) + self.reserve <= self.maximum

    def describe(self) -> str:
        unit = {"characters": "characters", "bytes": "bytes of UTF-8", "x": "weighted characters"}[self.unit]
        room = f", {self.reserve} of them kept for the @-mention" if self.reserve else ""
        return f"{self.what}: at most {self.maximum} {unit}{room}"


_MESSENGER = Limit(1999, "characters", "Messenger (under 2000 characters)")
_INSTAGRAM_DM = Limit(1000, "bytes", "Instagram DM")
LIMITS: dict[tuple[str, str], Limit] = {
    ("facebook", "dm"): _MESSENGER,
    ("facebook", "private_reply"): _MESSENGER,  # a private reply is a Messenger message
    ("facebook", "comment"): Limit(8000, "characters", "Facebook comment"),
    ("instagram", "dm"): _INSTAGRAM_DM,
    ("instagram", "private_reply"): _INSTAGRAM_DM,
    ("instagram", "comment"): Limit(2200, "characters", "Instagram comment"),
    ("whatsapp", "dm"): Limit(4096, "characters", "WhatsApp text"),
    ("x", "dm"): Limit(10_000, "characters", "X DM"),
    # A reply tweet: 280 weighted characters including the "@handle " the X client
    # puts in front, so templates get 280 - 17 (X_MENTION_RESERVE).
    ("x", "mention"): Limit(280, "x", "X reply", reserve=X_MENTION_RESERVE),
    ("telegram", "dm"): Limit(4096, "characters", "Telegram message"),
}
"""Per (platform, channel), as the platforms document them (``/work/shared/platform-facts.md``; comment
lengths from the Graph API docs: Facebook 8000, Instagram 2200)."""


def x_weighted_length(text: str) -> int:
    """The length X counts for a tweet (twitter-text v3 weights; URLs 23, never less than as typed)."""
    total, last = 0, 0
    for match in _URLISH.finditer(text):
        total += _x_weight(text[last:match.start()]) + max(_X_URL, _x_weight(match.group()))
        last = match.end()
    return total + _x_weight(text[last:])


def _x_weight(text: str) -> int:
    return sum(1 if any(low <= ord(ch) <= high for low, high in _X_LIGHT) else 2 for ch in text)


def fits(platform: str, channel: str, text: str) -> bool:
    """Whether ``text`` may be sent on ``platform`` to ``channel`` (not empty, within the limit)."""
    return _limit(platform, channel).fits(text)


def check_limit(platform: str, channel: str, text: str, *, template: Optional[str] = None) -> None:
    """LimitExceeded unless :func:`fits`; the message names ``template`` and the limit."""
    limit = _limit(platform, channel)
    if limit.fits(text):
        return
    where = f"{template} on {platform} {channel}" if template else f"{platform} {channel}"
    if not text.strip():
        raise LimitExceeded(f"{where}: the text is empty")
    raise LimitExceeded(f"{where}: {limit.measure(text) + limit.reserve} is over the limit ({limit.describe()})")


def _limit(platform: str, channel: str) -> Limit:
    limit = LIMITS.get((platform, channel))
    if limit is None:
        pairs = ", ".join(f"{p} {c}" for p, c in LIMITS)
        raise ValueError(f"Heed sends nothing on {platform} {channel} (it sends on: {pairs})")
    return limit


# --------------------------------------------------------------------------- names


@dataclass(frozen=True)
class TemplateName:
    kind: str
    language: str
    platform: Optional[str] = None
    channel: Optional[str] = None

    @property
    def filename(self) -> str:
        parts = [self.kind, self.platform, self.channel, self.language]
        return ".".join(part for part in parts if part) + SUFFIX

    @classmethod
    def parse(cls, filename: str) -> TemplateName:
        if not filename.endswith(SUFFIX):
            raise ValueError(f"{filename}: a template's name ends in {SUFFIX}")
        parts = filename[: -len(SUFFIX)].split(".")
        if len(parts) < 2 or not re.fullmatch(r"[a-z][a-z0-9_]*", parts[0]):
            raise ValueError(f"{filename}: expected <kind>[.<platform>][.<channel>].<language>{SUFFIX}")
        kind, *middle, language = parts
        if not _LANGUAGE.fullmatch(language):
            raise ValueError(f"{filename}: {language!r} is not a language code like en, nl or pt-br")
        platform = channel = None
        for part in middle:
            if part in SURFACES and platform is None:
                platform = part
            elif part in CHANNELS and channel is None:
                channel = part
            else:
                raise ValueError(f"{filename}: {part!r} is not a platform ({', '.join(SURFACES)}) or channel "
                                 f"({', '.join(CHANNELS)}), or it is there twice")
        return cls(kind=kind, language=language, platform=platform, channel=channel)


def normalize_language(code: Optional[str]) -> Optional[str]:
    """``pt_BR`` -> ``pt-br``; None or an unusable code -> None (the default language is used)."""
    if code is None:
        return None
    normal = code.strip().lower().replace("_", "-")
    return normal if _LANGUAGE.fullmatch(normal) else None


def candidates(kind: str, platform: str, channel: str, language: Optional[str],
               default_language: str = DEFAULT_LANGUAGE) -> list[TemplateName]:
    """The templates to try, in order (the module docstring's fallback order)."""
    languages: list[str] = []
    wanted = normalize_language(language)
    for code in (wanted, wanted.split("-")[0] if wanted else None, default_language):
        if code and code not in languages:
            languages.append(code)
    return [
        TemplateName(kind, code, p, c)
        for code in languages
        for p, c in ((platform, channel), (None, channel), (platform, None), (None, None))
    ]


@functools.cache
def _files(directory: str) -> frozenset[str]:
    return frozenset(path.name for path in Path(directory).glob(f"*{SUFFIX}"))


def template_names(directory: Optional[Path] = None) -> list[TemplateName]:
    """Every template in ``directory`` (default ``templates/``); ValueError on a badly named file."""
    return [TemplateName.parse(name) for name in sorted(_files(str(directory or TEMPLATES_DIR)))]


def available_languages(directory: Optional[Path] = None) -> tuple[str, ...]:
    """Languages with a general template (``<kind>.<language>``) for every acknowledgement kind."""
    names = set(_files(str(directory or TEMPLATES_DIR)))
    languages = {TemplateName.parse(name).language for name in names}
    return tuple(sorted(
        language for language in languages
        if all(TemplateName(kind, language).filename in names for kind in ACK_KINDS)
    ))


def resolve(kind: str, platform: str, channel: str, language: Optional[str], *,
            default_language: str = DEFAULT_LANGUAGE, directory: Optional[Path] = None) -> TemplateName:
    """The template :func:`render` uses; TemplateNotFound naming every file tried."""
    _limit(platform, channel)
    files = _files(str(directory or TEMPLATES_DIR))
    tried = candidates(kind, platform, channel, language, default_language)
    for name in tried:
        if name.filename in files:
            return name
    raise TemplateNotFound(f"no template for {kind} on {platform} {channel} in {language or default_language} "
                           f"(tried: {', '.join(name.filename for name in tried)})")


# --------------------------------------------------------------------------- rendering


@functools.cache
def _environment(directory: str) -> Any:
    # jinja2 is imported on first use: `import app` stays cheap for routes that never render.
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(
        loader=FileSystemLoader(directory),
        autoescape=False,  # plain text, not HTML
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # the files never change under a running Lambda
    )


def render(kind: str, platform: str, channel: str, language: Optional[str], variables: Mapping[str, Any], *,
           default_language: str = DEFAULT_LANGUAGE, directory: Optional[Path] = None) -> str:
    """The text to send: the chosen template rendered with ``variables``, within the platform's limit.

    ``channel`` is where the text goes (``dm``, ``comment``, ``mention``,
    ``private_reply``). ``language`` is the conversation's (None: unknown).
    ``next_available``/``expected_response`` may be words already, or values
    from :mod:`functions.domain.phrases`, worded here in the template's language.
    If the text breaks the limit only because of a very long customer name, it
    is rendered again without the name; otherwise LimitExceeded. TemplateError
    when a template is missing or fails to render.
    """
    name = resolve(kind, platform, channel, language, default_language=default_language, directory=directory)
    values = _values(variables, name.language, kind)
    text = _render(name, values, directory)
    if not fits(platform, channel, text) and values["customer_name"] is not None:
        shorter = _render(name, {**values, "customer_name": None}, directory)
        if fits(platform, channel, shorter):
            return shorter
    check_limit(platform, channel, text, template=name.filename)
    return text


def _render(name: TemplateName, values: dict[str, Any], directory: Optional[Path]) -> str:
    from jinja2 import TemplateError as JinjaError

    try:
        template = _environment(str(directory or TEMPLATES_DIR)).get_template(name.filename)
        return template.render(values).strip()
    except JinjaError as error:
        raise TemplateError(f"{name.filename}: {error.message or error}") from None


def _values(variables: Mapping[str, Any], language: str, kind: str = "") -> dict[str, Any]:
    expected = VARIABLES + KIND_VARIABLES.get(kind, ())
    missing = [key for key in expected if key not in variables]
    unknown = sorted(set(variables) - set(expected))
    if missing or unknown:
        raise TemplateError(f"template variables: missing {missing}, unknown {unknown} (expected: {expected})")
    values: dict[str, Any] = {}
    for key in expected:
        value = variables[key]
        if hasattr(value, "text") and not isinstance(value, str):
            value = value.text(language)
        if key == "customer_name" and isinstance(value, str):
            value = " ".join(value.split()) or None  # no line breaks from a name; blank is no name
        if not isinstance(value, str) and not (key == "customer_name" and value is None):
            raise TemplateError(f"template variable {key}: expected a string, got {type(value).__name__}")
        values[key] = value
    return values


# --------------------------------------------------------------------------- the check


_SAMPLE_NOW = datetime(2026, 9, 18, 21, 40, tzinfo=UTC)  # a Friday evening in Amsterdam
_SAMPLE_TZ = "Europe/Amsterdam"
LONG_NAME = "Maximiliaan-Alexander 🌷 van der Heijden-Oppenheimer tot Wassenaar-Ébène 🚲"
LONG_BRAND = "Vandenberghe & Oosterhuis Klantenservice"


def samples() -> list[tuple[str, dict[str, Any]]]:
    """Sample variables for the check: short, without a name, and the longest wordings with a long name."""
    monday = datetime(2026, 9, 21, 7, 0, tzinfo=UTC)  # 09:00 in Amsterdam
    far = datetime(2026, 9, 30, 7, 0, tzinfo=UTC)  # Wednesday 30 September: the longest day and month words
    common = {"brand_name": "Heed Demo", "conversation_id": "ckbu67nkckh7afvifedce45aq"}
    return [
        ("a short name", {**common, "customer_name": "Ana",
                          "next_available": phrases.NextAvailable(monday, _SAMPLE_NOW, _SAMPLE_TZ),
                          "expected_response": phrases.ExpectedResponse(
                              timedelta(hours=4), monday + timedelta(hours=4), _SAMPLE_NOW, _SAMPLE_TZ, False)}),
        ("no name", {**common, "customer_name": None,
                     "next_available": phrases.NextAvailable(_SAMPLE_NOW, _SAMPLE_NOW, _SAMPLE_TZ),
                     "expected_response": phrases.ExpectedResponse(
                         timedelta(minutes=90), _SAMPLE_NOW + timedelta(minutes=90), _SAMPLE_NOW, _SAMPLE_TZ,
                         True)}),
        ("a long name and the longest wordings", {
            **common, "customer_name": LONG_NAME, "brand_name": LONG_BRAND,
            "next_available": phrases.NextAvailable(far, _SAMPLE_NOW, _SAMPLE_TZ),
            "expected_response": phrases.ExpectedResponse(
                timedelta(hours=8), far + timedelta(hours=8, minutes=14), _SAMPLE_NOW, _SAMPLE_TZ, False)}),
    ]


def check(directory: Optional[Path] = None, default_language: str = DEFAULT_LANGUAGE) -> tuple[list[str], int]:
    """Render every template wherever it can be used; ``(problems, renders)``. Empty problems: all good."""
    directory = directory or TEMPLATES_DIR
    problems: list[str] = []
    names: list[TemplateName] = []
    for filename in sorted(_files(str(directory))):
        try:
            names.append(TemplateName.parse(filename))
        except ValueError as error:
            problems.append(str(error))
    languages = sorted({name.language for name in names})
    kinds = sorted({name.kind for name in names})
    present = {name.filename for name in names}

    for language in languages:
        if language not in phrases.LANGUAGES:
            problems.append(f"templates in {language!r}: functions/domain/phrases.py has no wording for it "
                            f"(has: {', '.join(phrases.LANGUAGES)})")
    for kind in kinds:
        if TemplateName(kind, default_language).filename not in present:
            problems.append(f"{TemplateName(kind, default_language).filename}: missing; every kind needs a "
                            f"general template in the default language ({default_language})")
    for name in names:  # a language overrides either all of a kind's forms or none, never half
        if name.language != default_language or (name.platform is None and name.channel is None):
            continue
        for language in languages:
            has_kind = any(other.kind == name.kind and other.language == language for other in names)
            twin = replace(name, language=language).filename
            if language != default_language and has_kind and twin not in present:
                problems.append(f"{twin}: missing; {name.filename} exists, so {language} {name.platform or ''}"
                                f"{' ' if name.platform and name.channel else ''}{name.channel or ''} would fall "
                                f"back to a general {language} template")

    used: set[str] = set()
    renders = 0
    for kind in kinds:
        for language in languages:
            for platform, channels in SURFACES.items():
                for channel in channels:
                    if channel not in KIND_CHANNELS.get(kind, CHANNELS):
                        continue
                    try:
                        name = resolve(kind, platform, channel, language, default_language=default_language,
                                       directory=directory)
                    except TemplateNotFound:
                        continue
                    if name.language != language:
                        continue  # checked as the default language's own
                    used.add(name.filename)
                    for label, variables in samples():
                        renders += 1
                        problems += _check_one(name, platform, channel, label, variables, directory)
    for name in names:
        if name.filename not in used:
            problems.append(f"{name.filename}: never used (no platform sends {name.channel or 'dm'}"
                            f"{' on ' + name.platform if name.platform else ''}, or a more specific one wins)")
    return sorted(dict.fromkeys(problems)), renders


def _check_one(name: TemplateName, platform: str, channel: str, label: str, variables: dict[str, Any],
               directory: Path) -> list[str]:
    where = f"{name.filename} on {platform} {channel} with {label}"
    variables = {**variables, **{key: SAMPLE_EXTRAS[key] for key in KIND_VARIABLES.get(name.kind, ())}}
    try:
        text = _render(name, _values(variables, name.language, name.kind), directory)
    except (TemplateError, ValueError) as error:  # the template's own fault: said once, not per platform
        message = str(error).removeprefix(f"{name.filename}: ")
        return [f"{name.filename}: {message}"]
    limit = LIMITS[(platform, channel)]
    if not limit.fits(text):
        size = limit.measure(text) + limit.reserve
        return [f"{where}: {size} breaks the limit ({limit.describe()})" if text.strip() else f"{where}: empty"]
    if variables["customer_name"] is None and re.search(r"\bNone\b", text):
        return [f"{where}: says 'None' where the name would be; handle a missing customer_name"]
    return []


def main(argv: Optional[Iterable[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m functions.templating", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="render every template everywhere it is used")
    parser.add_argument("--show", action="store_true", help="print what every template renders to")
    parser.add_argument("--templates", type=Path, default=TEMPLATES_DIR, help="the templates directory")
    parser.add_argument("--default-language", default=None, help="default: [acknowledge] language of the config")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.default_language is None:
        from functions.config import load_config

        args.default_language = load_config().acknowledge.language
    if args.show:
        for name in template_names(args.templates):
            label, variables = samples()[0]
            variables = {**variables, **{key: SAMPLE_EXTRAS[key] for key in KIND_VARIABLES.get(name.kind, ())}}
            text = _render(name, _values(variables, name.language, name.kind), args.templates)
            print(f"--- {name.filename} ({label})\n{text}")
    problems, renders = check(args.templates, args.default_language)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"check-templates: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"check-templates: {len(template_names(args.templates))} templates, {renders} renders, all within limits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
