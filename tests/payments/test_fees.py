import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.fees import FeeTerms, fee_for, fee_terms


@pytest.mark.parametrize(
    ("amount", "percent", "fee"),
    [(5, 20, 1), (5, 10, 1), (2, 20, 0), (3, 20, 1), (100, 20, 20), (0, 20, 0), (7, 0, 0)],
)
def test_fee_rounds_half_up(amount, percent, fee):
    assert fee_for(amount, percent=percent, minimum=0) == fee


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
    fee = fee_for(amount, percent=percent, minimum=0)
    exact_x100 = amount * percent  # the fee times 100, exactly
    assert 0 <= fee <= amount
    assert abs(fee * 100 - exact_x100) <= 50
    if abs(fee * 100 - exact_x100) == 50:
        assert fee * 100 > exact_x100  # halves go up


# --- the minimum fee per judgment (issue 11, defect 10) -----------------------------------------


@pytest.mark.parametrize(
    ("amount", "fee", "effective"),
    [(3, 1, 33.3), (2, 1, 50.0), (1, 1, 100.0), (5, 1, 20.0), (100, 20, 20.0), (0, 0, None)],
)
def test_a_minimum_of_one_cent_like_mturk(settings, amount, fee, effective):
    settings.PLATFORM_FEE_PERCENT = 20
    settings.PLATFORM_MIN_FEE_MINOR = 1
    assert fee_for(amount) == fee
    terms = fee_terms()
    assert terms == FeeTerms(percent=20, minimum_minor=1)
    assert terms.fee_for(amount) == fee
    assert terms.effective_percent(amount) == effective


def test_the_minimum_defaults_to_one_and_can_be_off(settings):
    del settings.PLATFORM_MIN_FEE_MINOR
    assert fee_terms().minimum_minor == 1
    settings.PLATFORM_MIN_FEE_MINOR = 0
    assert fee_for(2, percent=20) == 0
    settings.PLATFORM_MIN_FEE_MINOR = -1
    with pytest.raises(ValueError, match="PLATFORM_MIN_FEE_MINOR"):
        fee_terms()


@given(
    st.integers(min_value=0, max_value=10**9),
    st.integers(min_value=0, max_value=100),
    st.integers(min_value=0, max_value=100),
)
def test_the_fee_is_the_larger_of_percent_and_minimum(amount, percent, minimum):
    fee = fee_for(amount, percent=percent, minimum=minimum)
    by_percent = fee_for(amount, percent=percent, minimum=0)
    assert fee == (0 if amount == 0 else max(by_percent, minimum))
