"""Pruned, service-hidden and re-rooted views of a span tree."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lens_tui.analysis.columns import SpanLabels
from lens_tui.analysis.views import (
    TreeView,
    breadcrumb_labels,
    hide_services,
    longer_than,
    name_contains,
    pruned,
    rerooted,
    service_mask,
    span_nodes,
    spans_where,
    tree_view,
)
from lens_tui.query import compile_span_query

from .spans import T0, Sp, brute_parents, chain, forest_of
from .test_stats import traces

SHOP = [
    Sp("r", None, "GET /checkout", 0, 100, "edge"),
    Sp("a", "r", "auth", 1, 5, "auth"),
    Sp("a1", "a", "SELECT user", 2, 2, "db"),
    Sp("c", "r", "cart", 10, 40, "api"),
    Sp("c1", "c", "SELECT cart", 11, 10, "db"),
    Sp("c2", "c", "price", 25, 20, "api"),
    Sp("c3", "c2", "SELECT prices", 26, 5, "db"),
    Sp("p", "r", "pay", 60, 30, "api"),
    Sp("p1", "p", "charge", 61, 25, "payments"),
]


def names(view: TreeView, labels: SpanLabels) -> list[str]:
    return [labels.names[n] for n in view.rows]


def test_pruning_keeps_matches_and_their_ancestors_in_tree_order() -> None:
    forest, labels = forest_of(SHOP)
    view = pruned(forest, name_contains(labels, "select"))
    assert names(view, labels) == [
        "GET /checkout",
        "auth",
        "SELECT user",
        "cart",
        "SELECT cart",
        "price",
        "SELECT prices",
    ]
    assert list(view.depths) == [0, 1, 2, 1, 2, 2, 3]
    assert list(view.is_last) == [1, 0, 1, 1, 0, 1, 1]  # "pay" is gone: "cart" is now last
    assert {labels.names[n] for n in view.matches} == {
        "SELECT user",
        "SELECT cart",
        "SELECT prices",
    }


def test_a_name_search_ignores_case_the_unicode_way() -> None:
    forest, labels = forest_of([Sp("r", None, "Straße", 0, 1), Sp("k", "r", "ÜBER", 0, 1)])
    assert [labels.names[n] for n in name_contains(labels, "STRASSE")] == ["Straße"]
    assert [labels.names[n] for n in name_contains(labels, "über")] == ["ÜBER"]
    assert name_contains(labels, "") == []


def test_span_ids_from_a_database_search_become_nodes() -> None:
    forest, _labels = forest_of(SHOP)
    nodes = span_nodes(forest, ["c2", "nope", "a"])
    assert [forest.span_ids[n] for n in nodes] == ["a", "c2"]


@settings(max_examples=150, deadline=None)
@given(traces(), st.data())
def test_pruned_views_hold_exactly_the_matches_and_ancestors(
    case: tuple[list[Sp], float], data: st.DataObject
) -> None:
    spans, now = case
    forest, _labels = forest_of(spans, now)
    picked = data.draw(st.sets(st.sampled_from([s.id for s in spans])))
    view = pruned(forest, span_nodes(forest, picked))
    parents = brute_parents(spans)
    expected = set()
    for span_id in picked:
        up: str | None = span_id
        while up is not None:
            expected.add(up)
            up = parents[up]
    shown = [forest.span_ids[n] for n in view.rows]
    assert set(shown) == expected and len(shown) == len(expected)
    # Tree order and depths are those of the full tree (nothing above a match is hidden).
    full = [forest.span_ids[n] for n in forest.order]
    assert shown == [i for i in full if i in expected]
    assert all(view.depths[k] == forest.depth[n] for k, n in enumerate(view.rows))


def test_hiding_a_service_hangs_its_children_from_the_nearest_shown_span() -> None:
    forest, labels = forest_of(SHOP)
    view = hide_services(forest, labels, ["api"])
    assert names(view, labels) == [
        "GET /checkout",
        "auth",
        "SELECT user",
        "SELECT cart",
        "SELECT prices",
        "charge",
    ]
    assert list(view.depths) == [0, 1, 2, 1, 1, 1]
    parent_names = [labels.names[view.rows[p]] if p >= 0 else None for p in view.parents]
    assert parent_names == [
        None,
        "GET /checkout",
        "auth",
        "GET /checkout",
        "GET /checkout",
        "GET /checkout",
    ]
    assert list(view.is_last) == [1, 0, 1, 0, 0, 1]


def test_hiding_composes_with_pruning() -> None:
    forest, labels = forest_of(SHOP)
    view = pruned(forest, name_contains(labels, "prices"), hidden=service_mask(labels, ["api"]))
    assert names(view, labels) == ["GET /checkout", "SELECT prices"]
    assert list(view.depths) == [0, 1]


def test_rerooting_shows_one_subtree_with_its_breadcrumb_and_window() -> None:
    forest, labels = forest_of(SHOP)
    price = forest.index_of["c2"]
    view = rerooted(forest, price)
    assert names(view, labels) == ["price", "SELECT prices"]
    assert list(view.depths) == [0, 1]
    assert breadcrumb_labels(view, labels) == ["GET /checkout", "cart", "price"]
    assert view.window == (T0 + 25, T0 + 45)
    # Re-rooted and pruned at once: the root always stays.
    inner = pruned(forest, name_contains(labels, "select"), root=forest.index_of["c"])
    assert names(inner, labels) == ["cart", "SELECT cart", "price", "SELECT prices"]
    assert list(inner.depths) == [0, 1, 1, 2]
    assert pruned(forest, [], root=price).rows.tolist() == [price]
    with pytest.raises(IndexError):
        rerooted(forest, 99)


def test_a_running_root_zooms_to_now() -> None:
    forest, _labels = forest_of([Sp("r", None, "job", 0, None), Sp("k", "r", "step", 5, 1)], now=50)
    view = rerooted(forest, 0, now=T0 + 80)
    assert view.window == (T0, T0 + 80)


def test_any_span_predicate_prunes() -> None:
    forest, labels = forest_of(SHOP)
    slow_db = spans_where(forest, lambda s: s.service == "db" and (s.duration_ms or 0) >= 5)
    view = pruned(forest, slow_db)
    assert names(view, labels) == ["GET /checkout", "cart", "SELECT cart", "price", "SELECT prices"]


def test_a_span_selector_of_the_query_language_prunes() -> None:
    forest, labels = forest_of(SHOP)
    query = compile_span_query('{ service = "db" and duration >= 5ms }')
    view = pruned(forest, spans_where(forest, query.matches))
    assert names(view, labels) == ["GET /checkout", "cart", "SELECT cart", "price", "SELECT prices"]
    words = compile_span_query("select")  # bare words search names, as the waterfall's `/` does
    assert spans_where(forest, words.matches) == name_contains(labels, "select")


def test_tiny_spans_can_be_pruned_away() -> None:
    forest, labels = forest_of(SHOP)
    view = pruned(forest, longer_than(forest, 20))
    assert names(view, labels) == ["GET /checkout", "cart", "price", "pay", "charge"]


def test_views_of_a_chain_ten_thousand_deep() -> None:
    forest, labels = forest_of(chain(10_000))
    deepest = forest.index_of["c9999"]
    view = pruned(forest, [deepest])
    assert len(view) == 10_000 and view.depths[-1] == 9_999
    middle = rerooted(forest, forest.index_of["c5000"])
    assert len(middle) == 5_000 and len(middle.breadcrumb) == 5_000
    assert middle.depths[-1] == 4_999
    every_other = bytearray(i % 2 == 0 for i in range(10_000))
    half = tree_view(forest, keep=every_other)
    assert len(half) == 5_000 and half.depths[-1] == 4_999
    assert half.row_of(deepest) is None and half.row_of(forest.index_of["c9998"]) == 4_999
