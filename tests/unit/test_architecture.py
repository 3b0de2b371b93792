"""The folder tree is the architecture: which package may import which, read from the source with `ast`.

Nothing here imports the modules it checks, so a forbidden import cannot hide behind an import error
or a side effect. Imports inside functions and `if TYPE_CHECKING:` blocks count too: a pure package
that needs an I/O package's types has its boundary in the wrong place.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

IO_MODULES = ("asyncio", "socket", "ssl", "selectors", "uvloop", "aiohttp")
PROXY_IO = ("proxy.dataplane", "proxy.upstream", "proxy.admin", "proxy.app", "proxy.switch.executor",
            "proxy.switch.interceptor")

RULES = {  # package folder -> modules it must not import (nor anything under them)
    "protocol": (*IO_MODULES, "proxy"),
    "proxy/switch/machine": (*IO_MODULES, *PROXY_IO),
    "proxy/dataplane": ("proxy.admin",),
    # the connection core is sans-IO: events in, commands out; relay.py does the I/O
    "proxy/dataplane/connection.py": (*IO_MODULES, "proxy.dataplane.relay", "proxy.dataplane.context",
                                      "proxy.upstream", "proxy.admin", "proxy.app", "proxy.switch"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module `source` imports; `from a import b` counts as both `a` and `a.b` (b may be a module)."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            anchor = package[:len(package) - node.level + 1] if node.level else []
            base = ".".join([*anchor, *([node.module] if node.module else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func):
            found.update(a.value for a in node.args[:1] if isinstance(a, ast.Constant) and isinstance(a.value, str))
    return found


def _is_dynamic_import(func: ast.expr) -> bool:
    return (isinstance(func, ast.Name) and func.id == "__import__") or (
        isinstance(func, ast.Attribute) and func.attr == "import_module")


def forbidden(imported: set[str], banned: tuple[str, ...]) -> list[str]:
    return sorted(name for name in imported if any(name == b or name.startswith(b + ".") for b in banned))


def sources(folder: str) -> list[Path]:
    """The .py files a rule covers: a folder's tree, or one module."""
    root = ROOT / folder
    return [root] if root.suffix == ".py" else sorted(root.rglob("*.py"))


def violations(folder: str) -> list[str]:
    found = []
    for path in sources(folder):
        imported = imported_modules(path.read_text(), module_name(path), path.name == "__init__.py")
        found += [f"{path.relative_to(ROOT)} imports {name}" for name in forbidden(imported, RULES[folder])]
    return found


@pytest.mark.parametrize("folder", sorted(RULES))
def test_package_imports_only_what_its_layer_allows(folder: str) -> None:
    minimum = 1 if folder.endswith(".py") else 5
    assert len([p for p in sources(folder) if p.exists()]) >= minimum, f"{folder} moved: update RULES"
    assert violations(folder) == []


def test_checker_sees_a_plain_import() -> None:
    imported = imported_modules("import asyncio\n", "proxy.switch.machine.example")
    assert forbidden(imported, RULES["proxy/switch/machine"]) == ["asyncio"]


def test_checker_sees_from_imports_relative_imports_and_import_module() -> None:
    source = """
from proxy import admin
from ...dataplane.relay import ClientConnection
from . import events

def later():
    import ssl
    importlib.import_module("uvloop")
"""
    imported = imported_modules(source, "proxy.switch.machine.example")
    assert "proxy.switch.machine.events" in imported
    assert forbidden(imported, RULES["proxy/switch/machine"]) == [
        "proxy.admin", "proxy.dataplane.relay", "proxy.dataplane.relay.ClientConnection", "ssl", "uvloop"]


def test_checker_resolves_relative_imports_of_a_package_init() -> None:
    imported = imported_modules("from .. import app\n", "proxy.switch", is_package=True)
    assert forbidden(imported, RULES["proxy/switch/machine"]) == ["proxy.app"]


def test_checker_passes_pure_source() -> None:
    source = "from dataclasses import dataclass\nfrom proxy.switch.machine.phases import Phase\n"
    assert forbidden(imported_modules(source, "proxy.switch.machine.example"), RULES["proxy/switch/machine"]) == []
