"""``neuronas new-plugin``: a complete, installable plugin package of one component kind.

`plugin_files` renders the package (its pyproject with the entry point, the component, the hook, a
README and tests that call `neuronas.testing`) as text; `write_plugin` writes it into a new folder.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

import attrs

from neuronas.errors import UnknownComponentError, UsageError
from neuronas.plugin.registry import KINDS, canonical_kind
from neuronas.scaffold import package
from neuronas.scaffold.components import COMPONENTS

NAME_PATTERN = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
MAX_NAME = 24


@attrs.frozen
class PluginNames:
    """Everything a package is called after its component's NAME, e.g. 'my-chip'."""

    kind: str
    name: str

    @classmethod
    def of(cls, kind: str, name: str) -> PluginNames:
        """The names for ``kind`` (as `neuronas list kinds` spells it) and ``name``, checked."""
        try:
            kind = canonical_kind(kind)
        except UnknownComponentError:
            raise UnknownComponentError("component kind", kind, tuple(COMPONENTS)) from None
        if kind not in COMPONENTS:  # a kind neuronas has, but no package template of
            raise UsageError(
                f"new-plugin has no template for kind {kind!r}; it writes one of: "
                f"{', '.join(COMPONENTS)}"
            )
        if len(name) > MAX_NAME or not NAME_PATTERN.fullmatch(name):
            raise UsageError(
                f"plugin name {name!r}: use lowercase letters, digits and single hyphens, starting "
                f"with a letter, at most {MAX_NAME} characters (e.g. my-chip)"
            )
        return cls(kind, name.removeprefix("neuronas-") or name)

    @property
    def distribution(self) -> str:
        return f"neuronas-{self.name}"

    @property
    def module(self) -> str:
        return self.distribution.replace("-", "_")

    @property
    def camel(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("-"))

    def mapping(self) -> dict[str, str]:
        """Every ``$`` name the templates use."""
        template = COMPONENTS[self.kind]
        label = template.label
        names = {
            "name": self.name,
            "distribution": self.distribution,
            "module": self.module,
            "Class": self.camel,
            "kind": self.kind,
            "label": label,
            "label_snake": label.replace(" ", "_"),
            "component_module": template.module,
            "hook": KINDS[self.kind][0],
            "check": template.check,
        }
        for field in ("symbol", "instance", "summary", "usage"):
            names[field] = Template(getattr(template, field)).substitute(names)
        return names


def plugin_files(kind: str, name: str) -> dict[str, str]:
    """The package's files, by their path inside it."""
    names = PluginNames.of(kind, name)
    values = names.mapping()
    template = COMPONENTS[names.kind]
    source = f"src/{names.module}"
    files = {
        "pyproject.toml": package.PYPROJECT,
        "README.md": package.README,
        f"{source}/__init__.py": package.INIT,
        f"{source}/{template.module}.py": template.source,
        f"{source}/plugin.py": package.PLUGIN,
        f"tests/test_{template.module}.py": template.tests,
        "tests/test_plugin.py": package.TEST_PLUGIN,
    }
    return {path: Template(text).substitute(values) for path, text in files.items()}


def write_plugin(kind: str, name: str, folder: Path) -> list[Path]:
    """Write the package into ``folder`` (created; it must not hold anything yet)."""
    files = plugin_files(kind, name)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UsageError(
            f"{folder} already exists and is not an empty folder; choose another --dir"
        )
    written = []
    try:
        for path, text in files.items():
            target = folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            written.append(target)
    except OSError as error:
        raise UsageError(f"cannot write the plugin into {folder}: {error.strerror}") from None
    return written
