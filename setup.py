"""Which packages the wheel holds; everything else is in pyproject.toml.

Every ``hskit`` package, plus the repository's ``sample_pcaps/`` folder installed as
``hskit/sample_pcaps`` so that ``hskit.samples`` finds the captures after
``pip install hskit``. Only the captures and their manifest go there (``package-data`` in
pyproject.toml): the scripts that generate them stay in the sdist, not importable from
the installed package.
"""

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

SAMPLES_PACKAGE = "hskit.sample_pcaps"


class BuildPy(build_py):
    """``build_py`` that takes no Python modules from the samples folder."""

    def find_package_modules(self, package: str, package_dir: str) -> list:
        if package == SAMPLES_PACKAGE:
            return []
        return super().find_package_modules(package, package_dir)


setup(
    packages=[*find_packages(include=["hskit", "hskit.*"]), SAMPLES_PACKAGE],
    package_dir={SAMPLES_PACKAGE: "sample_pcaps"},
    cmdclass={"build_py": BuildPy},
)
