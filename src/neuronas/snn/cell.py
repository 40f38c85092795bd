"""A searched cell as a module: node j sums its incoming edges' outputs, the last node is the output.

A cell with backward (temporal feedback) edges runs one timestep at a time, as SNASNet's backward cell
does: node i's input at timestep t is x_i plus what its backward edges computed at t-1.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from spikingjelly.activation_based import base
from torch import nn

from neuronas.arch import Cell
from neuronas.snn.opspec import OpSpec
from neuronas.snn.shapes import back_edge_key, edge_key


class CellModule(base.MemoryModule):
    """x_j = sum_{i<j} o_ij(u_i); returns the last node. Input [T, N, C, H, W].

    Without backward edges u_i = x_i and all timesteps run at once. With them, u_i = x_i + f_i, where
    f_i = sum_{j>i} b_ji(u_j) of the previous timestep (0 at the first), and the output node's u is
    its x; edges run on one timestep [1, N, ...] at a time, their neurons keeping their state. The
    feedback of the last timestep is kept (a memory, cleared by ``reset_net``), so feeding the
    cell one timestep per call gives what one call with all of them gives.
    """

    def __init__(self, cell: Cell, width: int, ops: Mapping[str, OpSpec]) -> None:
        super().__init__()
        self.register_memory("feedback", None)
        self.cell = cell
        self.edges = nn.ModuleDict(
            {edge_key(i, j): ops[op].make(width) for i, j, op in cell.items()}
        )
        self.back_edges = nn.ModuleDict(
            {back_edge_key(j, i): ops[op].make(width) for j, i, op in cell.back_items()}
        )
        self._zero_edges = {(i, j) for i, j, op in cell.items() if ops[op].is_zero}
        self._zero_edges |= {(j, i) for j, i, op in cell.back_items() if ops[op].is_zero}
        self._feedback = any(not ops[op].is_zero for op in cell.back)

    def _sum(self, terms: list[tuple[nn.Module, torch.Tensor]]) -> torch.Tensor | None:
        """The sum of ``module(value)`` over the terms, left to right (None for no terms)."""
        total = None
        for module, value in terms:
            out = module(value)
            total = out if total is None else total + out
        return total

    def _forward_terms(
        self, target: int, nodes: list[torch.Tensor]
    ) -> list[tuple[nn.Module, torch.Tensor]]:
        return [
            (self.edges[edge_key(source, target)], nodes[source])
            for source in range(target)
            if (source, target) not in self._zero_edges
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._feedback:
            return self._forward_in_time(x)
        nodes = [x]
        for target in range(1, self.cell.nodes):
            total = self._sum(self._forward_terms(target, nodes))
            nodes.append(torch.zeros_like(x) if total is None else total)
        return nodes[-1]

    def _forward_in_time(self, x: torch.Tensor) -> torch.Tensor:
        feedback = self.feedback or [None] * (self.cell.nodes - 1)
        outputs = []
        for x_t in x.split(1):
            output, feedback = self._step(x_t, feedback)
            outputs.append(output)
        self.feedback = feedback
        return torch.cat(outputs) if len(outputs) > 1 else outputs[0]

    def _step(
        self, x_t: torch.Tensor, feedback: list[torch.Tensor | None]
    ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        """One timestep [1, N, ...]: the output node, and the feedback for the next timestep."""
        last = self.cell.nodes - 1
        inputs = [x_t if feedback[0] is None else x_t + feedback[0]]
        for target in range(1, last + 1):
            total = self._sum(self._forward_terms(target, inputs))
            value = torch.zeros_like(x_t) if total is None else total
            if target < last and feedback[target] is not None:
                value = value + feedback[target]
            inputs.append(value)
        following = [
            self._sum(
                [
                    (self.back_edges[back_edge_key(source, target)], inputs[source])
                    for source in range(target + 1, last + 1)
                    if (source, target) not in self._zero_edges
                ]
            )
            for target in range(last)
        ]
        return inputs[-1], following
