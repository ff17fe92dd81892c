"""How long the SMS parser takes on hostile texts: it must stay linear in the length.

    .venv/bin/python bench/sms_parse.py

Prints the time to parse texts of growing length built to defeat a backtracking
reader (a keyword, a run of digits, then punctuation or filler words); doubling the
length should about double the time.
"""

from __future__ import annotations

import time

from volunteer_hub.sms.commands import parse

SHAPES = {
    "sign-up, digits then punctuation": lambda n: "报名 " + "1" * n + " 。" * (n // 2),
    "correction, digits then words": lambda n: "更正 " + "1" * n + " 说明" * (n // 2),
    "several codes": lambda n: "报名 " + " 7503" * (n // 5),
    "filler words": lambda n: "请帮我" * (n // 3) + "报名 7503",
}


def main() -> None:
    for label, build in SHAPES.items():
        cells = []
        for length in (25_000, 50_000, 100_000, 200_000):
            text = build(length)
            start = time.perf_counter()
            parse(text)
            cells.append(f"{len(text):>7,} chars {1000 * (time.perf_counter() - start):7.1f} ms")
        print(f"{label}:\n  " + "\n  ".join(cells))


if __name__ == "__main__":
    main()
