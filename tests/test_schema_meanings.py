"""Every column and label of ``hskit.schema`` has its meaning there, for the contract page."""

from __future__ import annotations

import pandas as pd
import pytest

from hskit import schema

TABLE_DTYPES = {
    "segments": schema.SEGMENT_DTYPES,
    "connections": schema.CONNECTION_DTYPES,
    "states": schema.STATE_DTYPES,
    "findings": schema.FINDING_DTYPES,
    "conn_log": schema.CONN_LOG_DTYPES,
}


@pytest.mark.parametrize("name", TABLE_DTYPES)
def test_every_column_of_every_table_has_a_meaning(name: str) -> None:
    table = schema.TABLES[name]
    assert table.dtypes is TABLE_DTYPES[name]
    assert list(table.meanings) == list(table.dtypes), "add the new column's meaning to schema"
    assert all(meaning.strip() for meaning in table.meanings.values())


def test_every_categorical_column_has_its_vocabulary_with_meanings() -> None:
    vocabularies = {v.labels: column for column, v in schema.VOCABULARIES.items()}
    for table in schema.TABLES.values():
        for column, dtype in table.dtypes.items():
            if isinstance(dtype, pd.CategoricalDtype) and dtype.categories is not None:
                assert tuple(dtype.categories) in vocabularies, column
    for column, vocabulary in schema.VOCABULARIES.items():
        assert tuple(vocabulary.meanings) == vocabulary.labels, column


def test_every_flag_bit_has_a_meaning() -> None:
    assert list(schema.FLAG_MEANINGS) == [bit for bit, _, _ in schema.FLAG_BITS]


def test_history_letters_are_zeeks() -> None:
    assert set(schema.HISTORY_LETTERS) == set("SHADFRCGTWIQ^")
