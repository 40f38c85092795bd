"""A searched cell as a module: node j sums its incoming edges' outputs, the last node is the output."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from neuronas.arch import Cell
from neuronas.snn.ops import OpSpec


def edge_key(source: int, target: int) -> str:
    """The module name of edge source->target inside a cell module, e.g. ``e0_1``."""
    return f"e{source}_{target}"


class CellModule(nn.Module):
    """x_j = sum_{i<j} o_ij(x_i) per timestep; returns the last node. Input [T, N, C, H, W]."""

    def __init__(self, cell: Cell, width: int, ops: Mapping[str, OpSpec]) -> None:
        super().__init__()
        self.cell = cell
        self.edges = nn.ModuleDict(
            {edge_key(i, j): ops[op].make(width) for i, j, op in cell.items()}
        )
        self._zero_edges = {(i, j) for i, j, op in cell.items() if ops[op].is_zero}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for target in range(1, self.cell.nodes):
            total = None
            for source in range(target):
                if (source, target) in self._zero_edges:
                    continue
                out = self.edges[edge_key(source, target)](nodes[source])
                total = out if total is None else total + out
            nodes.append(torch.zeros_like(x) if total is None else total)
        return nodes[-1]
