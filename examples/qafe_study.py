"""The QaFE study of the NeuroNAS paper (Fig. 9), on the Python API.

The same candidates (one random search's sample, drawn twice with the same seed) are scored with
32-bit weights and with QaFE at FxP8 (the score of the quantized network). Three settings follow:

- FxP32: the candidate with the best FxP32 score, at 32 bits;
- FxP8-PTQ: that same candidate, quantized to FxP8 after the fact (its FxP8 score);
- FxP8-QaFE: the candidate with the best FxP8 score, i.e. the one QaFE selects.

By construction QaFE's pick scores at least as well at FxP8 as the PTQ one; how often the two picks
differ, and how well FxP32 scores rank FxP8 ones, is what the tables show. With
``--train-epochs N`` both picks are also trained (the FxP32 pick in float then tested after PTQ;
the QaFE pick with quantization-aware training), as in Fig. 9(a).

The default is small enough for a CPU (16 candidates, width 4, digits). The paper's scale:

    python examples/qafe_study.py --dataset cifar100 --data-dir data --width 128 \
        --candidates 5000 --fitness-batch 256 --train-epochs 200
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

import neuronas

NO_BUDGETS = {
    "max_params": None,
    "max_area_mm2": None,
    "max_latency_ms": None,
    "max_energy_uj": None,
}


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    for line in (headers, ["-" * width for width in widths], *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)))


def journal_scores(run_dir: Path) -> dict[str, float]:
    """Candidate (architecture string) -> score, in the order the search evaluated them."""
    scores = {}
    for line in (run_dir / "journal.jsonl").read_text().splitlines():
        record = json.loads(line)
        scores[record["arch"]] = float(record["score"])
    return scores


def ranks(values: list[float]) -> np.ndarray:
    return np.argsort(np.argsort(values)).astype(float)


def train_accuracy(arch: str, args, bits: int, qat: bool, out_dir: Path) -> tuple[float, float]:
    """(full-precision, FxP``bits``) test accuracy after training ``arch``."""
    from neuronas.training import TrainConfig, train

    config = TrainConfig(
        arch=arch,
        dataset=args.dataset,
        data_dir=args.data_dir,
        epochs=args.train_epochs,
        weight_bits=bits if qat else None,
        ptq_bits=(bits,),
        seed=args.seed,
    )
    final = train(config, out_dir).metrics["final"]
    return final["test_accuracy"], final["quantized"][0]["test_accuracy"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=16)
    parser.add_argument("--bits", type=int, default=8, help="the low precision (FxP8 in the paper)")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir")
    parser.add_argument("--width", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--fitness-batch", type=int, default=16)
    parser.add_argument("--fitness-batches", type=int, default=2)
    parser.add_argument("--train-epochs", type=int, default=0, help="also train both picks")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="keep the run folders here [default: temporary]")
    parser.add_argument("--smoke", action="store_true", help="tiny run for tests: 4 candidates")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # tiny networks: a second thread costs more than it gains

    with tempfile.TemporaryDirectory() as temporary:
        root = args.out or Path(temporary)
        scores = {}
        for bits in (32, args.bits):
            run_dir = root / f"fxp{bits}"
            neuronas.search(
                out=run_dir,
                strategy="random",
                candidates=4 if args.smoke else args.candidates,
                weight_bits=bits,
                dataset=args.dataset,
                data_dir=args.data_dir,
                width=args.width,
                hidden=args.hidden,
                fitness_batch=args.fitness_batch,
                fitness_batches=args.fitness_batches,
                budgets=NO_BUDGETS,
                constraints=False,
                seed=args.seed,
            )
            scores[bits] = journal_scores(run_dir)
        archs = list(scores[32])
        high = [scores[32][arch] for arch in archs]
        low = [scores[args.bits][arch] for arch in archs]
        number = {arch: index + 1 for index, arch in enumerate(archs)}
        ptq_pick = max(archs, key=scores[32].__getitem__)
        qafe_pick = max(archs, key=scores[args.bits].__getitem__)

        print(f"candidates scored at FxP32 and FxP{args.bits} (higher is better)")
        print_table(
            [
                "candidate",
                "score FxP32",
                f"score FxP{args.bits}",
                "rank FxP32",
                f"rank FxP{args.bits}",
            ],
            [
                [f"#{number[arch]}", f"{h:.4f}", f"{q:.4f}", str(int(rh) + 1), str(int(rq) + 1)]
                for arch, h, q, rh, rq in zip(
                    archs,
                    high,
                    low,
                    len(archs) - ranks(high) - 1,
                    len(archs) - ranks(low) - 1,
                    strict=True,
                )
            ],
        )
        correlation = float(np.corrcoef(ranks(high), ranks(low))[0, 1]) if len(archs) > 1 else 1.0
        print(
            f"\nrank correlation (Spearman) of FxP32 and FxP{args.bits} scores: {correlation:.3f}\n"
        )

        settings = [
            ("FxP32", "FxP32 score", ptq_pick, 32, scores[32][ptq_pick]),
            (
                f"FxP{args.bits}-PTQ",
                "FxP32 score",
                ptq_pick,
                args.bits,
                scores[args.bits][ptq_pick],
            ),
            (
                f"FxP{args.bits}-QaFE",
                f"FxP{args.bits} score",
                qafe_pick,
                args.bits,
                scores[args.bits][qafe_pick],
            ),
        ]
        accuracy = {}
        if args.train_epochs:
            if importlib.util.find_spec("neuronas.training") is None:
                print("neuronas.training is not available; skipping --train-epochs")
            else:
                full, ptq = train_accuracy(ptq_pick, args, args.bits, False, root / "train-fxp32")
                _full, qat = train_accuracy(qafe_pick, args, args.bits, True, root / "train-qafe")
                accuracy = {"FxP32": full, f"FxP{args.bits}-PTQ": ptq, f"FxP{args.bits}-QaFE": qat}
        headers = ["setting", "selected by", "candidate", "weights", "score"]
        if accuracy:
            headers.append("test accuracy")
        rows = []
        for name, selected_by, arch, bits, score in settings:
            row = [name, selected_by, f"#{number[arch]}", f"FxP{bits}", f"{score:.4f}"]
            if accuracy:
                row.append(f"{100 * accuracy[name]:.2f}%")
            rows.append(row)
        print_table(headers, rows)
        same = "the same candidate" if ptq_pick == qafe_pick else "different candidates"
        print(f"\nFxP32 and QaFE at FxP{args.bits} select {same}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
