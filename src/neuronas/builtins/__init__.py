"""The NeuroNAS defaults, each an ordinary plugin module registered exactly like a third-party one:
through an entry point in the ``neuronas`` group, declared in neuronas's own pyproject.toml.

The plugin host registers neuronas's own entry points before any other's; their plugin names are the
module names.
"""
