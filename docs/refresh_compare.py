"""Re-run the shipped comparisons of docs/compare.md and put their fresh verdicts and figures in.

    python docs/refresh_compare.py [--workers 2] [--only jeminay]

For every ```bash block holding a ``checkpoint-sim compare ...`` command in docs/compare.md,
this runs the command (with ``--workers`` and a temporary ``--out``), replaces the ```text block
that follows with the verdict lines it printed, and copies its ``compare.png`` over the figure
the section shows. The "Reading:" paragraphs are prose: check their numbers by hand afterwards.
"""
from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
PAGE = DOCS / "compare.md"
SECTION = re.compile(r"```bash\n(checkpoint-sim compare [^\n]+)\n```\n\n```text\n(.*?)```\n\n!\[[^\]]*\]\(([^)]+)\)",
                     re.S)


def verdicts(command: str, out: Path, workers: int) -> str:
    """The verdict lines ``command`` prints (run from the repository root)."""
    arguments = shlex.split(command)[1:] + ["--workers", str(workers), "--out", str(out)]
    printed = subprocess.run([sys.executable, "-m", "sim.cli", *arguments], check=True, capture_output=True,
                             text=True, cwd=DOCS.parent).stdout
    lines = [line.strip() for line in printed.splitlines() if line.startswith("  ")]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", help="refresh only the commands that contain this text (e.g. a scenario name)")
    args = parser.parse_args()
    text = PAGE.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as scratch:
        def refresh(match: re.Match) -> str:
            command, _, figure = match.groups()
            if args.only and args.only not in command:
                return match.group(0)
            out = Path(scratch) / str(abs(hash(command)))
            fresh = verdicts(command, out, args.workers)
            shutil.copyfile(out / "compare.png", DOCS / figure)
            print(f"refreshed: {command}", file=sys.stderr)
            return match.group(0).replace(match.group(2), fresh, 1)
        text = SECTION.sub(refresh, text)
    PAGE.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
