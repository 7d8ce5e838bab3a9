"""Change points on random step series at known signal-to-noise: recall and false jumps.

Each hypothesis example is a batch of timelines (lengths, jump positions and signs, the
noise's seed drawn by hypothesis; Gaussian noise of sigma 1; jumps of SNR sigma). The
figures per SNR are printed at the end of the module (pytest shows them in its summary),
and bounds on them are asserted per batch: a detector is judged on rates, not on one
unlucky draw.
"""
from __future__ import annotations

import random
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tmt.timeline import changepoints as cp

SNRS = (0.0, 3.0, 6.0, 10.0)
TALLY: dict[float, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # snr -> found, planted, false, timelines


@pytest.fixture(scope="module", autouse=True)
def print_figures(figures: list[str]):
    yield
    lines = ["change points at known SNR (jump found within one run; false = found elsewhere):"]
    for snr in SNRS:
        found, planted, false, timelines = TALLY[snr]
        if timelines:
            recall = f"{found / planted:.2f}" if planted else "  - "
            lines.append(f"  SNR {snr:4.1f}: recall {recall}  false jumps per timeline {false / timelines:.3f}"
                         f"  ({timelines} timelines)")
    figures.extend(lines)  # printed by conftest's terminal summary


timeline_shape = st.tuples(
    st.integers(8, 120),  # runs
    st.integers(0, 4),  # jumps
    st.sampled_from(SNRS),
    st.integers(0, 2**32 - 1),  # seed of the noise and positions
    st.booleans(),  # noise from repeats (groups known) or from run-to-run differences
)


def make(n: int, jumps: int, snr: float, seed: int) -> tuple[list[float], list[int], list[int]]:
    """Values, planted change points (segments of at least 4 runs), the segment of each run."""
    rng = random.Random(seed)
    jumps = 0 if snr == 0 else min(jumps, n // 4 - 1)
    cuts: list[int] = []
    for _ in range(200):  # fewer jumps when the draws leave no room
        if len(cuts) == jumps:
            break
        c = rng.randrange(4, n - 3)
        if all(abs(c - k) >= 4 for k in cuts):
            cuts.append(c)
    cuts.sort()
    values, groups, level, seg = [], [], 0.0, 0
    for i in range(n):
        if i in cuts:
            level += snr * rng.choice((-1.0, 1.0))
            seg += 1
        values.append(level + rng.gauss(0.0, 1.0))
        groups.append(seg)
    return values, cuts, groups


@pytest.mark.slow
@settings(max_examples=12)
@given(st.lists(timeline_shape, min_size=40, max_size=40))
def test_recall_and_false_jumps_at_known_snr(batch):
    tally: dict[float, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for n, jumps, snr, seed, repeats in batch:
        values, cuts, groups = make(n, jumps, snr, seed)
        noise = cp.estimate_noise(values, groups if repeats else None)
        found = cp.change_points(values, noise.sigma)
        assert found == sorted(set(found)) and all(0 < k < n for k in found)
        assert len(cp.levels(values, found)) == n
        hit = sum(1 for c in cuts if any(abs(f - c) <= 1 for f in found))
        false = sum(1 for f in found if not any(abs(f - c) <= 1 for c in cuts))
        for t in (tally[snr], TALLY[snr]):
            t[0] += hit
            t[1] += len(cuts)
            t[2] += false
            t[3] += 1
        if snr >= 10:
            assert hit == len(cuts), (n, cuts, found)  # a 10-sigma jump between 4+ runs is never missed
    for snr, (found, planted, false, timelines) in tally.items():
        if snr >= 6 and planted:
            assert found / planted >= 0.9
        assert false / timelines <= 0.35  # per batch; the overall rate is printed (about 0.03)
