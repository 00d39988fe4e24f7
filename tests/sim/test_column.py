"""A column keeps every value appended, in order, across the moves from its list into its array."""

from __future__ import annotations

import random
from array import array

import numpy as np
import pytest

from sim.observe.column import CHUNK, Column


@pytest.mark.parametrize("typecode", ["q", "d"])
def test_every_value_comes_back_in_order_across_chunks(typecode: str) -> None:
    rng = random.Random(5)
    col, want = Column(typecode), array(typecode)
    while len(want) < 3 * CHUNK + 17:  # several moves into the array and a remainder in the list
        if rng.random() < 0.3:
            v = rng.randrange(-(2**40), 2**40)
            col.append(v)
            want.append(v)
        else:
            vs = [rng.randrange(2**50) for _ in range(rng.randrange(1, 12))]
            col.extend(tuple(vs))
            want.extend(vs)
        assert len(col) == len(want)
    got = col.array()
    assert got == want and got.typecode == typecode
    assert (
        np.frombuffer(col.array(), dtype=np.int64 if typecode == "q" else np.float64).tolist()
        == want.tolist()
    )
    col.append(7)  # appends go on after a read
    assert col.array()[-1] == 7 and len(col) == len(want) + 1


def test_a_value_of_the_wrong_type_is_refused_when_it_moves() -> None:
    col = Column("q")
    col.extend((1, 2))
    col.append(0.5)
    with pytest.raises(TypeError):
        col.array()
