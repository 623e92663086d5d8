"""The house rules of DESIGN.md, checked by parsing every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("data", "labeling", "reward")


def modules() -> list[Path]:
    found = [REPO / "app.py", REPO / "cli.py"]
    for package in PACKAGES:
        found += sorted((REPO / package).rglob("*.py"))
    return [path for path in found if path.exists()]


def imported(path: Path) -> set[str]:
    """Top-level module names and dotted names imported anywhere in the file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def relative(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def is_page(path: Path) -> bool:
    return path.name.endswith("_page.py") or path.name == "app.py"


@pytest.mark.parametrize("path", modules(), ids=relative)
def test_floors(path: Path) -> None:
    names = imported(path)
    top = {name.split(".")[0] for name in names}
    where = relative(path)
    if where.startswith("data/"):
        assert not top & {"labeling", "reward"}, "data/ is the ground floor"
    if where.startswith("labeling/"):
        assert "reward" not in top, "labeling/ must not depend on reward/"
    if where.startswith("reward/") and not is_page(path):
        assert "data.store" not in names, "reward/ reads snapshots, never the database"


@pytest.mark.parametrize("path", modules(), ids=relative)
def test_only_pages_import_streamlit(path: Path) -> None:
    top = {name.split(".")[0] for name in imported(path)}
    if not is_page(path):
        assert "streamlit" not in top


@pytest.mark.parametrize("path", modules(), ids=relative)
def test_only_the_store_speaks_sql(path: Path) -> None:
    top = {name.split(".")[0] for name in imported(path)}
    if relative(path) != "data/store.py":
        assert "duckdb" not in top


@pytest.mark.parametrize("path", modules(), ids=relative)
def test_no_page_renders_raw_html(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert "unsafe_allow_html=True" not in source
    assert "st.html(" not in source


@pytest.mark.parametrize(
    "path", [p for p in modules() if p.parts[-2] in PACKAGES and not is_page(p)], ids=relative
)
def test_analysis_and_reference_libraries_stay_out_of_the_product(path: Path) -> None:
    top = {name.split(".")[0] for name in imported(path)}
    assert not top & {"krippendorff", "crowdkit", "statsmodels", "pandas", "trl"}, (
        "reference implementations are test- and bench-only dependencies"
    )
