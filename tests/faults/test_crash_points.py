"""SIGKILL a process running graphs into a DuckDB file, at chosen points of
the store's flusher and at random moments; the file must open, keep every
committed write, never re-run a finished node, and finish every thread right.

The checks are in ``crashlib``; ``crashee.py`` is the child. The child keeps
starting threads until it is killed, so every test here kills it inside a
run (a test whose child ends on its own fails)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from crashlib import crash, random_moments
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapes import DURABILITIES, SHAPES

MIGRATE = 0.02  # journaled rows moved into the tables every 20 ms: kills land around it


def test_fanout_killed_with_more_than_64_journaled_rows_reopens(tmp_path: Path) -> None:
    # issue 9, 1: recovery of a big journal entry needed the store fully built
    crash(tmp_path, "send", "sync", point="journal-written:3")


# the points each mode passes: sync and exit commit to the journal, and move
# it into the tables every `migrate` seconds; async writes the tables only
FLUSH_POINTS = {
    "sync": [("journal-written:2", None), ("tables-written:1", MIGRATE)],
    "exit": [("journal-written:2", None), ("tables-written:1", MIGRATE)],
    "async": [("tables-written:1", None), ("tables-written:3", None)],
}


@pytest.mark.parametrize(
    ("durability", "point", "migrate"),
    [(d, p, m) for d in DURABILITIES for p, m in FLUSH_POINTS[d]],
)
@pytest.mark.parametrize("shape", SHAPES)
def test_killed_at_a_flush(
    tmp_path: Path, shape: str, durability: str, point: str, migrate: float | None
) -> None:
    crash(tmp_path, shape, durability, point=point, migrate=migrate)


@pytest.mark.parametrize("durability", ["sync", "exit"])
def test_killed_while_recovering_the_journal(tmp_path: Path, durability: str) -> None:
    """A second crash during the recovery of the first one loses nothing."""
    crash(tmp_path, "send", durability, point="journal-written:3", check_after=False)
    crash(tmp_path, "send", durability, point="journal-recovered:1")


def _random(n: int, seed: int) -> list[tuple[str, str, float, float, float | None]]:
    moments = random_moments(seed, n)
    return [
        (SHAPES[i % len(SHAPES)], DURABILITIES[i % 3], at, jitter, MIGRATE if i % 4 < 2 else None)
        for i, (at, jitter) in enumerate(moments)
    ]


@pytest.mark.parametrize(("shape", "durability", "at", "jitter", "migrate"), _random(12, 9))
def test_killed_at_a_random_moment(
    tmp_path: Path, shape: str, durability: str, at: float, jitter: float, migrate: float | None
) -> None:
    crash(tmp_path, shape, durability, at=at, jitter=jitter, migrate=migrate)


@pytest.mark.slow
@pytest.mark.parametrize(("shape", "durability", "at", "jitter", "migrate"), _random(60, 2026))
def test_killed_at_a_random_moment_long(
    tmp_path: Path, shape: str, durability: str, at: float, jitter: float, migrate: float | None
) -> None:
    crash(tmp_path, shape, durability, at=at, jitter=jitter, migrate=migrate)


@st.composite
def flush_points(draw: st.DrawFn) -> tuple[str, str, float | None]:
    """A durability mode, a point it passes (the how-many-th time: a few
    runs' worth) and how often it moves the journal into the tables."""
    durability = draw(st.sampled_from(DURABILITIES))
    migrate = draw(st.sampled_from([None, MIGRATE]))
    points = ["tables-written"] if durability == "async" else ["journal-written"]
    if durability != "async" and migrate:
        points.append("tables-written")
    point = draw(st.sampled_from(points))
    most = 12 if (durability, point) == ("sync", "journal-written") else 4
    return durability, f"{point}:{draw(st.integers(1, most))}", migrate


def _property(examples: int):  # type: ignore[no-untyped-def]
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(shape=st.sampled_from(SHAPES), where=flush_points(), threads=st.integers(1, 3))
    def prop(shape: str, where: tuple[str, str, float | None], threads: int) -> None:
        durability, point, migrate = where
        with tempfile.TemporaryDirectory() as tmp:
            crash(Path(tmp), shape, durability, point=point, threads=threads, migrate=migrate)

    return prop


test_any_shape_killed_at_any_flush = _property(10)
test_any_shape_killed_at_any_flush_long = pytest.mark.slow(_property(80))
