"""Keep this folder, the Zeek oracle the tests read, in step with the project's shared copy.

The oracle (traces from Zeek's regression suite and the TCP rows of the conn.log Zeek
wrote for each, see README.md) is kept in the repository so that a plain clone runs
every test. It is refreshed from ``../shared/zeek-oracle`` beside the checkout by this
script, never by hand:

    python tests/data/zeek/sync.py                 # copy from ../shared/zeek-oracle, then check
    python tests/data/zeek/sync.py --source DIR    # copy from another oracle folder
    python tests/data/zeek/sync.py --check         # only check this copy

A copy holds README.md, manifest.csv, and the trace and the expected CSV of every test
the manifest names; SOURCES.md (written here) says where each file came from, with its
SHA-1. The check fails when a trace's SHA-1 differs from the manifest's ``trace_sha1``,
when any file differs from its SHA-1 in SOURCES.md, or when a file is missing or extra.
``tests/test_zeek_oracle_data.py`` runs the same check (and, with the shared folder beside
the checkout, compares the two copies byte for byte).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
#: where the project keeps the oracle, beside the checkout (not part of the repository).
SHARED = REPO.parent / "shared" / "zeek-oracle"
#: files of this folder that are not copied from the oracle.
OWN_FILES = ("COPYING", "SOURCES.md", "sync.py")
#: Zeek's repository, where the traces and baselines of its regression suite live.
ZEEK_REPOSITORY = "https://github.com/zeek/zeek"
_SOURCES_ROW = re.compile(r"^\| `(?P<file>[^`]+)` \| `(?P<sha1>[0-9a-f]{40})` \|", re.MULTILINE)


def sha1(path: Path) -> str:
    """Hex SHA-1 of a file's bytes."""
    return hashlib.sha1(path.read_bytes()).hexdigest()


def manifest_rows(oracle: Path) -> list[dict[str, str]]:
    """The manifest's rows, one per Zeek test."""
    with (oracle / "manifest.csv").open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def oracle_files(oracle: Path) -> dict[str, str]:
    """Every file a copy holds (relative path), with where it came from."""
    files = {
        "README.md": "the project's shared Zeek oracle (`shared/zeek-oracle/README.md`)",
        "manifest.csv": "the project's shared Zeek oracle (`shared/zeek-oracle/manifest.csv`)",
    }
    for row in manifest_rows(oracle):
        files[row["trace_file"]] = f"Zeek `{row['source_trace']}`"
        files[f"expected/{row['test']}.csv"] = f"TCP rows of Zeek `{row['baseline']}`"
    return files


def trace_problems(folder: Path) -> list[str]:
    """Traces missing, or whose SHA-1 differs from the manifest's ``trace_sha1``."""
    problems = []
    for row in manifest_rows(folder):
        trace = folder / row["trace_file"]
        if not trace.is_file():
            problems.append(f"{row['trace_file']}: missing")
        elif sha1(trace) != row["trace_sha1"]:
            problems.append(f"{row['trace_file']}: SHA-1 differs from manifest.csv")
    return problems


def recorded_sha1s(folder: Path) -> dict[str, str]:
    """The SHA-1 of each copied file, as SOURCES.md records it."""
    text = (folder / "SOURCES.md").read_text(encoding="utf-8")
    return {match["file"]: match["sha1"] for match in _SOURCES_ROW.finditer(text)}


def present_files(folder: Path) -> set[str]:
    """Files of ``folder`` (relative paths), without this folder's own files and caches."""
    return {
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    } - set(OWN_FILES)


def check(folder: Path = HERE) -> list[str]:
    """Everything wrong with the copy in ``folder``; empty when it is whole and unchanged."""
    problems = trace_problems(folder)
    recorded = recorded_sha1s(folder)
    expected = set(oracle_files(folder))
    if set(recorded) != expected:
        problems.append(
            f"SOURCES.md lists {sorted(set(recorded) ^ expected)} differently from manifest.csv"
        )
    present = present_files(folder)
    problems += [f"{name}: missing" for name in sorted(expected - present)]
    problems += [f"{name}: not in manifest.csv" for name in sorted(present - expected)]
    problems += [
        f"{name}: SHA-1 differs from SOURCES.md"
        for name in sorted(present & set(recorded))
        if sha1(folder / name) != recorded[name]
    ]
    return problems


def differences(source: Path, folder: Path = HERE) -> list[str]:
    """Files that differ between the oracle at ``source`` and the copy in ``folder``."""
    wanted = set(oracle_files(source))
    present = present_files(folder)
    problems = [f"{name}: not copied" for name in sorted(wanted - present)]
    problems += [f"{name}: not in the source" for name in sorted(present - wanted)]
    problems += [
        f"{name}: differs from the source"
        for name in sorted(wanted & present)
        if (source / name).read_bytes() != (folder / name).read_bytes()
    ]
    return problems


def sources_text(folder: Path, files: dict[str, str]) -> str:
    """SOURCES.md: the provenance and SHA-1 of every copied file."""
    lines = [
        "# Where these files come from",
        "",
        "Written by `sync.py`; do not edit by hand. The traces are Zeek's own test traces",
        f"(`testing/btest/Traces` in [zeek/zeek]({ZEEK_REPOSITORY})) and each `expected/*.csv`",
        "holds the TCP rows of the `conn.log` baseline Zeek's test suite keeps for that test",
        "(`testing/btest/Baseline`), as the project's shared Zeek oracle prepared them (see",
        "README.md). Zeek is distributed under the BSD licence in `COPYING`.",
        "",
        "| file | SHA-1 | from |",
        "|---|---|---|",
    ]
    lines += [f"| `{name}` | `{sha1(folder / name)}` | {files[name]} |" for name in sorted(files)]
    return "\n".join(lines) + "\n"


def sync(source: Path, folder: Path = HERE) -> None:
    """Replace the copy in ``folder`` by the oracle at ``source`` and write SOURCES.md."""
    problems = trace_problems(source)
    if problems:
        raise SystemExit(f"the oracle at {source} is damaged: " + "; ".join(problems))
    files = oracle_files(source)
    for stale in present_files(folder) - set(files):
        (folder / stale).unlink()
    for name in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, folder / name)  # contents only: the source is read-only
    (folder / "SOURCES.md").write_text(sources_text(folder, files), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=SHARED, help=f"default: {SHARED}")
    parser.add_argument("--check", action="store_true", help="only check this copy")
    args = parser.parse_args(argv)
    if not args.check:
        if not (args.source / "manifest.csv").is_file():
            print(f"no Zeek oracle at {args.source} (pass --source DIR)", file=sys.stderr)
            return 1
        sync(args.source)
    problems = check()
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{HERE}: {len(oracle_files(HERE))} files, all SHA-1s as recorded")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
