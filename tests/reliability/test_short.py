"""The reliability suite's short run (``make test``); ``make reliability`` runs the full sizes."""
from __future__ import annotations

from tests.reliability.__main__ import SHORT, main


def test_every_promise_holds_at_short_sizes(moto_endpoint, capsys):
    results = main(["--short"], sizes=SHORT)
    with capsys.disabled():
        print("\n" + "\n".join(r.line(n) for n, r in enumerate(results, 1)))
    assert results and all(r.passed for r in results), [r.line(n) for n, r in enumerate(results, 1) if not r.passed]
