"""The shape the code keeps: no import circle in bot/, no module-level mutable state in the
pure core, and the engine-rules-strategies step composed once (in bot/core/kernel.py)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

BOT = ROOT / "bot"


def _modules() -> dict[str, Path]:
    modules = {}
    for path in BOT.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    return modules


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every bot module `path` imports, at any level (type-checking and lazy imports too: a
    circle through them is still a circle in the design)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bot"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in modules else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("bot")}
    return {m for m in found if m in modules}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle_in_bot() -> None:
    modules = _modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    assert _cycles(graph) == []
    # The check finds one when there is one.
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


MUTABLE = (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)
# Frozen dataclasses count as immutable too (BybitFormulas: one per account type).
IMMUTABLE_CALLS = {
    "frozenset",
    "tuple",
    "Decimal",
    "Context",
    "UUID",
    "object",
    "Step",
    "BybitFormulas",
}


def _module_state(path: Path) -> list[str]:
    """Module-level names bound to something that can change: containers and objects made by
    calls other than the immutable ones (a Decimal context is configuration, never mutated)."""
    found = []
    for node in ast.parse(path.read_text()).body:
        if not isinstance(node, ast.Assign | ast.AnnAssign) or node.value is None:
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = [ast.unparse(t) for t in targets]
        if names == ["__all__"]:
            continue
        value = node.value
        call = value.func if isinstance(value, ast.Call) else None
        called = call.attr if isinstance(call, ast.Attribute) else getattr(call, "id", None)
        if isinstance(value, MUTABLE) or (call is not None and called not in IMMUTABLE_CALLS):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {', '.join(names)}")
    return found


# Read-only tables built once (never assigned to after import), named here so that a new one
# is a decision.
READ_ONLY_TABLES = {
    "bot/core/ledger/margin/__init__.py _FORMULAS",
    "bot/core/ledger/positions.py DEFAULT_FEES",
    "bot/core/alerting/event_rules.py EVENT_RULES",
}


def test_the_core_holds_no_module_level_mutable_state() -> None:
    found = [
        entry
        for path in sorted((BOT / "core").rglob("*.py"))
        for entry in _module_state(path)
        if f"{entry.split(':')[0]} {entry.split(' ', 1)[1]}" not in READ_ONLY_TABLES
    ]
    assert found == []


def _feeds_step_results_to_rules(tree: ast.AST) -> bool:
    """Whether some loop runs over the events of a `.step(...)` (directly, or through a name
    bound to one) and gives each to an `.on_event(...)`: the engine's events to the rules."""
    stepped: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Attribute)
            and node.value.func.attr == "step"
        ):
            stepped |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    for node in ast.walk(tree):
        if not isinstance(node, ast.For) or not isinstance(node.target, ast.Name):
            continue
        source = node.iter
        from_step = (
            isinstance(source, ast.Call)
            and isinstance(source.func, ast.Attribute)
            and source.func.attr == "step"
        ) or (isinstance(source, ast.Name) and source.id in stepped)
        if not from_step:
            continue
        for inner in ast.walk(node):
            if (
                isinstance(inner, ast.Call)
                and isinstance(inner.func, ast.Attribute)
                and inner.func.attr == "on_event"
                and any(isinstance(a, ast.Name) and a.id == node.target.id for a in inner.args)
            ):
                return True
    return False


def test_the_step_is_composed_once() -> None:
    """The engine's events go to the alert rules (and the strategies) in the kernel only: the
    daemon, replay, benchmarks and tests call the kernel."""
    composers = [
        str(path.relative_to(ROOT))
        for folder in ("bot", "bench", "tests", "tools", "examples")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if _feeds_step_results_to_rules(ast.parse(path.read_text()))
    ]
    assert composers == ["bot/core/kernel.py"]
    # The check sees one where there is one (the way bench/workload.py composed it before).
    example = "for result in engine.step(event):\n    alerts += rules.on_event(result)\n"
    assert _feeds_step_results_to_rules(ast.parse(example))
