import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.fees import fee_for


@pytest.mark.parametrize(
    ("amount", "percent", "fee"),
    [(5, 20, 1), (5, 10, 1), (2, 20, 0), (3, 20, 1), (100, 20, 20), (0, 20, 0), (7, 0, 0)],
)
def test_fee_rounds_half_up(amount, percent, fee):
    assert fee_for(amount, percent=percent) == fee


def test_fee_reads_setting(settings):
    settings.PLATFORM_FEE_PERCENT = 50
    assert fee_for(5) == 3


def test_fee_refuses_floats_and_negatives():
    with pytest.raises(TypeError):
        fee_for(5.0)
    with pytest.raises(ValueError, match="negative"):
        fee_for(-1)


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=100))
def test_fee_is_the_nearest_integer_halves_up(amount, percent):
    fee = fee_for(amount, percent=percent)
    exact_x100 = amount * percent  # the fee times 100, exactly
    assert 0 <= fee <= amount
    assert abs(fee * 100 - exact_x100) <= 50
    if abs(fee * 100 - exact_x100) == 50:
        assert fee * 100 > exact_x100  # halves go up
