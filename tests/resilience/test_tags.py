"""Per-tag timeout registry: resolution order, atomic validated updates, files, thread safety."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from resilience._config import ConfigError
from resilience.timeouts import Resolved, TagTimeouts, TimeoutRegistry, qualified_name, timeout_tag


@timeout_tag("payment.confirm")
def confirm_payment() -> None:
    """A function declaring its business tag."""


def check_inventory() -> None:
    """A function without a tag: resolved by its qualified name."""


def other() -> None:
    """Neither tagged nor listed: the default applies."""


NAME = f"{__name__}.check_inventory"


def registry() -> TimeoutRegistry:
    return TimeoutRegistry(
        TagTimeouts(default=1.0, tags={"payment.confirm": 0.8, NAME: 0.3, "user.profile": 0.2})
    )


def test_timeout_for_a_tag_alone_agrees_with_resolve_before_and_after_updates() -> None:
    r = registry()
    tags = ["payment.confirm", "user.profile", NAME, "unknown.tag"]
    for change in ({}, {"user.profile": 1.5, "new.tag": 0.4}, {"payment.confirm": None}):
        r.update(change, default=2.0 if change else None)
        for tag in [*tags, "new.tag"]:
            assert r.timeout_for(tag=tag) == r.resolve(tag=tag).timeout
    assert r.timeout_for(tag="payment.confirm") == 2.0  # removed: the new default
    assert r.timeout_for(tag="user.profile") == 1.5


def test_resolution_explicit_tag_then_qualified_name_then_default() -> None:
    r = registry()
    assert r.resolve(confirm_payment) == Resolved(0.8, "payment.confirm", True)
    assert r.resolve(check_inventory) == Resolved(0.3, NAME, True)
    assert r.resolve(other) == Resolved(1.0, "default", False)
    assert r.resolve(check_inventory, tag="user.profile") == Resolved(0.2, "user.profile", True)
    assert r.resolve(check_inventory, tag="unknown.tag") == Resolved(0.3, NAME, True)
    assert r.resolve(tag="user.profile").timeout == 0.2
    assert r.resolve() == Resolved(1.0, "default", False)
    assert r.timeout_for(confirm_payment) == 0.8
    assert qualified_name(check_inventory) == NAME


def test_resolved_deadline_carries_explicitness() -> None:
    r = registry()
    d = r.resolve(confirm_payment).deadline(10.0)
    assert d.expires_at == pytest.approx(10.8) and d.explicit
    assert not r.resolve(other).deadline(0.0).explicit


def test_timeout_tag_rejects_empty_tags() -> None:
    with pytest.raises(
        ValueError, match=r"timeout_tag\(' x'\): must be a non-empty string without outer spaces"
    ):
        timeout_tag(" x")


def test_update_merges_removes_and_versions() -> None:
    r = registry()
    before = r.table
    new = r.update({"payment.confirm": 0.3, "user.profile": None, "search.query": 2}, default=1.5)
    assert r.table is new and r.version == 1
    assert dict(new.tags) == {"payment.confirm": 0.3, NAME: 0.3, "search.query": 2.0} and new.default == 1.5
    assert r.timeout_for(confirm_payment) == 0.3 and r.timeout_for(tag="user.profile") == 1.5
    assert dict(before.tags)["payment.confirm"] == 0.8  # old snapshots never change


@pytest.mark.parametrize(
    ("change", "default", "message"),
    [
        (
            {"payment.confirm": 0},
            None,
            "TagTimeouts.tags['payment.confirm']=0: must be a number > 0 and finite",
        ),
        ({"a": -1, "b": 1}, None, "TagTimeouts.tags['a']=-1: must be a number > 0 and finite"),
        ({"a": float("nan")}, None, "TagTimeouts.tags['a']=nan: must be a number > 0 and finite"),
        ({"a": "fast"}, None, "TagTimeouts.tags['a']='fast': must be a number > 0 and finite"),
        ({"a": True}, None, "TagTimeouts.tags['a']=True: must be a number > 0 and finite"),
        ({"": 1}, None, "TagTimeouts.tags='': keys must be non-empty strings without outer spaces"),
        ({"a ": 1}, None, "TagTimeouts.tags='a ': keys must be non-empty strings without outer spaces"),
        ({"a": 1}, 0.0, "TagTimeouts.default=0.0: must be > 0 and finite"),
    ],
)
def test_a_bad_update_is_rejected_and_the_old_values_stay(
    change: dict[str, Any], default: float | None, message: str
) -> None:
    r = registry()
    before = r.table
    with pytest.raises(ConfigError) as info:
        r.update(change, default=default)
    assert str(info.value) == message
    assert r.table is before and r.version == 0
    assert r.timeout_for(confirm_payment) == 0.8


def test_update_needs_a_mapping() -> None:
    r = registry()
    with pytest.raises(
        ConfigError, match=r"TagTimeouts.tags=\[\('a', 1\)\]: must be a table of tag = seconds"
    ):
        r.update([("a", 1)])  # type: ignore[arg-type]


def test_load_toml_and_json_replace_the_table(tmp_path: Path) -> None:
    r = registry()
    toml = tmp_path / "timeouts.toml"
    toml.write_text('default = 0.9\n[tags]\n"payment.confirm" = 1.2\n', encoding="utf-8")
    r.load(toml)
    assert r.table == TagTimeouts(default=0.9, tags={"payment.confirm": 1.2})
    assert r.timeout_for(check_inventory) == 0.9  # a full replace: the qualified-name entry is gone
    js = tmp_path / "timeouts.json"
    js.write_text('{"default": 2, "tags": {"inventory.check": 0.3}}', encoding="utf-8")
    r.load(js)
    assert r.table == TagTimeouts(default=2.0, tags={"inventory.check": 0.3}) and r.version == 2


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "t.toml",
            'default = 1\n[tags]\n"a" = -2\n',
            "TagTimeouts.tags['a']=-2: must be a number > 0 and finite",
        ),
        ("t.toml", "default = -1\n", "TagTimeouts.default=-1.0: must be > 0 and finite"),
        ("t.toml", "defualt = 1\n", "TagTimeouts.defualt=1: unknown field"),
        ("t.toml", "default = [", "t.toml: cannot parse:"),
        ("t.json", '{"tags": {"a": 1}', "t.json: cannot parse:"),
        ("t.json", '{"tags": 3}', "TagTimeouts.tags=3: must be a table of tag = seconds"),
        ("t.yaml", "default: 1", "t.yaml: unsupported format '.yaml' (use .toml or .json)"),
    ],
)
def test_a_bad_file_is_rejected_and_the_old_values_stay(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    r = registry()
    before = r.table
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError) as info:
        r.load(path)
    assert message in str(info.value)
    assert r.table is before and r.version == 0


def test_table_round_trip_and_immutability() -> None:
    t = TagTimeouts(default=1.0, tags={"a": 1, "b": 0.5})
    assert TagTimeouts.from_dict(t.to_dict()) == t and t.to_dict() == {
        "default": 1.0,
        "tags": {"a": 1.0, "b": 0.5},
    }
    with pytest.raises(TypeError):
        t.tags["a"] = 3.0  # type: ignore[index]
    assert hash(t) == hash(TagTimeouts(default=1.0, tags={"b": 0.5, "a": 1.0}))


class NoLock:
    """A lock that does nothing: the negative control."""

    def acquire(self, *a: Any) -> bool:
        return True

    def release(self) -> None:
        pass

    def __enter__(self) -> bool:
        return True

    def __exit__(self, *exc: object) -> None:
        pass


def concurrent_updates(r: TimeoutRegistry, threads: int = 8, per_thread: int = 40) -> int:
    """Each thread adds its own tags; returns how many tags survived."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    start = threading.Barrier(threads)

    def work(i: int) -> None:
        start.wait()
        for j in range(per_thread):
            r.update({f"t{i}.{j}": 1.0})

    try:
        pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
    finally:
        sys.setswitchinterval(old)
    return len(r.table.tags)


def test_concurrent_updates_lose_nothing_and_readers_see_whole_snapshots() -> None:
    r = TimeoutRegistry()
    seen: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            table = r.table
            seen.append(len(table.tags))
            assert all(v == 1.0 for v in table.tags.values())

    t = threading.Thread(target=reader)
    t.start()
    try:
        assert concurrent_updates(r) == 8 * 40
    finally:
        stop.set()
        t.join()
    assert r.version == 8 * 40 and seen == sorted(seen)  # snapshots only grow, one accepted update at a time


def test_negative_control_updates_without_the_lock_lose_tags() -> None:
    lost = False
    for _ in range(5):
        r = TimeoutRegistry()
        r._lock = NoLock()  # type: ignore[assignment]
        if concurrent_updates(r) < 8 * 40:
            lost = True
            break
    assert lost, "without the lock concurrent read-modify-write updates should lose tags"
