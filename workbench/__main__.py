"""`python -m workbench` is the `workbench` command."""

from workbench.cli import entry

entry()
