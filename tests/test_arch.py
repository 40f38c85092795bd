"""Cell and architecture strings: canonical form, round trip, and errors that say where."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neuronas.arch import Architecture, Cell, LayerShape, Macro, back_edges_of, edges_of
from neuronas.builtins.spaces import EXTENDED, NEURONAS_3OP, SNASNET
from neuronas.errors import ArchitectureSyntaxError

EXAMPLE = "|conv3x3~0|+|skip~0|avgpool3x3~1|+|skip~0|conv3x3~1|skip~2|"


def test_cell_string_is_grouped_by_target_and_ops_are_source_major():
    cell = Cell.parse(EXAMPLE)
    # c01, c02, c03, c12, c13, c23
    assert cell.ops == ("conv3x3", "skip", "skip", "avgpool3x3", "conv3x3", "skip")
    assert cell.op(1, 2) == "avgpool3x3"
    assert cell.inputs_of(3) == ((0, "skip"), (1, "conv3x3"), (2, "skip"))
    assert cell.nodes == 4
    assert str(cell) == EXAMPLE


def test_edges_are_source_major():
    assert edges_of(4) == ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))


BACKWARD = "|skip~0|+|conv3x3~0|zero~1|+|skip~0|skip~1|zero~2|<|zero~1|zero~2|zero~3|+|avgpool3x3~2|zero~3|+|conv1x1~3|"


def test_backward_edges_are_written_after_the_forward_ones_grouped_by_target():
    cell = Cell.parse(BACKWARD)
    assert cell.ops == ("skip", "conv3x3", "skip", "zero", "skip", "zero")
    # b10, b20, b30, b21, b31, b32 (SNASNet's order)
    assert cell.back == ("zero", "zero", "zero", "avgpool3x3", "zero", "conv1x1")
    assert back_edges_of(4) == ((1, 0), (2, 0), (3, 0), (2, 1), (3, 1), (3, 2))
    assert cell.back_inputs_of(1) == ((2, "avgpool3x3"), (3, "zero"))
    assert list(cell.back_items())[-1] == (3, 2, "conv1x1")
    assert str(cell) == BACKWARD
    assert Cell.parse(EXAMPLE).back == () and "<" not in str(Cell.parse(EXAMPLE))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (EXAMPLE + "<|skip~1|skip~2|skip~3|", r"after '<' has 1 group\(s\); a 4-node cell needs 3"),
        (
            EXAMPLE + "<|skip~1|skip~2|+|skip~2|skip~3|+|skip~3|",
            r"backward group 1 .* has 2 entries",
        ),
        (EXAMPLE + "<|skip~0|skip~2|skip~3|+|skip~2|skip~3|+|skip~3|", r"expected '<op>~1'"),
    ],
)
def test_malformed_backward_parts_say_where_and_what(text, message):
    with pytest.raises(ArchitectureSyntaxError, match=message):
        Cell.parse(text)


def test_new_macro_keys_parse_and_are_checked():
    arch = Architecture.parse(f"a={EXAMPLE};b={EXAMPLE};bn=pooled;dropout=0.5;init=snasnet")
    assert (arch.macro.batchnorm, arch.macro.dropout, arch.macro.weight_init) == (
        "pooled",
        0.5,
        "snasnet",
    )
    assert arch.to_string().endswith(";bn=pooled;dropout=0.5;init=snasnet")
    for bad, message in (
        ("bn=batch", "batchnorm must be one of per-step, pooled"),
        ("dropout=1", r"dropout must be in \[0, 1\)"),
        ("dropout=half", "expected a number in"),
        ("init=xavier", "weight_init must be one of pytorch, snasnet"),
    ):
        with pytest.raises(ArchitectureSyntaxError, match=message):
            Architecture.parse(f"a={EXAMPLE};b={EXAMPLE};{bad}")


def test_op_of_a_missing_edge_says_why():
    with pytest.raises(KeyError, match="no edge 2-1"):
        Cell.parse(EXAMPLE).op(2, 1)


@pytest.mark.parametrize("space", [NEURONAS_3OP, SNASNET, EXTENDED], ids=lambda s: s.name)
def test_every_cell_of_every_builtin_space_round_trips(space):
    count = 0
    for cell in space.enumerate():
        assert Cell.parse(cell.to_string()) == cell
        count += 1
    assert count == {"neuronas-3op": 729, "snasnet": 12500, "extended": 15625}[space.name]


op_names = st.from_regex(r"[A-Za-z0-9_.-]{1,12}", fullmatch=True)


@st.composite
def cells(draw, ops=op_names):
    nodes = draw(st.integers(2, 6))
    count = len(edges_of(nodes))
    forward = draw(st.lists(ops, min_size=count, max_size=count))
    back = draw(st.one_of(st.just([]), st.lists(ops, min_size=count, max_size=count)))
    return Cell(forward, back)


macros = st.builds(
    Macro,
    width=st.integers(1, 4096),
    timesteps=st.integers(1, 64),
    in_channels=st.integers(1, 16),
    input_size=st.integers(1, 512),
    num_classes=st.integers(1, 1000),
    hidden=st.integers(1, 8192),
    population=st.integers(1, 50),
    stem_stride=st.integers(1, 4),
    batchnorm=st.sampled_from(["per-step", "pooled"]),
    dropout=st.floats(0.0, 1.0, exclude_max=True),
    weight_init=st.sampled_from(["pytorch", "snasnet"]),
)


@given(cells())
def test_any_cell_round_trips(cell):
    assert Cell.parse(str(cell)) == cell


@given(cells(st.sampled_from(SNASNET.ops)), cells(st.sampled_from(EXTENDED.ops)), macros)
def test_any_architecture_round_trips(cell_a, cell_b, macro):
    arch = Architecture(cell_a, cell_b, macro)
    text = arch.to_string()
    assert Architecture.parse(text) == arch
    assert Architecture.parse(text).to_string() == text


@given(st.text(alphabet="|+~;=x0123abconv3kip ", max_size=60))
def test_garbage_is_a_syntax_error_or_a_stable_parse(text):
    for parse in (Cell.parse, Architecture.parse):
        try:
            parsed = parse(text)
        except ArchitectureSyntaxError:
            continue
        assert parse(str(parsed)) == parsed


def test_omitted_macro_keys_take_defaults_and_whitespace_is_ignored():
    arch = Architecture.parse(f" a={EXAMPLE} ; b = {EXAMPLE};width=8 ")
    assert arch.macro == Macro(width=8)
    assert arch.cell_a == arch.cell_b == Cell.parse(EXAMPLE)


def test_input_key_sets_channels_and_size():
    arch = Architecture.parse(f"a={EXAMPLE};b={EXAMPLE};input=1x64x64;stem_stride=2;classes=200")
    assert (arch.macro.in_channels, arch.macro.input_size) == (1, 64)
    assert (arch.macro.stem_stride, arch.macro.num_classes) == (2, 200)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty cell string"),
        (
            "conv3x3~0",
            r"group 1 \('conv3x3~0', the inputs of node 1\) must start and end with '\|'",
        ),
        ("|conv3x3~0|+|skip~0|", r"group 2 .* has 1 entries, expected 2"),
        ("|conv3x3~1|", r"entry 1 \('conv3x3~1'\): expected '<op>~0'"),
        ("|conv3x3~0|+|skip~0|skip|", r"group 2 .*entry 2 \('skip'\): expected '<op>~1'"),
        ("|~0|", r"entry 1 \('~0'\): expected '<op>~0'"),
        ("|con v~0|", r"operation name 'con v' is not valid"),
        ("|skip~0|+", "group 2 \\(''"),
    ],
)
def test_malformed_cell_strings_say_where_and_what(text, message):
    with pytest.raises(ArchitectureSyntaxError, match=message):
        Cell.parse(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"a={EXAMPLE}", "has no 'b=<cell>' part"),
        (f"b={EXAMPLE}", "has no 'a=<cell>' part"),
        (f"a={EXAMPLE};b={EXAMPLE};depth=3", "part 3: unknown key 'depth'; expected one of a, b"),
        (f"a={EXAMPLE};b={EXAMPLE};width", r"part 3 \('width'\): expected 'key=value'"),
        (f"a={EXAMPLE};a={EXAMPLE}", "part 2: key 'a' given twice"),
        (f"a={EXAMPLE};b={EXAMPLE};width=x", "width='x'; expected a positive integer"),
        (f"a={EXAMPLE};b={EXAMPLE};width=²", "width='²'; expected a positive integer"),
        (f"a={EXAMPLE};b={EXAMPLE};width=0", "width must be a positive integer, got 0"),
        (f"a={EXAMPLE};b={EXAMPLE};input=3x32x16", "input='3x32x16'; expected CxHxW with H == W"),
        (f"a={EXAMPLE};b={EXAMPLE};input=32", "input='32'; expected CxHxW"),
        (f"a={EXAMPLE};b=|skip~0|+|skip~1|", r"in cell B \(b=...\): cell string .* group 2"),
        (f"a=|skip|;b={EXAMPLE}", r"in cell A \(a=...\): .*expected '<op>~0'"),
    ],
)
def test_malformed_architecture_strings_say_where_and_what(text, message):
    with pytest.raises(ArchitectureSyntaxError, match=message):
        Architecture.parse(text)


@pytest.mark.parametrize("count", [0, 2, 4, 5, 7])
def test_cell_needs_a_triangular_number_of_ops(count):
    with pytest.raises(ArchitectureSyntaxError, match=f"got {count}"):
        Cell(("skip",) * count)


def test_cell_rejects_op_names_that_would_break_the_string():
    with pytest.raises(ArchitectureSyntaxError, match=r"edge 0-1: operation name 'a\|b'"):
        Cell(("a|b",))


def test_layer_shape_weights_ignore_feature_map_size():
    conv = LayerShape("conv", 4, 8, 3, 32, 16, stride=2)
    assert conv.weights == 4 * 8 * 9
    assert LayerShape("linear", 100, 10, 1, 1, 1).weights == 1000
