"""Exact reuse (ReuseScorer) scores every candidate as CandidateScorer does, from scratch; the
fitness metric offers it (``group_scorer``), so a third-party metric may offer its own."""

import json

import attrs
import pytest
import torch
from click.testing import CliRunner

from neuronas.arch import Architecture, Macro
from neuronas.cli import build_cli
from neuronas.contracts import FitnessScore, ScoringSettings
from neuronas.fitness import hamming_kernel, spike_contribution
from neuronas.plugin import get_component, hookimpl, manager
from neuronas.plugin.guard import ComponentError
from neuronas.reuse import ReuseScorer, reuse_blocker
from neuronas.search.evaluator import CandidateScorer, offered_scorer
from neuronas.snn import CellSearchSpace

TINY_MACRO = Macro(width=4, timesteps=2, in_channels=1, input_size=8, hidden=16, population=2)

#: 3 ops on a 3-node cell (27 cells, some with dead nodes): a two-phase search in seconds.
TINY_SPACE = CellSearchSpace(
    name="tiny-reuse",
    description="zero, skip, conv3x3 on 3 nodes",
    ops=("zero", "skip", "conv3x3"),
    nodes=3,
)


class TinySpacePlugin:
    @hookimpl
    def neuronas_register_search_spaces(self, register):
        register(TINY_SPACE)


def _batches(repeats=2, samples=8):
    generator = torch.Generator().manual_seed(3)
    return tuple(torch.rand(samples, 1, 8, 8, generator=generator) for _ in range(repeats))


def _settings(space="neuronas-3op", bits=8, carry_state=True, **changes):
    options = dict(
        space=space,
        fitness="hamming-logdet",
        quantizer="fixed-point",
        weight_bits=bits,
        rounding="nearest",
        seed=5,
        init="shared",
        carry_state=carry_state,
        batches=_batches(),
    )
    return ScoringSettings(**{**options, **changes})


def _scorers(space, bits, carry_state, **reuse_options):
    settings = _settings(space, bits, carry_state)
    return CandidateScorer(settings), ReuseScorer(settings, **reuse_options)


def _phases(space_name, count, macro=TINY_MACRO):
    cells = list(get_component("space", space_name).enumerate())[:count]
    phase1 = [Architecture(cell, cell, macro).to_string() for cell in cells]
    phase2 = [Architecture(cells[count // 2], cell, macro).to_string() for cell in cells]
    return phase1, phase2


def _reuse_scores(scorer, keys):
    groups = scorer.groups(keys)
    assert [key for group in groups for key in group] == keys
    return [score for group in groups for score, _seconds in scorer.score_group(group)]


@pytest.mark.parametrize("bits", [8, 32])
@pytest.mark.parametrize("carry_state", [True, False])
def test_reuse_scores_equal_scores_from_scratch(bits, carry_state):
    scratch, reuse = _scorers("neuronas-3op", bits, carry_state, max_group=7)
    for keys in _phases("neuronas-3op", 20):
        expected = [scratch(key)[0] for key in keys]
        assert _reuse_scores(reuse, keys) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    "network",
    [
        {"batchnorm": "pooled"},
        {"dropout": 0.5, "weight_init": "snasnet"},
        {"dropout": 0.3, "batchnorm": "pooled"},
    ],
    ids=["pooled-batchnorm", "snasnet-network", "dropout-pooled"],
)
def test_reuse_is_exact_for_every_network_variant(network):
    scratch, reuse = _scorers("neuronas-3op", 8, False, max_group=7)
    for keys in _phases("neuronas-3op", 12, attrs.evolve(TINY_MACRO, **network)):
        expected = [scratch(key)[0] for key in keys]
        assert _reuse_scores(reuse, keys) == pytest.approx(expected, rel=1e-9)


def test_reuse_handles_zero_ops_and_dead_nodes():
    manager.register_plugin(TinySpacePlugin(), name="tiny-reuse")
    scratch, reuse = _scorers("tiny-reuse", 8, True)
    for keys in _phases("tiny-reuse", 15):
        expected = [scratch(key)[0] for key in keys]
        assert _reuse_scores(reuse, keys) == pytest.approx(expected, rel=1e-9)


def test_scores_do_not_depend_on_grouping():
    _scratch, reuse = _scorers("neuronas-3op", 8, True)
    keys = _phases("neuronas-3op", 12)[1]
    alone = [reuse(key)[0] for key in keys]
    assert [s for s, _ in reuse.score_group(keys)] == pytest.approx(alone, rel=1e-12)


def test_groups_cut_where_candidates_share_least():
    cells = list(get_component("space", "neuronas-3op").enumerate())
    _scratch, reuse = _scorers("neuronas-3op", 8, True)
    phase1 = [Architecture(cell, cell, TINY_MACRO).to_string() for cell in cells]
    # cell A's edge 0-1 fixes node 1: three runs of 243 sharing nodes 0 and 1
    assert [len(g) for g in reuse.groups(phase1)] == [243] * 3
    phase2 = [Architecture(cells[0], cell, TINY_MACRO).to_string() for cell in cells]
    # all share cell A; a run of 729 is cut where cell B's node 1 changes
    assert [len(g) for g in reuse.groups(phase2)] == [243] * 3
    small = attrs.evolve(reuse, max_group=20)
    assert max(len(g) for g in small.groups(phase2)) <= 20
    assert reuse.groups([]) == []


def test_reuse_blocker_names_the_reason():
    space = get_component("space", "neuronas-3op")
    assert reuse_blocker(_settings(), space) is None
    assert "independent" in reuse_blocker(_settings(init="independent"), space)
    assert "stochastic" in reuse_blocker(_settings(rounding="stochastic"), space)
    assert "fitness" in offered_scorer(
        _settings(fitness="params"), space, get_component("fitness", "params")
    )
    backward = get_component("space", "snasnet-backward")
    assert "temporal feedback" in reuse_blocker(_settings("snasnet-backward"), backward)


def _run(tmp_path, name, *extra, plugins=()):
    manager.reset()
    manager.register_plugin(TinySpacePlugin(), name="tiny-reuse")
    for plugin in plugins:
        manager.register_plugin(plugin, name=type(plugin).__name__)
    out = tmp_path / name
    args = [
        "run",
        "--space=tiny-reuse",
        "--width=4",
        "--timesteps=2",
        "--hidden=16",
        "--population=2",
        "--fitness-batch=8",
        "--fitness-batches=2",
        f"--out={out}",
        "--json",
        *extra,
    ]
    result = CliRunner().invoke(build_cli(), args)
    assert result.exit_code == 0, result.output
    journal = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]
    return json.loads((out / "result.json").read_text()), journal


def test_two_phase_search_same_result_with_and_without_reuse(tmp_path):
    with_reuse, journal_reuse = _run(tmp_path, "reuse")
    without, journal_scratch = _run(tmp_path, "scratch", "--no-reuse")
    assert with_reuse["config"]["reuse"] is True and without["config"]["reuse"] is False
    assert with_reuse["config"]["init"] == "shared"
    assert with_reuse["best"]["arch"] == without["best"]["arch"]
    assert with_reuse["best"]["score"] == pytest.approx(without["best"]["score"], rel=1e-9)
    assert [r["arch"] for r in journal_reuse] == [r["arch"] for r in journal_scratch]
    for a, b in zip(journal_reuse, journal_scratch, strict=True):
        assert (a["score"] is None) == (b["score"] is None)
        if a["score"] is not None:
            assert a["score"] == pytest.approx(b["score"], rel=1e-9)
    assert not any("reuse" in note for note in with_reuse["notes"])


def test_independent_init_notes_that_reuse_did_not_apply(tmp_path):
    result, _journal = _run(tmp_path, "independent", "--init=independent")
    assert result["config"]["init"] == "independent"
    assert any("exact reuse was not applicable" in note for note in result["notes"])


# --- a third-party metric decides its own reuse --------------------------------------------------

#: The groups `RecordingScorer` was given, in order (the local executor runs in this process).
GIVEN_GROUPS: list[list[str]] = []


@attrs.frozen
class WeightSum:
    """A third-party metric without ``group_scorer``: the sum of the network's weights."""

    name: str = "weight-sum"
    description: str = "sum of the weights; higher is better"
    higher_is_better: bool = True

    def score(self, model, batches, *, carry_state=True):
        value = float(sum(p.detach().sum() for p in model.parameters()))
        return FitnessScore(value, (value,))


@attrs.frozen
class RecordingScorer:
    """Scores from scratch, in groups of 3, recording every group it is given."""

    settings: ScoringSettings

    def groups(self, archs):
        return [list(archs[i : i + 3]) for i in range(0, len(archs), 3)]

    def score_group(self, archs):
        GIVEN_GROUPS.append(list(archs))
        return CandidateScorer(self.settings).score_group(archs)

    def __call__(self, arch):
        return self.score_group([arch])[0]


@attrs.frozen
class GroupedWeightSum(WeightSum):
    """The same metric, offering its own group scorer."""

    name: str = "grouped-weight-sum"

    def group_scorer(self, settings, space):
        return RecordingScorer(settings)


class MetricsPlugin:
    @hookimpl
    def neuronas_register_fitness_metrics(self, register):
        register(WeightSum())
        register(GroupedWeightSum())


def test_a_third_party_metric_offering_a_group_scorer_gets_it_used(tmp_path):
    GIVEN_GROUPS.clear()
    result, journal = _run(
        tmp_path, "grouped", "--fitness=grouped-weight-sum", plugins=[MetricsPlugin()]
    )
    scored = [record["arch"] for record in journal if record["score"] is not None]
    assert scored and [arch for group in GIVEN_GROUPS for arch in group] == scored
    assert max(len(group) for group in GIVEN_GROUPS) == 3  # its own groups, not 8 or 243
    assert not any("reuse" in note for note in result["notes"])
    scratch, _journal = _run(
        tmp_path, "scratch", "--fitness=weight-sum", "--no-reuse", plugins=[MetricsPlugin()]
    )
    assert result["best"]["score"] == pytest.approx(scratch["best"]["score"], rel=1e-12)


def test_a_metric_without_a_group_scorer_is_scored_from_scratch_saying_why(tmp_path):
    GIVEN_GROUPS.clear()
    result, journal = _run(tmp_path, "plain", "--fitness=weight-sum", plugins=[MetricsPlugin()])
    assert any(record["score"] is not None for record in journal) and not GIVEN_GROUPS
    assert (
        "exact reuse was not applicable (fitness 'weight-sum' offers no group scorer, so nothing "
        "is shared); scored from scratch"
    ) in result["notes"]


def test_a_group_scorer_that_is_not_one_is_a_component_error():
    @attrs.frozen
    class Broken(WeightSum):
        def group_scorer(self, settings, space):
            return None

    with pytest.raises(ComponentError, match=r"group_scorer\(\) returned a NoneType"):
        offered_scorer(_settings(), get_component("space", "neuronas-3op"), Broken())


def test_spike_contribution_is_the_sum_of_per_step_kernels():
    generator = torch.Generator().manual_seed(1)
    spikes = (torch.rand(3, 6, 4, 5, generator=generator) > 0.6).float()
    spikes[1, 2] = 0  # a silent sample
    expected = sum(hamming_kernel(step.reshape(6, -1) > 0) for step in spikes)
    torch.testing.assert_close(spike_contribution(spikes), expected, rtol=1e-12, atol=1e-12)
