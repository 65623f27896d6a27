"""Text readers: JSONL/CSV classification and JSONL spans; ids, malformed lines and rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labelgate.errors import DatasetError
from tests.readers import read, reasons


def _jsonl(tmp_path: Path, lines: list[object], name: str = "data.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(b"".join((x if isinstance(x, bytes) else json.dumps(x).encode()) + b"\n" for x in lines))
    return path


def test_text_jsonl_labels_ids_and_malformed_lines(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path,
        [
            {"id": 17, "text": "Great phone", "label": "positive", "annotator": "a3"},
            {"text": "Awful", "labels": ["negative", 2, True]},
            {"id": "x", "text": "No label yet"},
            b'{"id": 4, "text": "broken"',
            b"[1, 2]",
            {"id": 17, "text": "again", "label": "neutral"},
            {"id": 5, "text": None, "label": "neutral"},
            b"",
            b'{"id": 6, "text": "caf\xe9"}',
        ],
    )
    items, bad = read(path)
    assert [(i.id, i.text, [(a.id, a.label) for a in i.annotations]) for i in items] == [
        ("17", "Great phone", [("17:label", "positive")]),
        ("line 2", "Awful", [("line 2:labels[0]", "negative"), ("line 2:labels[1]", "2")]),
        ("x", "No label yet", []),
    ]
    assert items[0].annotations[0].attributes == {"annotator": "a3"}
    assert items[1].quarantined_annotations == 1
    assert reasons(bad) == {
        (
            "annotation",
            "line 2 labels[2]",
        ): "labels[2] must be a non-empty string or an integer class id, got true",
        ("item", "line 4"): "invalid JSON at column 27 (unexpected end of data)",
        ("item", "line 5"): "line is not a JSON object",
        ("item", "line 6"): "duplicate id '17': ids must be unique",
        ("annotation", "line 6 17:label"): "belongs to quarantined item 17",
        ("item", "line 7"): "'text' must be a string, got null",
        ("annotation", "line 7 5:label"): "belongs to quarantined item 5",
        ("item", "line 9"): "not valid UTF-8 text",
    }


def test_spans_jsonl_reads_three_shapes(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path,
        [
            {
                "id": "a",
                "text": "Ada Lovelace met Babbage.",
                "spans": [
                    {"start": 0, "end": 12, "label": "PER", "text": "Ada Lovelace", "annotator": "u1"},
                    {"id": "s2", "start": 17, "end": 24, "label": "PER"},
                ],
            },
            {
                "id": "b",
                "text": "Paris",
                "entities": [{"id": 9, "start_offset": 0, "end_offset": 5, "label": "LOC"}],
            },
            {"id": "c", "text": "Bonn and Rome", "label": [[0, 4, "LOC"], [9, 13, "LOC"]]},
        ],
    )
    items, bad = read(path)
    assert bad == []
    assert [[(a.id, a.label, a.start, a.end, a.text) for a in i.annotations] for i in items] == [
        [("a:spans[0]", "PER", 0, 12, "Ada Lovelace"), ("s2", "PER", 17, 24, None)],
        [("9", "LOC", 0, 5, None)],
        [("c:label[0]", "LOC", 0, 4, None), ("c:label[1]", "LOC", 9, 13, None)],
    ]
    assert items[0].annotations[0].attributes == {"annotator": "u1"}


def test_spans_jsonl_quarantines_unusable_spans_but_keeps_odd_ones(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path,
        [
            {
                "id": "a",
                "text": "abc",
                "spans": [
                    {"start": 2, "end": 99, "label": "X"},  # kept: measured as outside the text
                    {"start": "0", "end": 1, "label": "X"},
                    {"start": 0, "end": 1},
                    {"id": "d", "start": 0, "end": 1, "label": "X"},
                    {"id": "d", "start": 1, "end": 2, "label": "X"},
                    [0, 1],
                    "nope",
                ],
            },
            {"id": "b", "text": "x", "spans": "oops"},
        ],
    )
    items, bad = read(path, "spans-jsonl")
    assert [[a.id for a in i.annotations] for i in items] == [["a:spans[0]", "d"], []]
    assert reasons(bad) == {
        (
            "annotation",
            "line 1 spans[1]",
        ): "spans[1]: 'start' and 'end' must be integer character offsets, got [\"0\", 1]",
        ("annotation", "line 1 spans[2]"): "spans[2] has no label (a non-empty string is needed)",
        ("annotation", "line 1 spans[4]"): "duplicate span id 'd' in item a: ids must be unique",
        ("annotation", "line 1 spans[5]"): "spans[5] must be [start, end, label], got [0, 1]",
        ("annotation", "line 1 spans[6]"): 'spans[6] must be an object with start, end and label, got "nope"',
        ("annotation", "line 2 spans"): "'spans' must be a list of spans, got \"oops\"",
    }


def test_text_csv_columns_rows_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_bytes(
        b"ID,Text,Label,source\n"
        b'r1,"Loved it, really",positive,web\n'
        b'r2,"multi\nline text",negative,\n'
        b"r3,only two\n"
        b"r4,caf\xe9,neutral,web\n"
        b",no id here,,app\n"
        b"r1,dup,positive,web\n"
    )
    items, bad = read(path)
    assert [(i.id, i.text, [(a.id, a.label, a.attributes) for a in i.annotations]) for i in items] == [
        ("r1", "Loved it, really", [("r1:label", "positive", {"source": "web"})]),
        ("r2", "multi\nline text", [("r2:label", "negative", {})]),
        ("line 7", "no id here", []),
    ]
    assert reasons(bad) == {
        ("item", "line 5"): "expected 4 fields like the header, got 2",
        ("item", "line 6"): "not valid UTF-8 text",
        ("item", "line 8"): "duplicate id 'r1': ids must be unique",
        ("annotation", "line 8 label"): "belongs to quarantined item r1",
    }


def test_text_csv_needs_text_and_label_columns(tmp_path: Path) -> None:
    path = tmp_path / "x.tsv"
    path.write_text("id\tbody\tlabel\n1\thello\tgreeting\n")
    with pytest.raises(
        DatasetError, match=r"x.tsv: line 1: the header has no a text column .* \(found: id, body, label\)"
    ):
        read(path, "text-csv")
    path.write_text("id\ttext\tlabel\n1\thello\tgreeting\n")
    [item], _ = read(path)
    assert (item.id, item.text, item.annotations[0].label) == ("1", "hello", "greeting")


def test_text_csv_unclosed_quote_is_named_with_the_lines_it_swallowed(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('text,label\nfine,pos\n"unterminated,pos\nok text,neg\nmore,neg\n')
    items, bad = read(path)
    assert [i.text for i in items] == ["fine"]
    assert reasons(bad) == {
        ("item", "line 3"): "expected 2 fields like the header, got 1: a quoted field runs from line 3 to line 5 "
        "(unclosed quote?)"
    }
    path.write_text('text,label\nfine,pos\nbad,"pos\nok text,neg\nmore,neg\n')  # the label swallows the rest
    items, bad = read(path)
    assert [i.text for i in items] == ["fine"]
    assert reasons(bad) == {
        ("item", "line 3"): "the label runs from line 3 to line 5: a quote opened in it is not closed; fix the quoting"
    }
