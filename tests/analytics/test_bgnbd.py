import csv
from pathlib import Path

import pytest

from analytics import bgnbd

CDNOW = Path(__file__).parent / "data" / "cdnow_customers_summary.csv"


def _cdnow():
    with CDNOW.open() as handle:
        rows = list(csv.DictReader(handle))
    return ([float(r[k]) for r in rows] for k in ("frequency", "recency", "T"))


def test_the_fit_reproduces_the_papers_parameters_on_the_cdnow_sample():
    fit = bgnbd.fit(*_cdnow())
    assert fit.r == pytest.approx(0.243, abs=0.001)
    assert fit.alpha == pytest.approx(4.414, abs=0.005)
    assert fit.a == pytest.approx(0.793, abs=0.002)
    assert fit.b == pytest.approx(2.426, abs=0.005)
    assert fit.log_likelihood == pytest.approx(-9582.4, abs=0.5)


def test_a_member_without_repeat_purchases_is_certainly_alive_and_others_less_so():
    fit = bgnbd.Fit(0.243, 4.414, 0.793, 2.426, 0)
    alive = bgnbd.p_alive(fit, [0, 2, 2], [0, 30.43, 5.0], [38.86, 38.86, 38.86])
    assert alive[0] == 1.0
    assert alive[1] > alive[2]


def test_expected_purchases_match_the_papers_figure_for_a_customer():
    # The paper's example: x=2, t_x=30.43, T=38.86 → 1.226 purchases expected in the next 39 weeks.
    fit = bgnbd.Fit(0.243, 4.414, 0.793, 2.426, 0)
    assert bgnbd.expected_purchases(fit, 39, [2], [30.43], [38.86])[0] == pytest.approx(1.226, abs=0.01)


def test_a_history_without_any_repeat_purchase_cannot_be_fitted():
    with pytest.raises(bgnbd.FitError):
        bgnbd.fit([0, 0], [0, 0], [10, 20])
