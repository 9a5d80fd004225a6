"""Fuzz tests: the table reader and the config loader over malformed files either load or raise the
project's one clear ValueError, never a library's own exception."""

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dacl.cli import load_config_file
from dacl.tables.files import read_table

CELLS = st.one_of(st.text(string.printable, max_size=8), st.integers(-10**30, 10**30).map(str),
                  st.floats(allow_nan=True, allow_infinity=True).map(repr), st.just(""))  # fmt: skip


@st.composite
def tables(draw):
    """CSV-like text: random cells, delimiters, ragged rows, BOMs, empty columns, huge values."""
    delimiter = draw(st.sampled_from([",", ";", "\t", "|", ", "]))
    rows = draw(st.lists(st.lists(CELLS, min_size=0, max_size=5), min_size=0, max_size=6))
    text = "\n".join(delimiter.join(row) for row in rows)
    prefix = draw(st.sampled_from(["", "\ufeff"]))
    return (prefix + text).encode("utf-8", errors="surrogatepass")


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(st.one_of(tables(), st.binary(max_size=400)), st.sampled_from([None, 0, "a", 3]),
       st.sampled_from([".csv", ".tsv", ".parquet"]))  # fmt: skip
def test_table_reader_loads_or_raises_one_clear_error(tmp_path, data, label, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    try:
        X, y = read_table(path, label)
    except ValueError as error:
        assert str(path) in str(error) or "label column" in str(error), error
        return
    assert len(X) > 0


@SETTINGS
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)), st.sampled_from([".yaml", ".toml"]))
def test_config_loader_loads_or_raises_one_clear_error(tmp_path, data, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    try:
        values = load_config_file(path)
    except ValueError as error:
        assert str(path) in str(error), error
        return
    assert isinstance(values, dict)


@pytest.mark.parametrize("text", ["\ufeffa,b\n1,2\n3,4\n", "a;b\n1;2\n3;4\n"])
def test_a_bom_is_read_and_a_wrong_delimiter_gives_one_column(tmp_path, text):
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")
    X, y = read_table(path, "a" if "," in text else None)
    assert list(X.columns) == (["b"] if "," in text else ["a;b"])


def test_a_row_longer_than_its_header_with_an_empty_label_is_one_clear_error(tmp_path):
    """Found by the property above: pandas read the first column as an index, then failed inside when the
    label column was read again as text."""
    path = tmp_path / "t.csv"
    path.write_bytes(b",0\n,,")
    with pytest.raises(ValueError, match=f"cannot read {path} as CSV"):
        read_table(path, 0)
