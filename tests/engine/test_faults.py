"""kill -9 trials (slow): a run killed during a checkpoint write and at random moments, then resumed,
ends with the same weights, bit for bit, as an unbroken run. ``python tests/fault_trials.py`` runs more."""

import pytest

from fault_trials import reference_weights, trial


@pytest.mark.slow
@pytest.mark.parametrize("domain", ["tables", "graphs", "images"])
def test_killed_and_resumed_runs_end_bit_for_bit_as_unbroken_ones(domain):
    reference = reference_weights(domain)
    for seed in range(2):
        record = trial(domain, reference, seed, kills=2, high=6.0)
        assert record["identical"], record
        assert not record["leftovers"], record
