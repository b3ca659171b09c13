import pytest

from nomadlab.structs.timestamps import format_rfc3339, parse_rfc3339


@pytest.mark.parametrize("nanos, text", [
    (10**18, "2001-09-09T01:46:40Z"),
    (10**18 + 500_000_000, "2001-09-09T01:46:40.5Z"),
    (10**18 + 7, "2001-09-09T01:46:40.000000007Z"),
])
def test_rfc3339_round_trips_to_the_nanosecond(nanos: int, text: str) -> None:
    assert format_rfc3339(nanos) == text
    assert parse_rfc3339(text) == nanos


def test_unset_and_go_zero_times_are_zero() -> None:
    assert parse_rfc3339(None) == parse_rfc3339("") == 0
    assert parse_rfc3339("0001-01-01T00:00:00Z") == 0
    assert parse_rfc3339("2001-09-09T03:46:40+02:00") == 10**18
