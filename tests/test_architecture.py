"""The house rules of DESIGN.md, checked by parsing every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("data", "labeling", "reward", "ui")


def modules() -> list[Path]:
    found = [REPO / "app.py", REPO / "cli.py", REPO / "server.py"]
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


def in_ui(path: Path) -> bool:
    """The two entry files (``app.py``, ``server.py``) and the ``ui/`` package: the only
    modules that may import streamlit."""
    return relative(path) in ("app.py", "server.py") or relative(path).startswith("ui/")


@pytest.mark.parametrize("path", modules(), ids=relative)
def test_floors(path: Path) -> None:
    names = imported(path)
    top = {name.split(".")[0] for name in names}
    where = relative(path)
    if where.startswith("data/"):
        assert not top & {"labeling", "reward", "ui"}, "data/ is the ground floor"
    if where.startswith("labeling/"):
        assert not top & {"reward", "ui"}, "labeling/ must not depend on reward/ or ui/"
    if where.startswith("reward/"):
        assert "ui" not in top, "reward/ is a library: no UI"
        assert "data.store" not in names, "reward/ reads snapshots, never the database"
    if where == "cli.py":
        assert "ui" not in top, "the terminal door does not go through the browser's rooms"


@pytest.mark.parametrize("path", modules(), ids=relative)
def test_only_app_and_ui_import_streamlit(path: Path) -> None:
    top = {name.split(".")[0] for name in imported(path)}
    if not in_ui(path):
        assert "streamlit" not in top


def page_files() -> list[Path]:
    return sorted(p for p in (REPO / "ui" / "pages").glob("*.py") if p.name != "__init__.py")


@pytest.mark.parametrize("path", page_files(), ids=relative)
def test_pages_never_import_other_pages(path: Path) -> None:
    assert not {name for name in imported(path) if name.startswith("ui.pages")}


def test_every_page_is_routed_by_the_app() -> None:
    app = (REPO / "app.py").read_text(encoding="utf-8")
    for page in page_files():
        assert f'"{relative(page)}"' in app, f"{relative(page)} is not in app.py's navigation"


@pytest.mark.parametrize("path", modules(), ids=relative)
def test_only_the_store_speaks_sql(path: Path) -> None:
    """The store and its two engines are the only modules with a database driver."""
    top = {name.split(".")[0] for name in imported(path)}
    if relative(path) not in ("data/store.py", "data/engines.py"):
        assert not top & {"duckdb", "psycopg", "psycopg_pool", "adbc_driver_postgresql"}


@pytest.mark.parametrize("path", modules(), ids=relative)
def test_no_page_renders_raw_html(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert "unsafe_allow_html=True" not in source
    assert "st.html(" not in source


@pytest.mark.parametrize(
    "path", [p for p in modules() if p.parts[-2] in PACKAGES and not in_ui(p)], ids=relative
)
def test_analysis_and_reference_libraries_stay_out_of_the_product(path: Path) -> None:
    top = {name.split(".")[0] for name in imported(path)}
    assert not top & {"krippendorff", "crowdkit", "statsmodels", "pandas", "trl"}, (
        "reference implementations are test- and bench-only dependencies"
    )
