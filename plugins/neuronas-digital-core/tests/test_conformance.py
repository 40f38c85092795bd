"""The model keeps neuronas' hardware-model contract (neuronas.testing), and the entry point
registers it."""

import neuronas.testing

from neuronas_digital_core import DigitalCoreModel

# More weight bits or channels can spread a layer over more cores, which work in parallel, so
# latency may fall as a layer grows: only area and energy must never fall.
GROWING = ("area_mm2", "energy_uj")


def test_keeps_the_hardware_model_contract():
    neuronas.testing.check_hardware_model(DigitalCoreModel(), monotone=GROWING)


def test_keeps_it_at_other_spike_rates_and_clocks():
    for params in ({"input_spike_rate": 0.0}, {"input_spike_rate": 1.0, "clock_mhz": "50"}):
        neuronas.testing.check_hardware_model(DigitalCoreModel(), params=params, monotone=GROWING)


def test_the_entry_point_registers_it():
    neuronas.testing.check_plugin("digital-core", {"hardware": ["digital-core"]})
