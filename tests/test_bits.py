"""64-bit conversions: signed/unsigned round trip, hex, Hamming distance, uint64 arrays."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from imgfind.bits import MASK64, as_uint64, hamming, to_hex, to_signed, to_unsigned


@given(st.integers(0, 2**64 - 1))
def test_signed_roundtrip(value):
    signed = to_signed(value)
    assert -(2**63) <= signed < 2**63
    assert to_unsigned(signed) == value


def test_hex():
    assert to_hex(0xFF) == "00000000000000ff"
    assert to_hex(-1) == "ffffffffffffffff"


@given(st.integers(-(2**63), 2**64 - 1), st.integers(-(2**63), 2**64 - 1))
def test_hamming_counts_differing_low_64_bits(a, b):
    assert hamming(a, b) == bin((a ^ b) & MASK64).count("1")
    assert hamming(a, to_signed(a)) == 0


def test_as_uint64_reinterprets_signed_and_masks_ints():
    signed = np.array([-1, 0, 5], dtype=np.int64)
    assert as_uint64(signed).tolist() == [MASK64, 0, 5]
    assert as_uint64([-1, 2**64 + 3]).tolist() == [MASK64, 3]
    assert as_uint64(np.array([1, 2], dtype=np.int32)).dtype == np.uint64
    with pytest.raises(TypeError):
        as_uint64(np.array([1.5]))


def test_doctests():
    import doctest

    from imgfind import bits

    assert doctest.testmod(bits).failed == 0
