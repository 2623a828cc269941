"""docs/security.md cannot drift from the suite: every `tests/...::test_name` it cites names a test
function that exists, every requirement row cites at least one, and every ASVS ID it uses is a
real ASVS 5.0.0 level 1 or 2 requirement (or one of the few level 3 ones it claims)."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"

TEST_REFERENCE = re.compile(r"\b(tests/[\w/]+\.py)::(\w+)")
ASVS_ID = re.compile(r"\bV\d+\.\d+\.\d+\b")
TABLE_ROW = re.compile(r"^\|\s*(V\d+\.\d+\.\d+)\s*\|", re.M)

#: Every level 1 and level 2 requirement of ASVS 5.0.0 (OWASP's published list: 70 at level 1,
#: 183 more at level 2), so the page cannot cite an ID the standard does not have.
ASVS_5_LEVEL_1_AND_2 = frozenset(
    ASVS_ID.findall(
        """
    V1.1.1 V1.1.2 V1.2.1 V1.2.2 V1.2.3 V1.2.4 V1.2.5 V1.2.6 V1.2.7 V1.2.8 V1.2.9 V1.3.1 V1.3.2
    V1.3.3 V1.3.4 V1.3.5 V1.3.6 V1.3.7 V1.3.8 V1.3.9 V1.3.10 V1.3.11 V1.4.1 V1.4.2 V1.4.3 V1.5.1
    V1.5.2 V2.1.1 V2.1.2 V2.1.3 V2.2.1 V2.2.2 V2.2.3 V2.3.1 V2.3.2 V2.3.3 V2.3.4 V2.4.1 V3.2.1
    V3.2.2 V3.3.1 V3.3.2 V3.3.3 V3.3.4 V3.4.1 V3.4.2 V3.4.3 V3.4.4 V3.4.5 V3.4.6 V3.5.1 V3.5.2
    V3.5.3 V3.5.4 V3.5.5 V3.7.1 V3.7.2 V4.1.1 V4.1.2 V4.1.3 V4.2.1 V4.3.1 V4.3.2 V4.4.1 V4.4.2
    V4.4.3 V4.4.4 V5.1.1 V5.2.1 V5.2.2 V5.2.3 V5.3.1 V5.3.2 V5.4.1 V5.4.2 V5.4.3 V6.1.1 V6.1.2
    V6.1.3 V6.2.1 V6.2.2 V6.2.3 V6.2.4 V6.2.5 V6.2.6 V6.2.7 V6.2.8 V6.2.9 V6.2.10 V6.2.11 V6.2.12
    V6.3.1 V6.3.2 V6.3.3 V6.3.4 V6.4.1 V6.4.2 V6.4.3 V6.4.4 V6.5.1 V6.5.2 V6.5.3 V6.5.4 V6.5.5
    V6.6.1 V6.6.2 V6.6.3 V6.8.1 V6.8.2 V6.8.3 V6.8.4 V7.1.1 V7.1.2 V7.1.3 V7.2.1 V7.2.2 V7.2.3
    V7.2.4 V7.3.1 V7.3.2 V7.4.1 V7.4.2 V7.4.3 V7.4.4 V7.4.5 V7.5.1 V7.5.2 V7.6.1 V7.6.2 V8.1.1
    V8.1.2 V8.2.1 V8.2.2 V8.2.3 V8.3.1 V8.4.1 V9.1.1 V9.1.2 V9.1.3 V9.2.1 V9.2.2 V9.2.3 V9.2.4
    V10.1.1 V10.1.2 V10.2.1 V10.2.2 V10.3.1 V10.3.2 V10.3.3 V10.3.4 V10.4.1 V10.4.2 V10.4.3
    V10.4.4 V10.4.5 V10.4.6 V10.4.7 V10.4.8 V10.4.9 V10.4.10 V10.4.11 V10.5.1 V10.5.2 V10.5.3
    V10.5.4 V10.5.5 V10.6.1 V10.6.2 V10.7.1 V10.7.2 V10.7.3 V11.1.1 V11.1.2 V11.2.1 V11.2.2
    V11.2.3 V11.3.1 V11.3.2 V11.3.3 V11.4.1 V11.4.2 V11.4.3 V11.4.4 V11.5.1 V11.6.1 V12.1.1
    V12.1.2 V12.1.3 V12.2.1 V12.2.2 V12.3.1 V12.3.2 V12.3.3 V12.3.4 V13.1.1 V13.2.1 V13.2.2
    V13.2.3 V13.2.4 V13.2.5 V13.3.1 V13.3.2 V13.4.1 V13.4.2 V13.4.3 V13.4.4 V13.4.5 V14.1.1
    V14.1.2 V14.2.1 V14.2.2 V14.2.3 V14.2.4 V14.3.1 V14.3.2 V14.3.3 V15.1.1 V15.1.2 V15.1.3
    V15.2.1 V15.2.2 V15.2.3 V15.3.1 V15.3.2 V15.3.3 V15.3.4 V15.3.5 V15.3.6 V15.3.7 V16.1.1
    V16.2.1 V16.2.2 V16.2.3 V16.2.4 V16.2.5 V16.3.1 V16.3.2 V16.3.3 V16.3.4 V16.4.1 V16.4.2
    V16.4.3 V16.5.1 V16.5.2 V16.5.3 V17.1.1 V17.2.1 V17.2.2 V17.2.3 V17.2.4 V17.3.1 V17.3.2
    """
    )
)
#: Level 3 requirements the page claims as met besides (each checked against the standard).
ASVS_5_LEVEL_3_CLAIMED = frozenset({"V1.2.10"})


@cache
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


@cache
def defined_tests(path: str) -> frozenset[str]:
    """Names of the test functions defined in `path`, at module level or in a class."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"), filename=path)
    return frozenset(
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    )


def references() -> list[tuple[str, str]]:
    return sorted(set(TEST_REFERENCE.findall(doc())))


def cited() -> list[str]:
    return [f"{path}::{name}" for path, name in references()]


def test_the_page_cites_tests_for_many_requirements():
    assert len(references()) >= 100
    assert len(set(TABLE_ROW.findall(doc()))) >= 80


@pytest.mark.parametrize("reference", cited())
def test_each_cited_test_exists(reference):
    path, name = reference.split("::")
    assert (ROOT / path).is_file(), f"docs/security.md cites {path}, which does not exist"
    assert name in defined_tests(path), (
        f"docs/security.md cites {path}::{name}, but {path} defines no such test; "
        "update the page when renaming or removing a test"
    )


def test_every_requirement_row_cites_a_test():
    bare = [
        line.split("|")[1].strip()
        for line in doc().splitlines()
        if TABLE_ROW.match(line) and not TEST_REFERENCE.search(line)
    ]
    assert not bare, f"rows without a proving test: {bare}"


def test_every_requirement_id_is_in_asvs_5():
    unknown = sorted(set(ASVS_ID.findall(doc())) - ASVS_5_LEVEL_1_AND_2 - ASVS_5_LEVEL_3_CLAIMED)
    assert not unknown, f"not ASVS 5.0 level 1 or 2 requirements: {unknown}"


def test_each_requirement_has_one_row():
    rows = TABLE_ROW.findall(doc())
    assert len(rows) == len(set(rows)), sorted({row for row in rows if rows.count(row) > 1})


def test_the_checker_notices_a_missing_test():
    path, _ = references()[0]
    assert "test_that_was_never_written" not in defined_tests(path)
    assert TEST_REFERENCE.findall("see `tests/x/test_y.py::test_z`") == [
        ("tests/x/test_y.py", "test_z")
    ]
