"""The layout: every module imports, and imports only run downhill.

smepulse_lib           the shared library: settings, storage, warehouse, names, windows,
                       the Dagster instance plug-ins; imports no domain
ml_assets              the ML domain; imports the library only
smepulse_assets.<domain>  ingestion, kaggle_invoices, ar_import, quality, transform: import the library
                       and each other without cycles
smepulse_assets.definitions  merges the domains into the code location
smepulse_assets.tools  the CLI, the demo, the generator: the only code above the definitions
"""

import ast
import importlib
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("smepulse_lib", "smepulse_assets", "ml_assets")
DOMAINS = {"ml_assets", "smepulse_assets.ar_import",
           "smepulse_assets.ingestion", "smepulse_assets.kaggle_invoices", "smepulse_assets.quality",
           "smepulse_assets.transform"}  # fmt: skip
ABOVE_DOMAINS = {"smepulse_assets.definitions", "smepulse_assets.tools"}


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def group(module: str) -> str:
    """The unit imports are judged by: the library and ml_assets whole, smepulse_assets by sub-package."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "smepulse_assets" and len(parts) > 1 else parts[0]


def imports_of(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return {name for name in names if name.split(".")[0] in PACKAGES}


def group_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in modules().items():
        for imported in imports_of(path):
            if group(imported) != group(module):
                graph[group(module)].add(group(imported))
    return graph


@pytest.mark.parametrize("module", sorted(modules()))
def test_every_module_imports(module):
    importlib.import_module(module)


def test_the_library_imports_no_domain():
    assert group_graph()["smepulse_lib"] == set()


def test_domains_never_import_the_definitions_or_the_tools():
    graph = group_graph()
    upward = {(domain, target) for domain in DOMAINS for target in graph[domain] if target in ABOVE_DOMAINS}
    assert upward == set()
    assert "smepulse_assets.tools" not in graph["smepulse_assets.definitions"]
    assert not {t for t in graph["ml_assets"] if t.startswith("smepulse_assets")}


def test_no_cycle_between_packages():
    graph = group_graph()

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph[start])

    cycles = sorted(g for g in list(graph) if reaches(g, g, {g}))
    assert cycles == [], f"packages importing each other: {cycles}"


def test_the_readme_layout_table_matches_the_tree():
    """Every package folder is in the README's layout table, and every path the table names exists."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    named = {line.split("`")[1].rstrip("/") for line in table.splitlines() if line.startswith("| `")}
    assert all((REPO_ROOT / path).exists() for path in named), sorted(p for p in named if not (REPO_ROOT / p).exists())
    folders = {str(p.parent.relative_to(REPO_ROOT)) for p in REPO_ROOT.glob("*/**/__init__.py")
               if ".venv" not in p.parts and "tests" not in p.parts}  # fmt: skip
    assert folders <= named, sorted(folders - named)


def test_the_code_location_loads_without_the_ml_libraries():
    """Every daemon-launched run, the UI and the daemon load the definitions; scikit-learn, SciPy,
    statsmodels and MLflow (~1 s and ~80 MB of a 5 s load) are imported by the steps that use them."""
    code = (
        "import sys; from smepulse_assets.definitions import defs; defs.get_repository_def().get_all_jobs(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'scipy', 'statsmodels', 'mlflow'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
