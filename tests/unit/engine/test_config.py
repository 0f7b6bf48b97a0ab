"""Configuration validation (at the call site, never later on the loop) and state transitions."""

from __future__ import annotations

import itertools
from typing import Any, get_args

import pytest

import jetsocket
from jetsocket import (
    BackoffConfig,
    BufferConfig,
    ConnectionState,
    HeartbeatConfig,
    OverflowPolicy,
    ReplayConfig,
    ReplayMode,
)
from jetsocket._engine._config import OverflowChoice
from jetsocket._engine._state import check_transition

URI = "ws://127.0.0.1:9/"

# -- BackoffConfig ------------------------------------------------------------------------


def test_backoff_defaults() -> None:
    config = BackoffConfig()
    assert (config.base, config.multiplier, config.cap) == (0.5, 2.0, 30.0)
    assert config.jitter
    assert config.max_attempts == 0
    assert config.reset_after == 60.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base": -1},
        {"cap": -0.1},
        {"reset_after": -5},
        {"multiplier": 0.5},
        {"max_attempts": -1},
        {"max_attempts": 1.5},
    ],
)
def test_backoff_rejects_bad_values(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        BackoffConfig(**kwargs)


@pytest.mark.parametrize(
    "kwargs", [{"base": "1"}, {"cap": None}, {"base": True}, {"multiplier": "2"}]
)
def test_backoff_rejects_bad_types(kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        BackoffConfig(**kwargs)


def test_backoff_is_frozen() -> None:
    config = BackoffConfig()
    with pytest.raises(AttributeError):
        config.base = 3  # type: ignore[misc]


# -- HeartbeatConfig ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"interval": 0},
        {"interval": -1},
        {"timeout": 0},
        {"use_application_ping": True},  # no payload
        {"use_ws_ping": False},  # nothing left to ping with
    ],
)
def test_heartbeat_rejects_bad_values(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"must be|needs a payload|enable use_ws_ping"):
        HeartbeatConfig(**kwargs)


def test_heartbeat_rejects_bad_types() -> None:
    with pytest.raises(TypeError):
        HeartbeatConfig(interval="20")  # type: ignore[arg-type]


def test_heartbeat_application_ping() -> None:
    config = HeartbeatConfig(
        interval=5,
        timeout=2,
        payload={"op": "ping"},
        use_ws_ping=False,
        use_application_ping=True,
        pong_matcher=lambda m: m == {"op": "pong"},
    )
    assert config.pong_matcher is not None
    assert config.pong_matcher({"op": "pong"})


def test_heartbeat_application_ping_needs_a_way_to_see_pongs() -> None:
    with pytest.raises(ValueError, match="pong"):
        HeartbeatConfig(
            payload="ping",
            use_ws_ping=False,
            use_application_ping=True,
            any_message_is_alive=False,
        )


# -- BufferConfig -------------------------------------------------------------------------


def test_buffer_policies_are_strings() -> None:
    for policy in get_args(OverflowChoice):
        assert BufferConfig(overflow_policy=policy).overflow_policy == policy
    # The compatibility constants equal their strings (accepted at run time, not typed).
    for member in OverflowPolicy:
        assert BufferConfig(overflow_policy=member).overflow_policy == member.value  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"capacity": 0}, ValueError),
        ({"capacity": -5}, ValueError),
        ({"capacity": 1.5}, TypeError),
        ({"capacity": "10"}, TypeError),
        ({"capacity": True}, TypeError),
        ({"overflow_policy": "drop_everything"}, ValueError),
        ({"dedup_window": 0}, ValueError),
    ],
)
def test_buffer_rejects_bad_values(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        BufferConfig(**kwargs)


# -- ReplayConfig -------------------------------------------------------------------------


def test_replay_modes() -> None:
    assert ReplayConfig().mode == "none"
    assert ReplayConfig(mode="full_buffer").mode == "full_buffer"
    config = ReplayConfig(mode="sequence_id", sequence_extractor=lambda m: m["seq"])
    assert config.mode == "sequence_id"
    # The compatibility constant is stored as its plain string.
    compat: Any = ReplayMode.FULL_BUFFER  # untyped callers may still pass the constant
    assert type(ReplayConfig(mode=compat).mode) is str


def test_replay_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="not a valid"):
        ReplayConfig(mode="everything")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sequence_extractor"):
        ReplayConfig(mode="sequence_id")


def test_replay_rejects_negative_pending_limit() -> None:
    with pytest.raises(ValueError, match="max_pending_sends"):
        ReplayConfig(mode="full_buffer", max_pending_sends=-1)


# -- WebSocket options --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"heartbeat": 0}, ValueError),
        ({"heartbeat": -1.0}, ValueError),
        ({"buffer": 0}, ValueError),
        ({"buffer": "big"}, TypeError),
        ({"send_while_reconnecting": "queue"}, ValueError),
        ({"connect_timeout": 0}, ValueError),
        ({"close_timeout": -1}, ValueError),
        ({"send_timeout": 0}, ValueError),
        ({"max_message_size": 0}, ValueError),
        ({"max_connection_age": -1}, ValueError),
        ({"idle_timeout": -0.5}, ValueError),
        ({"compression_threshold": -1}, ValueError),
        ({"send_rate": -1}, ValueError),
    ],
)
def test_websocket_rejects_bad_options(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        jetsocket.WebSocket(URI, **kwargs)


@pytest.mark.parametrize("name", ["max_connection_age", "idle_timeout"])
def test_websocket_rejects_zero_durations(name: str) -> None:
    options: dict[str, Any] = {name: 0}
    with pytest.raises(ValueError, match=name):
        jetsocket.WebSocket(URI, **options)


def test_dedup_without_sequence_extractor_is_refused() -> None:
    with pytest.raises(ValueError, match="sequence_extractor"):
        jetsocket.WebSocket(URI, buffer=BufferConfig(enable_dedup=True))


def test_heartbeat_float_becomes_a_config() -> None:
    ws = jetsocket.WebSocket(URI, heartbeat=30.0)
    config = ws.settings.heartbeat
    assert config is not None
    assert config.interval == 30.0
    assert config.timeout == 10.0  # capped: a dead peer is found within 40 s, not 60 s


# -- ConnectionState transitions -----------------------------------------------------------

S = ConnectionState
LEGAL = {
    (S.IDLE, S.CONNECTING),
    (S.IDLE, S.CLOSED),
    (S.CONNECTING, S.CONNECTED),
    (S.CONNECTING, S.RECONNECTING),
    (S.CONNECTING, S.FAILED),
    (S.CONNECTING, S.CLOSING),
    (S.CONNECTING, S.CLOSED),
    (S.CONNECTED, S.RECONNECTING),
    (S.CONNECTED, S.CLOSING),
    (S.CONNECTED, S.CLOSED),
    (S.CONNECTED, S.FAILED),
    (S.RECONNECTING, S.CONNECTING),
    (S.RECONNECTING, S.CLOSING),
    (S.RECONNECTING, S.CLOSED),
    (S.RECONNECTING, S.FAILED),
    (S.CLOSING, S.CLOSED),
    (S.FAILED, S.CONNECTING),
    (S.FAILED, S.CLOSED),
}


def test_the_happy_lifecycle_is_legal() -> None:
    path = [S.IDLE, S.CONNECTING, S.CONNECTED, S.RECONNECTING, S.CONNECTING, S.CONNECTED]
    path += [S.CLOSING, S.CLOSED]
    for old, new in itertools.pairwise(path):
        check_transition(old, new)


@pytest.mark.parametrize(("old", "new"), sorted(itertools.product(S, S)))
def test_every_transition_is_checked(old: ConnectionState, new: ConnectionState) -> None:
    if (old, new) in LEGAL:
        check_transition(old, new)
    else:
        with pytest.raises(RuntimeError, match=f"{old.value} -> {new.value}"):
            check_transition(old, new)


def test_closed_is_terminal() -> None:
    for new in S:
        with pytest.raises(RuntimeError):
            check_transition(S.CLOSED, new)
