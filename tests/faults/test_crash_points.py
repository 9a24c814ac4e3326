"""SIGKILL a process running graphs into a DuckDB file, at chosen points of
the store's flusher and at random moments; the file must open, keep every
committed write, never re-run a finished node, and finish every thread right.

The checks are in ``crashlib``; ``crashee.py`` is the child."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from crashlib import crash, random_delays
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapes import DURABILITIES, SHAPES

POINTS = ("journal-written", "tables-written")


def test_fanout_killed_with_more_than_64_journaled_rows_reopens(tmp_path: Path) -> None:
    # issue 9, 1: recovery of a big journal entry needed the store fully built
    assert crash(tmp_path, "send", "sync", point="journal-written:3") == "killed"


@pytest.mark.parametrize("durability", DURABILITIES)
@pytest.mark.parametrize("shape", SHAPES)
def test_killed_at_a_flush(tmp_path: Path, shape: str, durability: str) -> None:
    point = "tables-written:1" if durability == "async" else "journal-written:2"
    crash(tmp_path, shape, durability, point=point)


@pytest.mark.parametrize("durability", ["sync", "exit"])
def test_killed_while_recovering_the_journal(tmp_path: Path, durability: str) -> None:
    """A second crash during the recovery of the first one loses nothing."""
    how = crash(tmp_path, "send", durability, point="journal-written:3", check_after=False)
    assert how == "killed"
    assert crash(tmp_path, "send", durability, point="journal-recovered:1") == "killed"


def _random(n: int, seed: int) -> list[tuple[str, str, float]]:
    delays = random_delays(seed, n, 0.15)  # the child runs its threads in about 0.2 s
    return [(SHAPES[i % len(SHAPES)], DURABILITIES[i % 3], d) for i, d in enumerate(delays)]


@pytest.mark.parametrize(("shape", "durability", "delay"), _random(12, 9))
def test_killed_at_a_random_moment(
    tmp_path: Path, shape: str, durability: str, delay: float
) -> None:
    crash(tmp_path, shape, durability, delay=delay)


@pytest.mark.slow
@pytest.mark.parametrize(("shape", "durability", "delay"), _random(60, 2026))
def test_killed_at_a_random_moment_long(
    tmp_path: Path, shape: str, durability: str, delay: float
) -> None:
    crash(tmp_path, shape, durability, delay=delay)


def _property(examples: int):  # type: ignore[no-untyped-def]
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        shape=st.sampled_from(SHAPES),
        durability=st.sampled_from(DURABILITIES),
        point=st.sampled_from(POINTS),
        nth=st.integers(1, 12),
        threads=st.integers(1, 3),
    )
    def prop(shape: str, durability: str, point: str, nth: int, threads: int) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            crash(Path(tmp), shape, durability, point=f"{point}:{nth}", threads=threads)

    return prop


test_any_shape_killed_at_any_flush = _property(10)
test_any_shape_killed_at_any_flush_long = pytest.mark.slow(_property(80))
