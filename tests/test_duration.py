import pytest

from nomadlab.structs.duration import HOUR, MINUTE, SECOND, format_duration, parse_duration


@pytest.mark.parametrize("text, nanos", [
    ("0", 0), ("30s", 30 * SECOND), ("1h30m", HOUR + 30 * MINUTE), ("1.5h", HOUR + 30 * MINUTE),
    ("250ms", 250_000_000), ("10us", 10_000), ("10µs", 10_000), ("7ns", 7), ("-2m", -2 * MINUTE),
    ("24h", 24 * HOUR), ("1m0.5s", MINUTE + SECOND // 2),
])
def test_parse_duration_like_go(text: str, nanos: int) -> None:
    assert parse_duration(text) == nanos


@pytest.mark.parametrize("text, words", [
    ("5 seconds", "invalid duration"), ("", "invalid duration"), ("10", "missing unit"),
    ("1d", "invalid duration"), ("s", "invalid duration"),
])
def test_bad_durations_use_gos_words(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_duration(text)


@pytest.mark.parametrize("nanos, text", [
    (0, "0s"), (30 * SECOND, "30s"), (HOUR + 30 * MINUTE, "1h30m0s"), (24 * HOUR, "24h0m0s"),
    (250_000_000, "250ms"), (1500, "1.5µs"), (7, "7ns"), (-2 * MINUTE, "-2m0s"),
    (MINUTE + SECOND // 2, "1m0.5s"),
])
def test_format_duration_like_go(nanos: int, text: str) -> None:
    assert format_duration(nanos) == text
    assert parse_duration(text) == nanos
