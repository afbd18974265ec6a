import numpy as np
import pytest

from hpcast.data import BUNDLED, DataError, load_bundled
from hpcast.inputs import load_data

# Row counts and ranges from shared/data/README.md (bitcoin: 666 source rows, 4 all-empty dropped).
EXPECTED = {"sp500": (5031, "1999-01-04", "2018-12-31"), "air_passengers": (144, "1949-01-01", "1960-12-01"),
            "gold": (10750, "1979-01-01", "2020-03-13"), "bitcoin": (662, "2020-01-01", "2021-10-27"),
            "treasury_1m": (3917, "2001-07-31", "2017-03-29"), "cpi": (203, "1959-01-01", "2009-07-01")}


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_every_bundled_dataset_loads_with_its_invariants(name):
    dataset = load_bundled(name)
    assert dataset.freq == BUNDLED[name].freq
    series = dataset.series()
    assert series.index.is_monotonic_increasing and series.index.is_unique
    assert np.isfinite(series.to_numpy()).all()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bundled_ranges_match_the_documented_provenance(name):
    rows, first, last = EXPECTED[name]
    summary = load_bundled(name).summary()
    assert (summary["rows"], summary["from"], summary["to"]) == (rows, first, last)


def test_bitcoin_empty_rows_are_reported_not_silently_dropped():
    notes = load_bundled("bitcoin").notes
    assert notes == ("dropped 4 all-empty source rows: 2020-04-17, 2020-10-09, 2020-10-12, 2020-10-13",)


def test_known_values():
    assert load_bundled("sp500").series().iloc[0] == pytest.approx(1228.099976)
    assert load_bundled("air_passengers").series().iloc[-1] == 432.0


def test_unknown_dataset_names_the_choices():
    with pytest.raises(DataError, match=r"dataset \('nope'\) must be one of: .*air_passengers"):
        load_bundled("nope")


def test_load_data_wants_exactly_one_source():
    with pytest.raises(DataError, match="give exactly one of --dataset, --csv or --ticker"):
        load_data("sp500", csv="x.csv")
