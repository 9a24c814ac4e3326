"""The value guarantee as a property: every value of a type the serde
claims (docs/checkpoints.md, "Values") comes back exactly from ``invoke``
and ``get_state`` on both stores; every hostile value is refused at its
step with an error naming the node and the key path.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import re
import zoneinfo
from collections.abc import Iterator
from typing import Any, TypedDict

import pytest
from crashlib import FIGURES
from exact import exact
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wfkit import END, START, StateGraph
from wfkit.checkpoint import DuckDBCheckpointer, MemoryCheckpointer
from wfkit.errors import SerializationError
from wfkit.workflow import Workflow


class Colour(enum.Enum):
    RED = "red"
    PAIR = (1, 2)


class Level(enum.IntEnum):
    LOW = 1


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    label: str = ""


class State(TypedDict, total=False):
    x: Any
    colour: Colour
    level: Level
    point: Point


# ------------------------------------------------------------------ strategies
texts = st.text(st.characters(exclude_categories=()), max_size=12)  # surrogates and NUL too
ints = st.integers() | st.tuples(st.integers(), st.integers(0, 40000)).map(lambda p: p[0] << p[1])
floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([-0.0, float("-nan")])
zones = (
    st.none()
    | st.just(dt.UTC)
    | st.timedeltas(-dt.timedelta(hours=23, minutes=59), dt.timedelta(hours=23, minutes=59)).map(
        dt.timezone
    )
    | st.builds(
        dt.timezone,
        st.timedeltas(dt.timedelta(0), dt.timedelta(hours=5)),
        texts.filter(lambda s: s.isascii() and s.isprintable() and len(s) > 0),
    )
    | st.sampled_from(
        ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
    ).map(zoneinfo.ZoneInfo)
)
hashable_leaves = (
    st.none()
    | st.booleans()
    | ints
    | floats
    | texts
    | st.binary(max_size=8)
    | st.datetimes(timezones=zones, allow_imaginary=True).map(lambda d: d)
    | st.dates()
    | st.times(timezones=zones)
    | st.timedeltas()
    | st.decimals(allow_nan=False, allow_infinity=True)
    | st.uuids()
    | st.sampled_from(list(Colour) + list(Level))
    | st.builds(Point, st.integers(), texts)
)
folded = st.datetimes(timezones=zones).map(lambda d: d.replace(fold=1))
nan_decimals = st.decimals(allow_nan=True).filter(lambda d: d.is_nan())  # sNaN cannot be hashed
leaves = hashable_leaves | folded | nan_decimals | st.binary(max_size=8).map(bytearray)
hashables = st.recursive(
    hashable_leaves,
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
    max_leaves=4,
)
values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(texts, inner, max_size=4)
        | st.dictionaries(hashables, inner, max_size=3)
        | st.sets(hashables, max_size=3)
        | st.frozensets(hashables, max_size=3)
        | st.builds(lambda v: {"__wf__": v}, inner)
    ),
    max_leaves=12,
)


# ------------------------------------------------------------------ the stores
@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Workflow]]:
    """One workflow per store; the node returns whatever ``SLOT`` holds. The
    second DuckDB store keeps no thread in memory: it reads from the file."""
    folder = tmp_path_factory.mktemp("values")
    stores = [
        MemoryCheckpointer(),
        DuckDBCheckpointer(folder / "v.duckdb"),
        DuckDBCheckpointer(folder / "file.duckdb", cache_bytes=0),
    ]
    out = []
    for store in stores:
        graph = StateGraph(State)
        graph.add_node("put", lambda s: {"x": SLOT[0]})
        graph.add_edge(START, "put").add_edge("put", END)
        out.append(graph.compile(checkpointer=store))
    yield out
    for store in stores:
        store.close()


SLOT: list[Any] = [None]
THREAD = [0]


def store_and_read(app: Workflow, value: Any) -> tuple[Any, Any]:
    THREAD[0] += 1
    config = {"configurable": {"thread_id": f"v{THREAD[0]}"}}
    SLOT[0] = value
    out = app.invoke({}, config)["x"]
    return out, app.get_state(config).values["x"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=values)
def test_every_claimed_value_comes_back_exactly(apps: list[Workflow], value: Any) -> None:
    FIGURES["inputs tried: values, each through every store"] += 1
    for app in apps:
        out, back = store_and_read(app, value)
        assert out is value
        assert exact(back, value), (type(app.checkpointer).__name__, back, value)


# ------------------------------------------------------------------ hostile values
class Label(str):
    pass


def _cyclic(inner: Any) -> Any:
    box: list[Any] = [inner]
    box.append({"back": box})
    return box


def _deep(inner: Any) -> Any:
    for _ in range(101):
        inner = [inner]
    return inner


hostile = st.one_of(
    values.map(_cyclic),
    values.map(_deep),
    texts.map(Label),
    st.complex_numbers(),
    st.just(object()),
    st.builds(lambda s: range(len(s)), texts),
    st.datetimes().map(lambda d: d.replace(tzinfo=_OtherZone())),
)


class _OtherZone(dt.tzinfo):
    def utcoffset(self, d: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(hours=1)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bad=hostile, key=st.sampled_from(["a", "b_2"]), index=st.integers(0, 3))
def test_every_hostile_value_is_refused_naming_node_and_path(
    apps: list[Workflow], bad: Any, key: str, index: int
) -> None:
    value = {key: [None] * index + [bad]}
    FIGURES["inputs tried: hostile values, each refused by every store"] += 1
    for app in apps:
        with pytest.raises(SerializationError) as err:
            store_and_read(app, value)
        assert re.search(
            rf"cannot store the update of node 'put'\.x\.{key}\[{index}\]", str(err.value)
        ), str(err.value)
