"""How long the light commands take to start (target: under half of `import torch` alone).

Run: python benchmarks/bench_startup.py [--repeats N]
Each command runs in a fresh interpreter, N times, interleaved with the two references (an empty
interpreter, and one that only imports torch); the table gives medians and ranges in seconds and
each command's time as a ratio to `import torch`, which a busy machine shifts least.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from rich.console import Console
from rich.table import Table

CELL = "|conv3x3~0|+|skip~0|conv3x3~1|+|skip~0|avgpool3x3~1|conv3x3~2|"
NEURONAS = "from neuronas.cli import main; main()"
COMMANDS: dict[str, list[str]] = {
    "python (empty)": ["-c", "pass"],
    "python -c 'import torch'": ["-c", "import torch"],
    "neuronas --version": ["-c", NEURONAS, "--version"],
    "neuronas list hardware": ["-c", NEURONAS, "list", "hardware"],
    "neuronas plugins": ["-c", NEURONAS, "plugins"],
    "neuronas cost CELL": ["-c", NEURONAS, "cost", CELL],
    "neuronas run --help": ["-c", NEURONAS, "run", "--help"],
}
TARGET = 0.5


def wall(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, *args], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(repeats):
        for name, args in COMMANDS.items():
            times[name].append(wall(args))
    torch_time = statistics.median(times["python -c 'import torch'"])
    table = Table(title=f"start-up, {repeats} runs each (target: < {TARGET} x import torch)")
    for column in ("command", "median s", "range s", "/ import torch", "target"):
        table.add_column(column)
    for name, values in times.items():
        median = statistics.median(values)
        light = name.startswith("neuronas")
        table.add_row(
            name,
            f"{median:.2f}",
            f"{min(values):.2f}-{max(values):.2f}",
            f"{median / torch_time:.2f}",
            ("met" if median / torch_time < TARGET else "MISSED") if light else "",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
