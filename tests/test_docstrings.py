"""The examples in the docstrings run and give what they show."""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

PACKAGES = ("funding_models", "contracts", "fileio")

MODULES = sorted(
    f"{package}.{info.name}"
    for package in PACKAGES
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__)
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failures == 0
