"""The tree tells a newcomer where each kind of thing lives; these checks keep the README and docs/layout.md true."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("training", "model_zoo", "dashboard")


def _modules(*packages: str) -> list[Path]:
    return sorted(p for package in packages for p in (ROOT / package).rglob("*.py")
                  if p.name != "__init__.py" and "entries" not in p.relative_to(ROOT).parts)


def _code_block_after(markdown: str, heading: str) -> str:
    section = markdown.split(heading, 1)[1]
    return section.split("```", 2)[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _is_command(path: Path) -> bool:
    return 'if __name__ == "__main__":' in path.read_text(encoding="utf-8")


def test_the_readme_tree_names_every_folder_and_only_folders_that_exist():
    tree = _code_block_after((ROOT / "README.md").read_text(encoding="utf-8"), "## Project layout")
    named = {line.split()[0] for line in tree.splitlines() if line.strip() and not line.startswith(" ")}
    assert named, "the README's layout section has no tree"
    for name in named:
        assert (ROOT / name).exists(), f"README layout names {name}, which does not exist"
    folders = {f"{p.relative_to(ROOT).as_posix()}/" for package in PRODUCT for p in [ROOT / package, *(ROOT / package).iterdir()]
               if p.is_dir() and not p.name.startswith((".", "_"))}
    assert folders <= named, f"folders missing from the README's layout: {sorted(folders - named)}"


def test_docs_layout_lists_every_module_and_nothing_else():
    text = (ROOT / "docs" / "layout.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"`((?:training|model_zoo|dashboard)/[\w/]+\.py)`", text))
    actual = {p.relative_to(ROOT).as_posix() for p in _modules(*PRODUCT)}
    assert actual - listed == set(), f"modules docs/layout.md does not describe: {sorted(actual - listed)}"
    assert listed - actual == set(), f"docs/layout.md describes modules that do not exist: {sorted(listed - actual)}"


def test_no_two_product_modules_share_a_file_name():
    seen: dict[str, Path] = {}
    for path in _modules(*PRODUCT):
        assert path.name not in seen, f"{path.relative_to(ROOT)} and {seen[path.name].relative_to(ROOT)} share a name"
        seen[path.name] = path


def test_layers_point_one_way_and_commands_never_import_commands():
    commands = {f"training.{p.stem}" for p in (ROOT / "training").glob("*.py") if _is_command(p)}
    for path in _modules(*PRODUCT):
        imports = _imports(path)
        where = path.relative_to(ROOT).as_posix()
        if where.startswith("model_zoo/"):
            assert not {i for i in imports if i.startswith(("training", "dashboard"))}, f"{where} imports upward"
        if where.startswith("training/"):
            assert not {i for i in imports if i.startswith("dashboard")}, f"{where} imports the dashboard"
            own = f"training.{path.stem}" if path.parent.name == "training" else None
            assert not (imports & commands) - {own}, f"{where} imports a command: {sorted((imports & commands) - {own})}"
        if where.startswith("dashboard/"):
            from_training = {i for i in imports if i.startswith("training")}
            assert all(i == "training.lib.data" or i.startswith("training.lib.data.") or i == "training.lib"
                       for i in from_training), f"{where} imports training beyond training.lib.data: {from_training}"


# The typed card (model_zoo.card) is the one place a card.json is interpreted: no product module reads the dict.
CARD_READ = re.compile(r"card\[|card\.get\(")
CARD_TYPED_LAYERS = ("model_zoo", "training", "dashboard")


def test_no_module_reads_a_card_as_a_dict_outside_the_card_module():
    readers = [f"{path.relative_to(ROOT).as_posix()}:{number}"
               for path in _modules(*CARD_TYPED_LAYERS) if path != ROOT / "model_zoo" / "card.py"
               for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if CARD_READ.search(line)]
    assert readers == [], f"card dict reads (use the typed card's attributes): {readers}"


def _import_cycle(package: str) -> list[str] | None:
    """A cycle among the package's modules (imports inside functions count), or None."""
    modules = {f"{package}.{p.stem}": p for p in (ROOT / package).glob("*.py") if p.name != "__init__.py"}
    graph = {name: sorted(i for i in _imports(path) if i in modules and i != name) for name, path in modules.items()}
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(name: str, path: list[str]) -> list[str] | None:
        state[name] = 1
        for child in graph[name]:
            if state.get(child) == 1:
                return [*path[path.index(child):], child] if child in path else [*path, child]
            if child not in state and (cycle := visit(child, [*path, child])):
                return cycle
        state[name] = 2
        return None

    for name in sorted(graph):
        if name not in state and (cycle := visit(name, [name])):
            return cycle
    return None


def test_the_library_has_no_import_circle():
    # zoo <-> consensus was the one circle: loading now dispatches on the card's kind in model_zoo.loading.
    assert "model_zoo.consensus" not in _imports(ROOT / "model_zoo" / "zoo.py")
    assert _import_cycle("model_zoo") is None, f"import circle: {' -> '.join(_import_cycle('model_zoo'))}"
