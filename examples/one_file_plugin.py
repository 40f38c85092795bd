"""The one-file plugin: a hardware model and its hook in a script, registered with the Python API.

No package, no entry point: define a component and a module-level ``@neuronas.hookimpl``, register the
module with ``neuronas.register_plugin``, and the model is a component like any other (for
``neuronas.get_component`` and for searches started from this process). For a plugin that the
``neuronas`` command finds on its own, see docs/tutorial-hardware-plugin.md.

    python examples/one_file_plugin.py [--timesteps 5] [--pj-per-mac 1.0]
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

import neuronas
from neuronas.arch import LayerShape
from neuronas.contracts import HardwareCost
from neuronas.errors import UsageError


@attrs.frozen
class MacCountConfig:
    timesteps: int = 5
    pj_per_mac: float = 1.0
    macs_per_cycle: int = 256
    clock_mhz: float = 100.0
    um2_per_weight: float = 2.0


@attrs.frozen
class MacCountModel:
    """A back-of-the-envelope model: every weight is used once per output pixel and timestep."""

    name: str = "mac-count"
    description: str = "Back-of-the-envelope: energy and time proportional to dense MACs"

    def make_config(self, overrides: Mapping[str, Any] | None = None) -> MacCountConfig:
        valid = [field.name for field in attrs.fields(MacCountConfig)]
        unknown = sorted(set(overrides or {}) - set(valid))
        if unknown:
            raise UsageError(f"unknown mac-count parameter(s) {unknown}; valid keys: {valid}")
        return MacCountConfig(**(overrides or {}))

    def estimate(self, layers: Sequence[LayerShape], config: MacCountConfig) -> HardwareCost:
        macs = [layer.weights * layer.out_size**2 * config.timesteps for layer in layers]
        energy = [count * config.pj_per_mac / 1e6 for count in macs]
        cycles = sum(math.ceil(count / config.macs_per_cycle) for count in macs)
        weights = sum(layer.weights for layer in layers)
        return HardwareCost(
            area_mm2=weights * config.um2_per_weight / 1e6,
            latency_ms=cycles / (config.clock_mhz * 1e3),
            energy_uj=sum(energy),
            n_pe=len(layers),
            n_tiles=1,
            energy_uj_per_layer=tuple(energy),
            per_layer=tuple({"macs": count} for count in macs),
            params=attrs.asdict(config),
            n_weights=weights,
            model=self.name,
        )


@neuronas.hookimpl
def neuronas_register_hardware(register):
    register(MacCountModel())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=5)
    parser.add_argument("--pj-per-mac", type=float, default=1.0)
    args = parser.parse_args(argv)

    plugin = neuronas.register_plugin(sys.modules[__name__], name="one-file-plugin")
    model = neuronas.get_component("hardware", "mac-count")
    print(f"registered plugin {plugin!r}; hardware model {model.name!r}: {model.description}")

    layers = [
        LayerShape("conv", in_channels=3, out_channels=16, kernel=3, in_size=32, out_size=32),
        LayerShape(
            "linear", in_channels=16 * 32 * 32, out_channels=10, kernel=1, in_size=1, out_size=1
        ),
    ]
    config = model.make_config({"timesteps": args.timesteps, "pj_per_mac": args.pj_per_mac})
    cost = model.estimate(layers, config)
    print(f"area_mm2   = {cost.area_mm2:.6g}")
    print(f"latency_ms = {cost.latency_ms:.6g}")
    print(f"energy_uj  = {cost.energy_uj:.6g}")
    for index, (layer, energy) in enumerate(zip(layers, cost.energy_uj_per_layer, strict=True)):
        print(
            f"  layer {index} {layer.kind:<6} {cost.per_layer[index]['macs']:>9} MACs "
            f"{energy:.6g} uJ"
        )


if __name__ == "__main__":
    main()
