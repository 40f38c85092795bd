"""The entry-point module: ``[project.entry-points.neuronas] digital-core = this module``."""

import neuronas

from neuronas_digital_core.model import DigitalCoreModel


@neuronas.hookimpl
def neuronas_register_hardware(register):
    register(DigitalCoreModel())
