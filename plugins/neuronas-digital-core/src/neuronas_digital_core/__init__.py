"""neuronas-digital-core: a neuronas hardware model for a digital neuromorphic core."""

from neuronas_digital_core.model import (
    NAME,
    PARAMETER_NAMES,
    DigitalCoreConfig,
    DigitalCoreModel,
)

__version__ = "0.1.0"

__all__ = ["NAME", "PARAMETER_NAMES", "DigitalCoreConfig", "DigitalCoreModel", "__version__"]
