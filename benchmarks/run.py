"""`make bench`: every benchmark in one run, figures written under benchmarks/results/."""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = (
    ("throughput", ["-m", "benchmarks.throughput"]),
    ("grouping at scale", ["-m", "benchmarks.grouping_scale"]),
    ("accuracy", ["-m", "benchmarks.accuracy"]),
)


def main() -> int:
    failed = []
    for name, args in BENCHMARKS:
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, *args], check=False).returncode != 0:
            failed.append(name)
    if failed:
        print(f"benchmarks that failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
