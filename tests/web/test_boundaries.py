"""The web app sits on top: domain apps never import it, and it holds no data of its own.

Read from the source with `ast` (function-level imports and dotted strings included), so an
import hidden inside a function, or an `include("marketplace.web...")`, counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.apps import apps

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_APPS = ("accounts", "payments", "tasks")


def imported_names(path: Path) -> set[str]:
    """Every module a file imports (`from a import b` gives `a` and `a.b`), and every string
    constant that looks like a dotted module path."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "." in node.value:
            names.add(node.value)
    return names


def offending(app: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((ROOT / app).rglob("*.py")):
        for name in imported_names(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(ROOT)}: {name}")
    return found


@pytest.mark.parametrize("app", DOMAIN_APPS)
def test_domain_apps_import_nothing_from_the_web_app(app):
    assert offending(app, ("marketplace.web",)) == []


def test_tasks_imports_no_payment_gateway_or_payouts():
    """Publishing reserves escrow and approval pays (payments' services); moving money out to
    workers (payouts, Stripe) is the earnings page's business, which lives in the web app."""
    forbidden = ("stripe", "payments.stripe_gateway", "payments.stripe", "payments.payouts")
    assert offending("tasks", forbidden) == []


def test_the_checker_sees_function_level_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from marketplace.web import money\n")
    assert "marketplace.web.money" in imported_names(module)


def test_the_web_app_is_installed_and_has_no_models():
    config = apps.get_app_config("web")
    assert config.name == "marketplace.web"
    assert list(config.get_models()) == []
