"""payments depends on accounts only: it never imports the tasks app or the web UI, not even
inside a function (DESIGN: apps depend one way; a bundle is named by its id)."""

import ast
import pathlib

import payments

PAYMENTS_DIR = pathlib.Path(payments.__file__).parent
FORBIDDEN = ("tasks", "marketplace.web")


def _imported_modules(path: pathlib.Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_payments_imports_neither_tasks_nor_the_web_app():
    offenders = [
        f"{path.relative_to(PAYMENTS_DIR.parent)}:{line} imports {module}"
        for path in sorted(PAYMENTS_DIR.rglob("*.py"))
        if "migrations" not in path.parts
        for line, module in _imported_modules(path)
        if any(module == name or module.startswith(name + ".") for name in FORBIDDEN)
    ]
    assert offenders == []
