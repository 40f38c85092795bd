"""Built-in quantizer: per-tensor signed fixed-point weights (``fixed-point``)."""

from neuronas.plugin import hookimpl
from neuronas.quantization import FixedPointQuantizer


@hookimpl
def neuronas_register_quantizers(register):
    register(FixedPointQuantizer())
