"""Pytrees: flatten/unflatten round trips over every node kind, tree_map, registration."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funcgrad import tree_util as tu


class Point(NamedTuple):
    x: object
    y: object


@tu.register_dataclass
@dataclasses.dataclass
class Layer:
    weight: object
    bias: object
    name: str = dataclasses.field(default="l", metadata={"static": True})


@dataclasses.dataclass
class WithMeta:
    w: object
    act: str


tu.register_dataclass(WithMeta, data_fields=["w"], meta_fields=["act"])


class Box:
    def __init__(self, a, b):
        self.a, self.b = a, b

    def __eq__(self, other):
        return isinstance(other, Box) and (self.a, self.b) == (other.a, other.b)


tu.register_pytree_node(Box, lambda b: ((b.a, b.b), "box"), lambda aux, c: Box(*c))

leaves = st.integers() | st.floats(allow_nan=False)
trees = st.recursive(
    leaves | st.none(),
    lambda kids: (
        st.lists(kids, max_size=3)
        | st.tuples(kids, kids)
        | st.dictionaries(st.text(max_size=2), kids, max_size=3)
        | st.builds(Point, kids, kids)
        | st.builds(Box, kids, kids)
    ),
    max_leaves=10,
)


@given(trees)
def test_flatten_unflatten_round_trip(tree):
    flat, td = tu.tree_flatten(tree)
    assert tu.tree_unflatten(td, flat) == tree
    assert td.num_leaves == len(flat)
    assert tu.tree_structure(tree) == td and hash(tu.tree_structure(tree)) == hash(td)
    assert tu.tree_map(lambda v: v, tree) == tree


def test_none_is_an_empty_node_and_dict_keys_are_sorted():
    assert tu.tree_leaves([1, None, {"b": 2, "a": 3}]) == [1, 3, 2]
    assert tu.tree_structure({"a": 1, "b": 2}) == tu.tree_structure({"b": 0, "a": 0})


def test_dataclasses_and_meta_fields():
    layer = Layer(1, 2, "fc")
    assert tu.tree_leaves(layer) == [1, 2]
    m = tu.tree_map(lambda v: v * 10, WithMeta(3, "relu"))
    assert m == WithMeta(30, "relu")
    assert tu.tree_structure(WithMeta(1, "relu")) != tu.tree_structure(WithMeta(1, "tanh"))


def test_tree_map_several_trees_and_mismatch_error():
    assert tu.tree_map(lambda a, b: a + b, (1, [2]), (10, [20])) == (11, [22])
    with pytest.raises(ValueError, match="structure"):
        tu.tree_map(lambda a, b: a + b, (1, 2), (1, 2, 3))


def test_is_leaf_and_registration_errors():
    assert tu.tree_leaves([(1, 2), (3, 4)], is_leaf=lambda x: isinstance(x, tuple)) == [
        (1, 2),
        (3, 4),
    ]
    with pytest.raises(ValueError, match="already registered"):
        tu.register_pytree_node(Box, lambda b: ((), None), lambda a, c: Box(0, 0))
    with pytest.raises(TypeError, match="not a dataclass"):
        tu.register_dataclass(int)
    with pytest.raises(ValueError, match="expected 2 leaves"):
        tu.tree_unflatten(tu.tree_structure((1, 2)), [1])
