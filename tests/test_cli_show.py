"""`neuronas show ARCH`: cell equations, the layer table and the memory cost."""

import json

import pytest
from click.testing import CliRunner

from neuronas import plugin
from neuronas.cli import build_cli
from neuronas.errors import ArchitectureSyntaxError, UnknownComponentError, UsageError

CELL = "|conv3x3~0|+|skip~0|conv3x3~1|+|skip~0|avgpool3x3~1|conv3x3~2|"
TINY = "width=4;timesteps=2;input=3x8x8;classes=3;hidden=8;population=2"


def invoke(*args):
    plugin.reset()
    return CliRunner().invoke(build_cli(), ["show", *args])


def test_show_prints_equations_layers_and_memory():
    result = invoke(f"a={CELL};b={CELL};{TINY}")
    assert result.exit_code == 0, result.output
    assert "x1 = conv3x3(x0)" in result.output
    assert "x2 = skip(x0) + conv3x3(x1)" in result.output
    assert "x3 = skip(x0) + avgpool3x3(x1) + conv3x3(x2)" in result.output
    assert "cell_b.edges.e2_3.conv" in result.output
    # 108 stem + 3 * 144 cell A + 288 downsample + 3 * 576 cell B
    assert "memory cost (conv weights): 2,556" in result.output
    assert "classifier" not in result.output.split("weight layers")[1].split("memory cost")[0]


def test_show_json_with_classifier_and_a_single_cell():
    # a 3x32x32 dataset (only its input shape and classes are read; no files are needed)
    result = invoke(CELL, "--dataset", "cifar10", "--include-classifier", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["architecture"].startswith(f"a={CELL};b={CELL};width=128")
    assert data["space"] == "neuronas-3op"
    assert data["cells"]["a"]["nodes"][1] == "x2 = skip(x0) + conv3x3(x1)"
    assert [layer["name"] for layer in data["layers"][-2:]] == [
        "classifier.hidden",
        "classifier.out",
    ]
    memory = 3456 + 3 * 147456 + 294912 + 3 * 589824
    assert data["memory_cost"] == memory == data["params"]["memory"]
    assert data["mapped_weights"] == memory + 16384 * 1024 + 1024 * 100
    assert data["params"]["classifier"] == 16384 * 1024 + 1024 * 100 + 100


def test_show_snasnet_reports_how_dead_nodes_are_built():
    cell_b = "|zero~0|+|skip~0|conv1x1~1|+|skip~0|avgpool3x3~1|conv3x3~2|"
    result = invoke(f"a={CELL};b={cell_b};{TINY}", "--space", "snasnet", "--json")
    assert result.exit_code == 0, result.output
    b = json.loads(result.output)["cells"]["b"]
    assert b["built_as"] == "|zero~0|+|skip~0|zero~1|+|skip~0|zero~1|conv3x3~2|"
    assert b["nodes"] == ["x1 = 0", "x2 = skip(x0)", "x3 = skip(x0) + conv3x3(x2)"]


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((CELL, "--space", "nope"), UnknownComponentError, "unknown search space 'nope'"),
        (
            ("|conv9x9~0|+|skip~0|skip~1|+|skip~0|skip~1|skip~2|",),
            UsageError,
            "op 'conv9x9' on edge 0-1 is not in space 'neuronas-3op'",
        ),
        (("|skip~0|+|skip~1|",), ArchitectureSyntaxError, "group 2"),
        ((f"a={CELL};b={CELL};input=3x6x6",), UsageError, "multiple of 4"),
    ],
)
def test_show_errors_are_user_errors(args, error, message):
    result = invoke(*args)
    assert result.exit_code == error.exit_code
    assert message in result.output and "Traceback" not in result.output


def test_show_and_cost_read_a_bare_cell_as_a_search_would():
    """The same parser everywhere: a search's width 128 and the dataset's input and classes."""
    shown = json.loads(invoke(CELL, "--json").output)
    assert shown["architecture"].endswith("input=1x8x8;classes=10;hidden=1024;population=10;"
                                           "stem_stride=1;bn=per-step;dropout=0.0;init=pytorch")  # fmt: skip
    plugin.reset()
    cost = CliRunner().invoke(build_cli(), ["cost", CELL, "--json"])
    assert cost.exit_code == 0, cost.output
    costed = json.loads(cost.output)
    assert costed["params"] == shown["memory_cost"]
    assert costed["hardware_params"]["weight_bits"] == 8  # a search's precision, also for spikesim
    plugin.reset()
    spikesim = CliRunner().invoke(build_cli(), ["cost", CELL, "--hardware", "spikesim", "--json"])
    assert json.loads(spikesim.output)["hardware_params"]["weight_bits"] == 8
    snasnet = json.loads(invoke(CELL, "--space", "snasnet", "--json").output)
    assert snasnet["architecture"].endswith(";dropout=0.5;init=snasnet")
