"""``python -m tests.reliability [--short] [--only N,...]``: run every scenario, one line each, then the totals."""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import traceback

from tests.reliability import common

FULL = {1: 10_000, 2: 1_000, 3: 200, 4: 60, 5: 500, 6: 1}
SHORT = {1: 150, 2: 60, 3: 10, 4: 8, 5: 25, 6: 1}


def scenarios() -> dict[int, object]:
    from tests.reliability import s1_load, s2_storage, s3_platform, s4_checker, s5_hostile, s6_staff

    return {1: s1_load, 2: s2_storage, 3: s3_platform, 4: s4_checker, 5: s5_hostile, 6: s6_staff}


def main(argv: list[str] | None = None, sizes: dict[int, int] | None = None) -> list[common.Result]:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability")
    parser.add_argument("--short", action="store_true", help="small sizes (what make test runs)")
    parser.add_argument("--only", default="", help="comma-separated scenario numbers")
    parser.add_argument("--size", action="append", default=[], metavar="N=SIZE",
                        help="override one scenario's size, e.g. --size 1=2000 (repeatable)")
    parser.add_argument("--logs", action="store_true", help="show Heed's own log lines (hidden by default)")
    args = parser.parse_args(argv)
    sizes = dict(sizes or (SHORT if args.short else FULL))
    for override in args.size:
        number, _, value = override.partition("=")
        sizes[int(number)] = int(value)
    chosen = [int(n) for n in args.only.split(",") if n] or sorted(sizes)
    results: list[common.Result] = []
    try:
        for number, module in scenarios().items():
            if number not in chosen:
                continue
            started = time.monotonic()
            quiet = contextlib.nullcontext() if args.logs else contextlib.redirect_stdout(open(os.devnull, "w"))  # noqa: SIM115
            try:
                with quiet:
                    result = module.run(sizes[number])
            except Exception as exc:  # noqa: BLE001 - a crashed scenario is a failed one
                result = common.Result(module.NAME, False, {}, [f"crashed: {exc!r}",
                                                                 *traceback.format_exc().splitlines()[-6:]])
            result.counts["time"] = f"{time.monotonic() - started:.1f}s"
            results.append(result)
            print(result.line(number), flush=True)
    finally:
        common.shutdown()
    passed = sum(r.passed for r in results)
    print(f"{len(results)} scenarios, {passed} passed, {len(results) - passed} failed", flush=True)
    return results


if __name__ == "__main__":
    sys.exit(0 if all(r.passed for r in main()) else 1)
