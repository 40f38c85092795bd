"""Built-in fitness metrics: SNASNet's Hamming log-det (``hamming-logdet``, the NeuroNAS default), its
per-layer normalised variant, and zero-cost proxies from the literature (``params``, ``synflow``,
``jacob-cov``) that ``neuronas study`` compares with it."""

from neuronas.fitness import HammingLogDet
from neuronas.plugin import hookimpl
from neuronas.proxies import JacobianCovariance, ParameterCount, SynFlow

PER_LAYER_HAMMING = HammingLogDet(
    name="hamming-logdet-per-layer",
    description=(
        "Hamming log-det with every LIF layer's kernel divided by its neuron count, so large "
        "layers do not dominate; higher is better"
    ),
    per_layer=True,
)


@hookimpl
def neuronas_register_fitness_metrics(register):
    for metric in (
        HammingLogDet(),
        PER_LAYER_HAMMING,
        ParameterCount(),
        SynFlow(),
        JacobianCovariance(),
    ):
        register(metric)
