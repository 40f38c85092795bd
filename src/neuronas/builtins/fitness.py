"""Built-in fitness metric: SNASNet's Hamming log-det (``hamming-logdet``)."""

from neuronas.fitness import HammingLogDet
from neuronas.plugin import hookimpl


@hookimpl
def neuronas_register_fitness_metrics(register):
    register(HammingLogDet())
