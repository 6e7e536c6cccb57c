"""What `pip install .` installs: every package of the source tree is listed in pyproject.toml (an editable
install finds a missing one anyway, a wheel does not)."""

from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: onnxcost depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_folder_is_listed():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {name: ROOT / Path(*name.split(".")) for name in config["packages"]}
    folders.update((name, ROOT / folder) for name, folder in config["package-dir"].items())
    listed = {folder.resolve() for folder in folders.values()}
    present = {init.parent.resolve() for top in ("onnxcost", "passes", "samples") for init in (ROOT / top).rglob("__init__.py")}
    assert present - listed == set(), "packages missing from pyproject.toml"
    assert all((folder / "__init__.py").is_file() for folder in folders.values())
