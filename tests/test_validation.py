"""One helper words every error a user sees: what was expected, then ``Received: name=value``."""
from __future__ import annotations

import ast

import pytest

from aereport import AEReportError
from aereport._validation import check_choice, check_names, check_non_negative_int, check_number, check_positive_int

from .conftest import ROOT


def test_an_error_ends_in_what_it_received():
    assert str(AEReportError("epochs must be a positive integer", epochs=0)) == \
        "epochs must be a positive integer. Received: epochs=0"
    assert str(AEReportError("x: expected a file.", path="/tmp/x", size=3)) == \
        "x: expected a file. Received: path='/tmp/x', size=3"
    assert str(AEReportError("no value to show")) == "no value to show"
    long = str(AEReportError("too much", value="a" * 1000))
    assert len(long) < 300 and long.endswith("...")  # one readable line, never a wall of repr


@pytest.mark.parametrize("check, args, message", [
    (check_positive_int, ("epochs", 0), "epochs must be a positive integer. Received: epochs=0"),
    (check_positive_int, ("epochs", "8"), "epochs must be a positive integer. Received: epochs='8'"),
    (check_positive_int, ("epochs", True), "Received: epochs=True"),
    (check_positive_int, ("port", 70000, 65535), "port must be a positive integer up to 65,535. Received: port=70000"),
    (check_non_negative_int, ("seed", -1), "seed must be an integer >= 0. Received: seed=-1"),
    (check_non_negative_int, ("seed", 2 ** 40, 2 ** 31 - 1), "seed must be an integer >= 0 and <= 2,147,483,647"),
    (check_number, ("learning_rate", float("nan"), 0, 10), "learning_rate must be a finite number above 0 and below 10"),
    (check_number, ("learning_rate", "0.1", 0, 10), "Received: learning_rate='0.1'"),
    (check_choice, ("preset", "vae", ["dense", "seed"]), "preset must be one of 'dense', 'seed'. Received: preset='vae'"),
    (check_choice, ("preset", ["dense"], ["dense"]), "Received: preset=['dense']"),
    (check_names, ("layouts", "pca,isomap", ["ae", "pca"]), "layouts must be among ['ae', 'pca']. Received: layouts='isomap'"),
    (check_names, ("layouts", 3, ["ae"]), "layouts must be a list of names from ['ae']. Received: layouts=3"),
])
def test_shared_checks(check, args, message):
    with pytest.raises(AEReportError) as err:
        check(*args)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_shared_checks_return_what_they_accept():
    assert check_positive_int("epochs", 3) == 3 and check_non_negative_int("seed", 0) == 0
    assert check_number("learning_rate", 1e-3, 0, 10) == 1e-3
    assert check_names("layouts", "pca", ["ae", "pca"]) == ["pca"]  # one name, as the CLI's --layouts
    assert check_names("layouts", ("ae", "pca", "ae"), ["ae", "pca"]) == ["ae", "pca"]


def test_nearly_every_error_in_the_package_says_what_it_received():
    """Every ``AEReportError`` raised in ``aereport/`` passes what it received (the helper words it);
    the exceptions are the few that forward another error's finished text."""
    calls, silent = 0, []
    for path in (ROOT / "aereport").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "AEReportError":
                calls += 1
                if not node.keywords:
                    silent.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert calls > 100
    assert len(silent) <= 0.05 * calls, silent
