"""Progress events and cancellation."""

from __future__ import annotations

import pytest

from dupfinder.jobs import Cancelled, Job, Progress


def test_callback_returning_false_cancels() -> None:
    job = Job(lambda event: False, min_interval=0)
    job.progress("embed", 1, 10)
    assert job.cancelled
    with pytest.raises(Cancelled):
        job.check()


def test_events_are_throttled_but_the_last_one_always_arrives() -> None:
    events: list[Progress] = []
    job = Job(events.append, min_interval=60)
    for done in range(1, 101):
        job.progress("embed", done, 100)
    assert [e.done for e in events] == [1, 100]
    assert events[-1].eta_seconds == 0


def test_no_callback_is_fine() -> None:
    job = Job()
    job.progress("discover", 5, 0)
    job.check()
