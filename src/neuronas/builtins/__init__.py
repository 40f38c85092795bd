"""The NeuroNAS defaults, each an ordinary plugin module registered exactly like a third-party one.

Built-ins are registered first, in this order; their plugin names are the module names.
"""

BUILTIN_PLUGINS: tuple[str, ...] = (
    "neuronas.builtins.spaces",
    "neuronas.builtins.fitness",
    "neuronas.builtins.quantizers",
    "neuronas.builtins.datasets",
    "neuronas.builtins.hardware",
    "neuronas.builtins.strategies",
    "neuronas.builtins.executors",
    "neuronas.builtins.exporters",
    "neuronas.builtins.search",
    "neuronas.builtins.training",
    "neuronas.builtins.study",
    "neuronas.builtins.report",
    "neuronas.builtins.scaffold",
    "neuronas.builtins.sweep",
)
