"""Classification: exceptions, HTTP status and headers, Retry-After, SQLSTATE, cancellation."""

from __future__ import annotations

import asyncio
import email.message
import email.utils
import math
import time
import urllib.error
from collections.abc import Iterator

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from resilience.core import Classifier, ClassifierConfig, OutcomeKind, TimeoutPhase, parse_retry_after

C = Classifier()

# ---------------------------------------------------------------------------
# exceptions


@pytest.mark.parametrize(
    ("exc", "evidence"),
    [
        (ConnectionRefusedError(), "connection_refused"),
        (ConnectionResetError(), "connection_error"),
        (ConnectionAbortedError(), "connection_error"),
        (BrokenPipeError(), "connection_error"),
    ],
)
def test_connection_errors_are_transient(exc: BaseException, evidence: str) -> None:
    out = C.exception(exc)
    assert (out.kind, out.retryable, out.evidence) == (OutcomeKind.ERROR, True, evidence)


class ReadTimeout(TimeoutError):
    """A library's own timeout, derived from the builtin one (as socket.timeout is)."""


@pytest.mark.parametrize("exc", [TimeoutError(), TimeoutError("timed out"), ReadTimeout()])
def test_timeouts_are_transient_attempt_timeouts(exc: BaseException) -> None:
    out = C.exception(exc)
    assert (out.kind, out.retryable, out.phase) == (OutcomeKind.TIMEOUT, True, TimeoutPhase.ATTEMPT)


@pytest.mark.parametrize(
    "exc", [asyncio.CancelledError(), KeyboardInterrupt(), SystemExit(1), GeneratorExit()]
)
def test_cancellation_is_never_retried(exc: BaseException) -> None:
    out = C.exception(exc)
    assert out.kind is OutcomeKind.CANCELLED
    assert out.retryable is False


def test_cancellation_wins_over_configuration() -> None:
    c = Classifier(
        ClassifierConfig(transient_exceptions=("asyncio.exceptions.CancelledError", "KeyboardInterrupt"))
    )
    assert c.exception(asyncio.CancelledError()).kind is OutcomeKind.CANCELLED
    assert c.exception(KeyboardInterrupt()).retryable is False


class FlakyDriverError(Exception):
    pass


class SubFlaky(FlakyDriverError):
    pass


def test_unknown_exceptions_are_permanent() -> None:
    for exc in (ValueError("x"), RuntimeError(), FlakyDriverError(), OSError("disk")):
        out = C.exception(exc)
        assert (out.kind, out.retryable) == (OutcomeKind.ERROR, False)
    assert C.exception(ValueError()).evidence == "exception_ValueError"


def test_configured_exceptions_by_qualified_name_are_transient() -> None:
    qualified = f"{FlakyDriverError.__module__}.{FlakyDriverError.__qualname__}"
    c = Classifier(ClassifierConfig(transient_exceptions=(qualified,)))
    assert c.exception(FlakyDriverError()).retryable is True
    assert c.exception(SubFlaky()).retryable is True  # subclasses match through the MRO
    assert c.exception(ValueError()).retryable is False
    assert c.exception(FlakyDriverError()).evidence == "exception_FlakyDriverError"


def test_configured_builtin_exception() -> None:
    c = Classifier(ClassifierConfig(transient_exceptions=("builtins.OSError",)))
    assert c.exception(OSError("transient")).retryable is True
    assert C.exception(OSError("transient")).retryable is False


def test_exception_with_http_status_is_classified_as_http() -> None:
    headers = email.message.Message()
    headers["Retry-After"] = "7"
    err = urllib.error.HTTPError("http://127.0.0.1/", 503, "busy", headers, None)
    out = C.exception(err)
    assert (out.kind, out.retryable, out.evidence, out.retry_after) == (
        OutcomeKind.REJECTED,
        True,
        "http_503",
        7.0,
    )
    err404 = urllib.error.HTTPError("http://127.0.0.1/", 404, "nf", email.message.Message(), None)
    assert C.exception(err404).retryable is False


def test_url_error_is_classified_by_its_reason() -> None:
    assert C.exception(urllib.error.URLError(ConnectionRefusedError())).evidence == "connection_refused"
    assert C.exception(urllib.error.URLError(TimeoutError())).kind is OutcomeKind.TIMEOUT


class DbError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


class PgError(Exception):
    def __init__(self, pgcode: str) -> None:
        super().__init__(pgcode)
        self.pgcode = pgcode


def test_exception_with_sqlstate_is_classified_as_sql() -> None:
    assert C.exception(DbError("40001")).retryable is True
    assert C.exception(PgError("40P01")).retryable is True
    assert C.exception(DbError("23505")).retryable is False
    assert C.exception(DbError("23505")).evidence == "sqlstate_23505"


# ---------------------------------------------------------------------------
# HTTP


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_transient_statuses(status: int) -> None:
    assert C.http(status).retryable is True


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 422, 451, 501, 505])
def test_permanent_statuses(status: int) -> None:
    out = C.http(status)
    assert (out.kind, out.retryable, out.evidence) == (OutcomeKind.ERROR, False, f"http_{status}")


@pytest.mark.parametrize("status", [429, 503])
def test_rejected_by_server(status: int) -> None:
    assert C.http(status).kind is OutcomeKind.REJECTED


def test_408_is_a_read_timeout_and_5xx_are_errors() -> None:
    out = C.http(408)
    assert (out.kind, out.phase) == (OutcomeKind.TIMEOUT, TimeoutPhase.READ)
    assert C.http(500).kind is OutcomeKind.ERROR
    assert C.http(504).kind is OutcomeKind.ERROR


def test_success_statuses() -> None:
    assert C.http(200).ok and C.http(200).evidence == "ok"
    assert C.http(204).ok and C.http(204).evidence == "http_204"
    assert C.http(304, {"ETag": "x"}).ok


def test_x_retryable_overrides_both_ways() -> None:
    assert C.http(404, {"X-Retryable": "true"}).retryable is True
    assert C.http(400, {"x-retryable": "1"}).retryable is True
    assert C.http(503, {"X-Retryable": "false"}).retryable is False
    assert C.http(503, {"X-RETRYABLE": "no"}).retryable is False
    assert C.http(503, {"X-Retryable": "false"}).kind is OutcomeKind.REJECTED  # kind stays
    assert C.http(503, {"X-Retryable": "maybe"}).retryable is True  # unknown values change nothing


def test_x_retryable_ignored_when_configured() -> None:
    c = Classifier(ClassifierConfig(honor_retryable_header=False))
    assert c.http(404, {"X-Retryable": "true"}).retryable is False
    assert c.http(503, {"X-Retryable": "false"}).retryable is True


def test_configured_statuses() -> None:
    c = Classifier(ClassifierConfig(transient_statuses=(500, 501), rejected_statuses=()))
    assert c.http(501).retryable is True
    assert c.http(503).retryable is False
    assert c.http(500).kind is OutcomeKind.ERROR


def test_headers_from_email_message() -> None:
    msg = email.message.Message()
    msg["x-RETRYABLE"] = "true"
    assert C.http(404, msg).retryable is True  # type: ignore[arg-type]


def test_cached_verdicts_do_not_leak_headers() -> None:
    c = Classifier()
    assert c.http(503).retry_after is None
    assert c.http(503, {"Retry-After": "3"}).retry_after == 3.0
    assert c.http(503).retry_after is None
    assert c.http(503) is c.http(503)


# ---------------------------------------------------------------------------
# Retry-After

WALL = 1_700_000_000.0


def test_retry_after_seconds() -> None:
    assert C.http(429, {"Retry-After": "120"}).retry_after == 120.0
    assert C.http(503, {"retry-after": " 5 "}).retry_after == 5.0
    assert parse_retry_after("0") == 0.0
    assert parse_retry_after("1.5") == 1.5


def test_retry_after_http_date_needs_wall_now() -> None:
    date = email.utils.formatdate(WALL + 30, usegmt=True)
    assert parse_retry_after(date, wall_now=WALL) == pytest.approx(30.0)
    assert parse_retry_after(date) is None
    out = C.http(503, {"Retry-After": date}, wall_now=WALL)
    assert out.retry_after == pytest.approx(30.0)


def test_retry_after_date_in_the_past_is_zero() -> None:
    date = email.utils.formatdate(WALL - 30, usegmt=True)
    assert parse_retry_after(date, wall_now=WALL) == 0.0


@pytest.fixture
def far_timezone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run with a local time zone far from UTC: HTTP-dates must not depend on it."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_retry_after_asctime_date_is_gmt(far_timezone: None) -> None:
    # RFC 9110 lets recipients accept the obsolete formats; they are GMT, never local time
    assert time.localtime(WALL).tm_gmtoff != 0
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", wall_now=WALL) == pytest.approx(30.0)
    assert parse_retry_after("Tue Nov 14 22:13:50 2023", wall_now=WALL) == pytest.approx(30.0)


@pytest.mark.parametrize("raw", ["soon", "-5", "", "nan", "Mon, 99 Foo 2023 00:00:00 GMT"])
def test_unparseable_retry_after_is_ignored(raw: str) -> None:
    assert parse_retry_after(raw, wall_now=WALL) is None


NOT_ASCII_SECONDS = [
    "²",  # superscript two: str.isdigit() says yes, int() says no
    "1²",
    "①",
    "٣",  # Arabic-Indic three: int() would accept it
    "\uff11\uff12",  # fullwidth digits
    "\U0001d7d7",  # mathematical bold nine
    "12\u0663",
    "Tue, ١٤ Nov 2023 22:13:50 GMT",
]
GARBAGE = ["9" * 5000, "1e999", "inf", "-inf", "Infinity", "1_000", "+5", "0x10", "5 s", "1.5.2", "e5", "."]


def _parsed(raw: str, wall_now: float | None = WALL) -> float | Exception | None:
    """What ``parse_retry_after`` answers, or the exception it raised (so a raise fails an assert)."""
    try:
        return parse_retry_after(raw, wall_now=wall_now)
    except Exception as exc:  # a raise is the defect under test
        return exc


@pytest.mark.parametrize("raw", NOT_ASCII_SECONDS + GARBAGE)
def test_retry_after_outside_ascii_delta_seconds_or_http_date_is_ignored(raw: str) -> None:
    assert _parsed(raw) is None
    assert C.http(503, {"Retry-After": raw}, wall_now=WALL).retry_after is None


def test_retry_after_http_date_with_an_unusable_wall_clock_is_ignored() -> None:
    date = email.utils.formatdate(WALL + 30, usegmt=True)
    assert parse_retry_after(date, wall_now=math.nan) is None
    assert parse_retry_after(date, wall_now=math.inf) is None
    assert parse_retry_after("Tue, 14 Nov 99999 22:13:50 GMT", wall_now=WALL) is None


def test_retry_after_decimal_and_exponent_forms_in_ascii() -> None:
    assert parse_retry_after("2.") == 2.0
    assert parse_retry_after(".25") == 0.25
    assert parse_retry_after("1e2") == 100.0
    assert parse_retry_after(repr(1e16)) == 1e16  # how the simulator writes large hints


_DATE_PIECES = st.sampled_from(["Tue,", "14", "Nov", "2023", "22:13:50", "GMT", "+0000", "99999", "-", ":"])


@settings(max_examples=300, deadline=None)
@given(
    raw=st.one_of(
        st.text(),
        st.lists(_DATE_PIECES | st.text(max_size=3), max_size=7).map(" ".join),
        st.floats().map(repr),
        st.integers().map(str),
    ),
    wall_now=st.none() | st.floats(),
)
@example(raw="²", wall_now=None)
@example(raw="9" * 5000, wall_now=None)
@example(raw="Tue, 14 Nov 2023 22:13:50 GMT", wall_now=-1e300)
def test_property_parse_retry_after_is_total(raw: str, wall_now: float | None) -> None:
    """Any text gives None or a usable delay (>= 0 and finite), and never an exception."""
    seconds = _parsed(raw, wall_now)
    assert seconds is None or (isinstance(seconds, float) and 0.0 <= seconds < math.inf)


def test_exception_passes_wall_now_to_http_date() -> None:
    headers = email.message.Message()
    headers["Retry-After"] = email.utils.formatdate(WALL + 12, usegmt=True)
    err = urllib.error.HTTPError("http://127.0.0.1/", 429, "slow down", headers, None)
    assert C.exception(err, wall_now=WALL).retry_after == pytest.approx(12.0)


# ---------------------------------------------------------------------------
# SQLSTATE


@pytest.mark.parametrize("code", ["08000", "08001", "08003", "08006", "08S01", "40001", "40P01", "40p01"])
def test_transient_sqlstates(code: str) -> None:
    assert C.sqlstate(code).retryable is True


@pytest.mark.parametrize("code", ["23000", "23505", "23503", "42601", "40002", "22012", "57014"])
def test_permanent_sqlstates(code: str) -> None:
    out = C.sqlstate(code)
    assert (out.kind, out.retryable) == (OutcomeKind.ERROR, False)


def test_configured_sqlstates() -> None:
    c = Classifier(ClassifierConfig(transient_sqlstates=("57014", "53")))
    assert c.sqlstate("57014").retryable is True
    assert c.sqlstate("53300").retryable is True
    assert c.sqlstate("40001").retryable is False


@pytest.mark.parametrize("code", ["٠٨", "4\uff10001", "²²"])
def test_configured_sqlstates_must_be_ascii(code: str) -> None:
    with pytest.raises(ValueError) as info:
        ClassifierConfig(transient_sqlstates=(code,))
    rule = "must be SQLSTATE codes (5 chars) or classes (2 chars)"
    assert str(info.value) == f"ClassifierConfig.transient_sqlstates={(code,)!r}: {rule}"
