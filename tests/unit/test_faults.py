"""Fault injection settings (`CLOCK_FAULTS`): parsing and the inert default."""

import pytest

from kernel.faults import NO_FAULTS, FaultPoint, Faults


def test_parse_names_probabilities() -> None:
    faults = Faults.parse("commit_before_ack=0.5, publish_before_mark=1")
    assert faults.probabilities == {
        FaultPoint.COMMIT_BEFORE_ACK: 0.5,
        FaultPoint.PUBLISH_BEFORE_MARK: 1.0,
    }
    assert faults


@pytest.mark.parametrize("text", ["", " ", "commit_before_ack=0"])
def test_empty_or_zero_is_inert(text: str) -> None:
    faults = Faults.parse(text)
    assert not faults
    faults.hit(FaultPoint.COMMIT_BEFORE_ACK)  # returns: this process is still alive
    NO_FAULTS.hit(FaultPoint.COMMIT_BEFORE_PUBLISH)


@pytest.mark.parametrize(
    "text", ["nowhere=0.1", "commit_before_ack", "commit_before_ack=x", "commit_before_ack=2"]
)
def test_bad_faults_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="bad fault"):
        Faults.parse(text)
