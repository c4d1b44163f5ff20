import pytest

from schemas.selector import parse_selector

LABELS = {"app": "web", "tier": "front", "shoal.dev/sync": "demo"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app=db", False),
        ("app!=db", True),
        ("app!=web", False),
        ("missing!=x", True),
        ("tier", True),
        ("missing", False),
        ("!missing", True),
        ("!app", False),
        ("app=web,tier=front", True),
        ("app=web,tier=back", False),
        ("shoal.dev/sync=demo", True),
        (" app = web , !legacy ", True),
        ("app=", False),
    ],
)
def test_selector_matches(text: str, expected: bool) -> None:
    assert parse_selector(text).matches(LABELS) is expected


@pytest.mark.parametrize(
    "text",
    ["app=web,,tier=front", "app in (web)", "Bad Key=1", "app=not valid", "-x=1", "a=" + "v" * 64],
)
def test_selector_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="selector"):
        parse_selector(text)


def test_selector_str_round_trips() -> None:
    sel = parse_selector("app=web,tier!=db,canary,!legacy")
    assert str(sel) == "app=web,tier!=db,canary,!legacy"
    assert parse_selector(str(sel)) == sel


def test_parse_labels() -> None:
    from schemas.selector import parse_labels

    assert parse_labels("zone=a, ssd=true,") == {"zone": "a", "ssd": "true"}
    assert parse_labels("") == {}
    for bad in ("zone", "zone=a,zone=b", "-x=1", "k=v v"):
        with pytest.raises(ValueError):
            parse_labels(bad)
