"""Backoff (full jitter, seeding, attempts, Retry-After) and fatal-error classification."""

from __future__ import annotations

import email.utils
import math
import time

import pytest

from jetsocket import BackoffConfig, ConnectionClosedError, HandshakeError
from jetsocket._engine._retry import FATAL_CLOSE_CODES, FATAL_STATUS, Backoff, is_fatal


def refusal(status: int, **headers: str) -> HandshakeError:
    return HandshakeError(f"HTTP {status}", status_code=status, headers=headers)


def delays(backoff: Backoff, n: int, error: BaseException | None = None) -> list[float]:
    return [backoff.next_delay(error) for _ in range(n)]


# -- full jitter --------------------------------------------------------------------------


def test_full_jitter_stays_within_the_exponential_bound() -> None:
    config = BackoffConfig(base=0.1, multiplier=2.0, cap=3.0, seed=1)
    backoff = Backoff(config)
    for attempt in range(40):
        bound = min(3.0, 0.1 * 2.0**attempt)
        assert config.bound(attempt) == pytest.approx(bound)
        for _ in range(25):
            sample = Backoff(BackoffConfig(base=0.1, cap=3.0, seed=attempt * 100 + _))
            sample.attempts = attempt
            assert 0.0 <= sample.next_delay() <= bound
        assert 0.0 <= backoff.next_delay() <= bound


def test_full_jitter_uses_the_whole_range() -> None:
    # Full jitter (not "equal jitter"): delays near 0 and near the bound both occur.
    samples = [Backoff(BackoffConfig(base=1.0, cap=1.0, seed=s)).next_delay() for s in range(500)]
    assert min(samples) < 0.05
    assert max(samples) > 0.95
    assert 0.4 < sum(samples) / len(samples) < 0.6


def test_without_jitter_the_delay_is_the_bound() -> None:
    backoff = Backoff(BackoffConfig(base=0.5, multiplier=3.0, cap=10.0, jitter=False))
    assert delays(backoff, 5) == [0.5, 1.5, 4.5, 10.0, 10.0]


def test_bound_never_overflows_for_huge_attempt_numbers() -> None:
    config = BackoffConfig(base=1.0, multiplier=10.0, cap=30.0)
    assert config.bound(10_000) == 30.0


def test_zero_base_means_immediate_retries() -> None:
    assert delays(Backoff(BackoffConfig(base=0.0, seed=3)), 4) == [0.0, 0.0, 0.0, 0.0]


# -- seeding ------------------------------------------------------------------------------


def test_same_seed_same_delays() -> None:
    a = delays(Backoff(BackoffConfig(base=0.2, cap=5.0, seed=42)), 20)
    b = delays(Backoff(BackoffConfig(base=0.2, cap=5.0, seed=42)), 20)
    assert a == b


def test_different_seeds_different_delays() -> None:
    a = delays(Backoff(BackoffConfig(seed=1)), 10)
    b = delays(Backoff(BackoffConfig(seed=2)), 10)
    assert a != b


def test_unseeded_clients_do_not_share_a_sequence() -> None:
    # Many clients created at once must not retry in lockstep (thundering herd).
    firsts = {Backoff(BackoffConfig(base=1.0)).next_delay() for _ in range(50)}
    assert len(firsts) == 50


# -- attempts -----------------------------------------------------------------------------


def test_attempts_count_and_max_attempts_exhaust() -> None:
    # max_attempts counts consecutive *failed* attempts (failed()), not delays drawn.
    backoff = Backoff(BackoffConfig(max_attempts=3, seed=0))
    assert backoff.attempts == 0
    assert not backoff.exhausted()
    for expected in (1, 2):
        backoff.next_delay()
        backoff.failed()
        assert backoff.attempts == expected
        assert not backoff.exhausted()
    backoff.next_delay()
    backoff.failed()
    assert backoff.exhausted()
    backoff.succeeded()
    assert not backoff.exhausted()


def test_max_attempts_zero_means_forever() -> None:
    backoff = Backoff(BackoffConfig(max_attempts=0, seed=0))
    delays(backoff, 1000)
    assert not backoff.exhausted()


def test_reset_starts_the_exponent_and_the_count_again() -> None:
    backoff = Backoff(BackoffConfig(base=1.0, cap=100.0, jitter=False, max_attempts=3))
    assert delays(backoff, 3) == [1.0, 2.0, 4.0]
    for _ in range(3):
        backoff.failed()
    assert backoff.exhausted()
    backoff.reset()
    backoff.succeeded()
    assert backoff.attempts == 0
    assert not backoff.exhausted()
    assert backoff.next_delay() == 1.0


# -- Retry-After --------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_overrides_the_computed_delay(status: int) -> None:
    # Honoured up to max_retry_after (issue 11: no longer unbounded; default is the cap).
    backoff = Backoff(BackoffConfig(base=0.01, cap=0.01, seed=1, max_retry_after=60))
    assert backoff.next_delay(refusal(status, **{"Retry-After": "7"})) == 7.0
    assert backoff.attempts == 1  # still counted as an attempt
    # header names are case-insensitive
    assert backoff.next_delay(refusal(status, **{"retry-after": "1.5"})) == 1.5


def test_retry_after_is_honoured_above_the_cap_up_to_max_retry_after() -> None:
    # The server said when; retrying earlier would only be refused again. Above the
    # configured maximum the client waits the maximum (issue 11, item 2).
    backoff = Backoff(BackoffConfig(base=0.01, cap=1.0, seed=1, max_retry_after=300))
    assert backoff.next_delay(refusal(429, **{"Retry-After": "120"})) == 120.0
    assert backoff.next_delay(refusal(429, **{"Retry-After": "3600"})) == 300.0


@pytest.mark.parametrize("status", [400, 500, 502])
def test_retry_after_is_ignored_for_other_statuses(status: int) -> None:
    backoff = Backoff(BackoffConfig(base=0.01, cap=0.01, seed=1))
    assert backoff.next_delay(refusal(status, **{"Retry-After": "7"})) <= 0.01


@pytest.mark.parametrize("value", ["soon", "", "1e999x"])
def test_unparsable_retry_after_falls_back_to_backoff(value: str) -> None:
    backoff = Backoff(BackoffConfig(base=0.01, cap=0.01, seed=1))
    assert backoff.next_delay(refusal(429, **{"Retry-After": value})) <= 0.01


def test_negative_retry_after_is_ignored() -> None:
    # Was clamped to 0: a retry storm against a server asking us to slow down (issue 11).
    backoff = Backoff(BackoffConfig(base=5.0, seed=1, jitter=False))
    assert backoff.next_delay(refusal(429, **{"Retry-After": "-3"})) == 5.0


@pytest.mark.parametrize("value", ["0", "-5", "nan", "-inf", "inf", "0.0"])
def test_invalid_retry_after_is_ignored_and_the_backoff_applies(value: str) -> None:
    plain = Backoff(BackoffConfig(base=0.5, cap=8.0, seed=4))
    told = Backoff(BackoffConfig(base=0.5, cap=8.0, seed=4))
    expected = delays(plain, 5)
    got = delays(told, 5, refusal(429, **{"Retry-After": value}))
    assert got == expected
    assert all(d > 0 for d in got)


@pytest.mark.parametrize("value", ["3600", "1e12", "99999999999999999999"])
def test_huge_retry_after_is_clamped_to_the_cap_by_default(value: str) -> None:
    backoff = Backoff(BackoffConfig(base=0.5, cap=8.0, seed=4))
    assert delays(backoff, 3, refusal(503, **{"Retry-After": value})) == [8.0, 8.0, 8.0]


def test_retry_after_never_shortens_the_backoff() -> None:
    # Floor: the delay the backoff computed for this attempt.
    backoff = Backoff(BackoffConfig(base=4.0, cap=4.0, jitter=False))
    assert backoff.next_delay(refusal(429, **{"Retry-After": "1"})) == 4.0


def test_retry_after_above_a_small_maximum_is_clamped_to_it() -> None:
    backoff = Backoff(BackoffConfig(base=0.01, cap=30.0, seed=1, max_retry_after=2.5))
    assert backoff.next_delay(refusal(429, **{"Retry-After": "10"})) == 2.5


@pytest.mark.parametrize("bad", [-1.0, math.inf, math.nan])
def test_max_retry_after_is_validated(bad: float) -> None:
    with pytest.raises(ValueError, match="max_retry_after"):
        BackoffConfig(max_retry_after=bad)
    with pytest.raises(TypeError, match="max_retry_after"):
        BackoffConfig(max_retry_after="5")  # type: ignore[arg-type]


def test_no_retry_after_uses_backoff() -> None:
    backoff = Backoff(BackoffConfig(base=0.01, cap=0.01, seed=1))
    assert backoff.next_delay(refusal(429)) <= 0.01


def test_retry_after_http_date_form() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    delay = Backoff(BackoffConfig(base=0.01, seed=1)).next_delay(
        refusal(503, **{"Retry-After": when})
    )
    assert 25.0 <= delay <= 31.0


# -- fatal or retriable -------------------------------------------------------------------


@pytest.mark.parametrize("status", sorted(FATAL_STATUS))
def test_fatal_statuses(status: int) -> None:
    assert status in (401, 403, 404)
    assert is_fatal(refusal(status))


@pytest.mark.parametrize("status", [400, 408, 429, 500, 502, 503, 0])
def test_retriable_statuses(status: int) -> None:
    assert not is_fatal(refusal(status))


def test_close_1008_is_fatal_other_codes_are_not() -> None:
    assert frozenset({1008}) == FATAL_CLOSE_CODES
    assert is_fatal(ConnectionClosedError(1008, "policy violation"))
    for code in (1000, 1001, 1006, 1011, 1012, 1013, 4000):
        assert not is_fatal(ConnectionClosedError(code))


@pytest.mark.parametrize(
    "exc", [OSError("unreachable"), TimeoutError(), ConnectionResetError(), RuntimeError()]
)
def test_network_errors_are_retriable(exc: BaseException) -> None:
    assert not is_fatal(exc)


def test_classifier_hook_reclassifies() -> None:
    def hook(exc: BaseException) -> bool | None:
        if isinstance(exc, HandshakeError) and exc.status_code == 401:
            return True  # e.g. a token refreshed by on_open: retry
        if isinstance(exc, ConnectionClosedError) and exc.code == 4001:
            return False  # venue-specific "banned"
        return None  # default rules

    assert not is_fatal(refusal(401), hook)
    assert is_fatal(ConnectionClosedError(4001), hook)
    assert is_fatal(refusal(403), hook)
    assert not is_fatal(ConnectionClosedError(1011), hook)
