"""The house's layering, checked on the source: no import cycle (type-level imports included), no
arrow from the kernel into the built-ins, and the light commands start without torch."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SOURCE = Path(__file__).parents[1] / "src" / "neuronas"
KERNEL = ("neuronas.plugin", "neuronas.contracts", "neuronas.errors")


def module_names() -> dict[str, Path]:
    names = {}
    for path in SOURCE.rglob("*.py"):
        parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def imports_of(path: Path, modules: dict[str, Path], everywhere: bool) -> set[str]:
    """The neuronas modules ``path`` imports at module level (under ``if TYPE_CHECKING`` too), or
    anywhere, in functions as well, when ``everywhere``. ``from package import submodule`` is an
    arrow to the submodule."""
    found: set[str] = set()
    nodes = ast.walk(ast.parse(path.read_text())) if everywhere else _module_level(path)
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & set(modules)
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(node.module)
    return {name for name in found if name in modules}


def _module_level(path: Path):
    pending = list(ast.parse(path.read_text()).body)
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, ast.If | ast.Try):
            pending.extend(node.body + node.orelse + getattr(node, "handlers", []))
        elif isinstance(node, ast.ExceptHandler):
            pending.extend(node.body)


def test_no_import_cycle_even_at_type_level():
    modules = module_names()
    graph = {
        name: imports_of(path, modules, everywhere=False) - {name} for name, path in modules.items()
    }
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            pytest.fail("import cycle: " + " -> ".join([*trail[trail.index(name) :], name]))
        if name in done:
            return
        for imported in sorted(graph[name]):
            visit(imported, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_the_kernel_imports_no_builtin():
    modules = module_names()
    for name, path in modules.items():
        if name.startswith(KERNEL):
            upward = {
                m
                for m in imports_of(path, modules, everywhere=True)
                if m.startswith("neuronas.builtins")
            }
            assert not upward, f"{name} imports {sorted(upward)}"


LIGHT_COMMANDS = [
    ["--version"],
    ["--help"],
    ["list", "hardware"],
    ["plugins"],
    ["cost", "|conv3x3~0|+|skip~0|conv3x3~1|+|skip~0|avgpool3x3~1|conv3x3~2|"],
    ["run", "--help"],
    ["report", "--help"],
    ["sweep", "--help"],
]


def test_light_commands_do_not_import_torch():
    """Start-up is most of a light command's time and torch is most of start-up (see
    docs/performance.md); these commands must not pay for it."""
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from neuronas.cli import build_cli\n"
        f"for args in {LIGHT_COMMANDS!r}:\n"
        "    result = CliRunner().invoke(build_cli(), args)\n"
        "    assert result.exit_code == 0, (args, result.output)\n"
        "    assert 'torch' not in sys.modules, args\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr[-2000:]
