"""The house rules, checked by reading the source: import directions, no import circles, file and function sizes.

The rules (README, "Architecture"):
- `retrieval` imports nothing else from the project; `prompts` only the error tree and the YAML reader;
  `ranking` only `retrieval.types`, `retrieval.errors` and `retrieval.wheels` (data read from a wheel).
- `chatbot.doors` (web, cli, terminal) and `chatbot.evaluation` are leaves: nothing in the turn, the LLM room,
  the text room or the shared modules imports them; nothing but a door imports a door (the serve benchmark
  starts the real web app, so `chatbot.evaluation` may import `chatbot.doors.web`).
- No two modules import each other, directly or around a circle (lazy and type-checking imports count too).
- No file over 500 lines; no function over 60 lines unless a `# long: <why>` comment stands right above it.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("chatbot", "retrieval", "ranking", "prompts")
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 60


def _module_name(path: Path) -> str:
    """`chatbot/turn/agent.py` -> `chatbot.turn.agent`; a package's `__init__.py` -> the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@lru_cache(maxsize=1)
def _sources() -> dict[str, Path]:
    """Every project module by dotted name."""
    out: dict[str, Path] = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            out[_module_name(path)] = path
    return out


def _resolve(name: str) -> str | None:
    """The project module an imported name lives in (longest known prefix), or None for outside code."""
    modules = _sources()
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in modules:
            return candidate
    return None


@lru_cache(maxsize=1)
def _graph() -> dict[str, set[str]]:
    """module -> the project modules it imports anywhere (top level, inside functions, under TYPE_CHECKING)."""
    graph: dict[str, set[str]] = {}
    for module, path in _sources().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                names = [f"{base}.{a.name}" for a in node.names] + [base]
            for name in names:
                target = _resolve(name)
                if target and target != module and not module.startswith(target + ".") \
                        and not (target == package and name == package):
                    targets.add(target)
        graph[module] = targets
    return graph


def _in(module: str, prefix: str) -> bool:
    """True when module is the package `prefix` or inside it."""
    return module == prefix or module.startswith(prefix + ".")


def test_import_directions() -> None:
    """Each package imports only what the rules allow."""
    wrong: list[str] = []
    for module, targets in _graph().items():
        for target in targets:
            if _in(module, "retrieval") and not _in(target, "retrieval"):
                wrong.append(f"{module} -> {target} (retrieval imports nothing else)")
            if _in(module, "prompts") and not (_in(target, "prompts")
                                               or target in ("retrieval.errors", "retrieval.datafile")):
                wrong.append(f"{module} -> {target} (prompts imports only the error tree and the YAML reader)")
            if _in(module, "ranking") and not (_in(target, "ranking") or target in (
                    "retrieval.types", "retrieval.errors", "retrieval.wheels")):
                wrong.append(f"{module} -> {target} (ranking imports only retrieval.types, .errors and .wheels)")
            if _in(target, "chatbot.doors") and not _in(module, "chatbot.doors") \
                    and not (_in(module, "chatbot.evaluation") and _in(target, "chatbot.doors.web")):
                wrong.append(f"{module} -> {target} (a door is a leaf)")
            if _in(target, "chatbot.evaluation") and not (_in(module, "chatbot.evaluation")
                                                          or _in(module, "chatbot.doors")):
                wrong.append(f"{module} -> {target} (evaluation is a leaf)")
    assert not wrong, "imports against the rules:\n" + "\n".join(sorted(wrong))


def test_no_import_circles() -> None:
    """No module reaches itself through imports (Tarjan's strongly connected components)."""
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not circles, "import circles: " + "; ".join(" <-> ".join(c) for c in circles)


@pytest.mark.parametrize("module", sorted(_sources()))
def test_file_size(module: str) -> None:
    """A module holds one thing: at most 500 lines."""
    lines = len(_sources()[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_FILE_LINES, f"{module} has {lines} lines (at most {MAX_FILE_LINES})"


def test_function_sizes() -> None:
    """A function reads at a glance: at most 60 lines, unless a `# long: <why>` comment stands right above it."""
    long: list[str] = []
    for module, path in _sources().items():
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            size = node.end_lineno - node.lineno + 1
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            above = lines[first - 2].strip() if first >= 2 else ""
            if size > MAX_FUNCTION_LINES and not above.startswith("# long:"):
                long.append(f"{module}.{node.name}: {size} lines")
    assert not long, "functions over 60 lines without a `# long:` reason:\n" + "\n".join(sorted(long))


def test_public_functions_have_docstrings() -> None:
    """Every public function, class and method says what it is in a docstring (nested helpers aside)."""
    missing: list[str] = []
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    for module, path in _sources().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        nodes = [n for n in tree.body if isinstance(n, kinds)]
        nodes += [m for n in tree.body if isinstance(n, ast.ClassDef) for m in n.body if isinstance(m, kinds)]
        for node in nodes:
            if not node.name.startswith("_") and ast.get_docstring(node) is None:
                missing.append(f"{module}.{node.name} (line {node.lineno})")
    assert not missing, "public names without a docstring:\n" + "\n".join(sorted(missing))
