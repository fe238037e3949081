"""Policy files (``heed.toml``) for the tests: builders for the sections they repeat, and putting one in force.

The builders return TOML text, one section each, for :func:`policy_file` to
join; sections a test has on its own (``[triage]``, ``[incidents]``,
``[reports]``, ...) are plain TOML strings passed alongside. The schema is in
``functions/config.py``::

    policy_file(
        sla_policy("test", "10m", warn_at=[0.5]),
        ladder(("0m", ["+15555550100"]), ("5m", ["+15555550101"])),
        acknowledge(ack_rule("dms", match={"channel": "dm"}), language="en"),
    )

In process, :func:`policy_in_force` (a fixture's ``with``) or :func:`use_policy`
(a policy changed halfway through a test) write the file and point
``HEED_CONFIG`` at it; the local stack (:class:`tests.localstack.LocalStack`)
takes the text itself.
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

PUBLIC_URL = "https://heed.example"  # HEED_PUBLIC_URL in process: ack links in alert SMS start with it


def sla_policy(name: str, first: str, next_: str | None = None, *, warn_at: Sequence[float] = (),
               calendar: str = "always", match: Mapping[str, str] | None = None) -> str:
    """One ``[[sla.policies]]`` entry: ``first`` the first-response target, ``next_`` the next (default: ``first``).

    ``warn_at`` (fractions of the target) is left out when empty, as is ``match``
    (a catch-all) when ``None``.
    """
    lines = ["[[sla.policies]]", f"name = {_value(name)}"]
    if match is not None:
        lines.append(f"match = {_value(match)}")
    lines += [f"first_response = {_value(first)}", f"next_response = {_value(first if next_ is None else next_)}"]
    if warn_at:
        lines.append(f"warn_at = {_value(list(warn_at))}")
    lines.append(f"calendar = {_value(calendar)}")
    return _section(lines)


def ladder(*levels: tuple[str, Sequence[str]]) -> str:
    """The ``[[alerts.ladder]]`` levels, in order, each ``(after, phones)``: ``ladder(("0m", [A]), ("5m", [B]))``."""
    lines: list[str] = []
    for after, phones in levels:
        lines += ["[[alerts.ladder]]", f"after = {_value(after)}", f"phones = {_value(list(phones))}"]
    return _section(lines)


def ack_rule(name: str | None = None, *, when: str = "always", match: Mapping[str, str] | None = None,
             reply: str | None = None) -> str:
    """One ``[[acknowledge.rules]]`` entry; ``name``, ``match`` and ``reply`` are left out when ``None``."""
    lines = ["[[acknowledge.rules]]"]
    if name is not None:
        lines.append(f"name = {_value(name)}")
    if match is not None:
        lines.append(f"match = {_value(match)}")
    lines.append(f"when = {_value(when)}")
    if reply is not None:
        lines.append(f"reply = {_value(reply)}")
    return _section(lines)


def acknowledge(*rules: str, language: str | None = None) -> str:
    """The ``[acknowledge]`` table (``language`` left out when ``None``), then its ``rules`` (:func:`ack_rule`)."""
    head = _section(["[acknowledge]"] + ([f"language = {_value(language)}"] if language is not None else []))
    return "\n".join([head, *rules])


def policy_file(*sections: str) -> str:
    """A whole policy file: the ``sections`` (builders' results or plain TOML) one after another."""
    return "\n".join(section.strip("\n") + "\n" for section in sections)


def use_policy(text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, name: str = "heed.toml",
               public_url: str | None = None) -> Path:
    """Write ``text`` to ``tmp_path / name``, point ``HEED_CONFIG`` (and ``HEED_PUBLIC_URL``, when given) at it
    through ``monkeypatch``, and forget the policy loaded so far (``config.reset()``). The file's path."""
    from functions import config  # here, not above: the e2e and reliability modules import only the builders

    path = tmp_path / name
    path.write_text(text)
    monkeypatch.setenv("HEED_CONFIG", str(path))
    if public_url is not None:
        monkeypatch.setenv("HEED_PUBLIC_URL", public_url)
    config.reset()
    return path


@contextmanager
def policy_in_force(text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *,
                    public_url: str | None = None) -> Iterator[Path]:
    """:func:`use_policy` for the ``with`` block, then ``config.reset()`` again (monkeypatch restores the env)."""
    from functions import config

    path = use_policy(text, tmp_path, monkeypatch, public_url=public_url)
    try:
        yield path
    finally:
        config.reset()


def _section(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


def _value(value: str | float | list | Mapping[str, str]) -> str:
    """``value`` as TOML: a string (JSON's escapes are TOML's), a number, an array, an inline table."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{key} = {_value(item)}" for key, item in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    return repr(value)
