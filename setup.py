"""Which packages the wheel holds, and its one compiled module; everything else is in
pyproject.toml.

Every ``hskit`` package, plus the repository's ``sample_pcaps/`` folder installed as
``hskit/sample_pcaps`` so that ``hskit.samples`` finds the captures after
``pip install hskit``. Only the captures and their manifest go there (``package-data`` in
pyproject.toml): the scripts that generate them stay in the sdist, not importable from
the installed package.

The compiled module, ``hskit._loops``, holds the native reader's and the TCP analysis's
loops (:mod:`hskit.compiled`), compiled ahead of time by numba's ``pycc`` from the same
Python functions numba would compile on first use. It needs numba, NumPy and pandas (for
:mod:`hskit.schema`) to build, and a C compiler with Python's headers.
"""

import importlib
import json
import os
import sys
import types
from pathlib import Path

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

SAMPLES_PACKAGE = "hskit.sample_pcaps"
LOOPS_MODULE = "hskit._loops"
#: beside it, the sources it was built from (hskit.compiled.BUILT_FROM)
BUILT_FROM = "_loops.sources.json"
#: the modules whose loops it holds
LOOP_MODULES = (
    "hskit.native.kernels",
    "hskit.native.numbering",
    "hskit.analysis.sequence",
    "hskit.analysis.acks",
    "hskit.analysis.rows",
)


class BuildPy(build_py):
    """``build_py`` that takes no Python modules from the samples folder."""

    def find_package_modules(self, package: str, package_dir: str) -> list:
        if package == SAMPLES_PACKAGE:
            return []
        return super().find_package_modules(package, package_dir)


class BuildLoops(build_ext):
    """``build_ext`` that compiles :data:`LOOPS_MODULE` with numba's ``pycc``: every loop
    :func:`hskit.compiled.exported` registers, with its signature."""

    def get_outputs(self) -> list[str]:
        """The built module and the record of its sources (an editable install copies
        what this lists into the source tree)."""
        built = super().get_outputs()
        return [*built, *(str(Path(path).with_name(BUILT_FROM)) for path in built)]

    def copy_extensions_to_source(self) -> None:
        """An editable install's copy of the built module into the source tree, with the
        record of its sources."""
        super().copy_extensions_to_source()
        build_py = self.get_finalized_command("build_py")
        for ext in self.extensions:
            in_source, built = self._get_inplace_equivalent(build_py, ext)
            self.copy_file(
                str(Path(built).with_name(BUILT_FROM)), str(Path(in_source).with_name(BUILT_FROM))
            )

    def build_extension(self, ext: Extension) -> None:
        from numba.pycc import CC

        compiled = _loop_modules()
        target = Path(self.get_ext_fullpath(ext.name))
        compiler = CC(LOOPS_MODULE.rsplit(".", 1)[1], source_module="hskit.compiled")
        compiler.output_dir, compiler.output_file = str(target.parent), target.name
        for name, (signature, function) in compiled.EXPORTED.items():
            compiler.export(name, signature)(function)
        target.parent.mkdir(parents=True, exist_ok=True)
        compiler.compile()
        # what it was built from: hskit.compiled uses numba's JIT instead once they change
        sources = target.parent / BUILT_FROM
        sources.write_text(json.dumps(compiled.source_digests(), indent=1, sort_keys=True))


def _loop_modules() -> types.ModuleType:
    """Import the loop modules from this source tree, compiled by numba (not from a built
    module), without ``hskit/__init__`` (whose imports are not build requirements);
    return :mod:`hskit.compiled`, where they registered."""
    os.environ["HSKIT_LOOPS"] = "jit"
    here = Path(__file__).resolve().parent
    for name in ("hskit", "hskit.native", "hskit.analysis"):
        stand_in = types.ModuleType(name)
        stand_in.__path__ = [str(here.joinpath(*name.split(".")))]
        sys.modules[name] = stand_in
    compiled = importlib.import_module("hskit.compiled")
    for module in LOOP_MODULES:  # each registers its loops on import
        importlib.import_module(module)
    return compiled


setup(
    packages=[*find_packages(include=["hskit", "hskit.*"]), SAMPLES_PACKAGE],
    package_dir={SAMPLES_PACKAGE: "sample_pcaps"},
    ext_modules=[Extension(LOOPS_MODULE, sources=[])],
    cmdclass={"build_py": BuildPy, "build_ext": BuildLoops},
)
