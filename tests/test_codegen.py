"""How the kernel is compiled (`twin.engines.fast.codegen`): its settings apply inside the block only."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from numba.np import arrayobj

from twin.engines.fast import codegen


def _last_item():
    @njit(boundscheck=True)
    def item(a, i):
        return a[i]

    return item


def test_wraparound_is_off_only_inside_the_block():
    original = arrayobj.fix_integer_index
    values = np.arange(5.0)
    with codegen.without_wraparound():
        plain = _last_item()
        assert plain(values, 1) == 1.0
        with pytest.raises(IndexError):  # -1 is an index below 0, not "the last one"
            plain(values, -1)
    assert arrayobj.fix_integer_index is original
    assert _last_item()(values, -1) == 4.0  # numba's default again



def _add_into():
    @njit
    def add_into(a, b):
        a[0] = 1.0
        b[0] = 2.0
        return a[0]  # with `noalias`, a store to b cannot change a[0]

    return add_into


def test_noalias_only_inside_the_block():
    with codegen.noalias_arguments():
        noalias = _add_into()
        values = np.zeros(1)
        assert noalias(values, np.zeros(1)) == 1.0
        assert noalias(values, values) == 1.0  # what noalias allows: the stale value, not 2.0
    assert _add_into()(values, values) == 2.0  # numba's default again
