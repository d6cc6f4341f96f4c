import pytest

from twin.units import parse_duration


@pytest.mark.parametrize("text, seconds", [
    ("250ms", 0.25), ("52s", 52.0), ("5min", 300.0), ("2h", 7200.0), ("1.5d", 129600.0),
    (52, 52.0), (0.5, 0.5), ("0s", 0.0), (" 3 min ", 180.0), ("1e3s", 1000.0),
    ("28800", 28800.0), ("0", 0.0), ("2.5", 2.5),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad, fragment", [
    ("-5s", "negative"), ("-5", "negative"), ("-20min", "negative"), (-1, "negative"), ("5 minutes", "unit"), ("abc", "bad duration"),
    (True, "expected a duration"), (None, "expected a duration"), ([1], "expected a duration"),
    (float("inf"), "not finite"), (10**400, "not finite"), ("1e300s", "longer than"), (1e-300, "shorter than"), ("0.0001ms", "shorter than"),
])
def test_bad_durations_say_why(bad, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_duration(bad)
