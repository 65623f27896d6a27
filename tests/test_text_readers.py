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
        ("item", "line 9"): "not valid UTF-8 text (save the file as UTF-8)",
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
        ("item", "line 6"): "not valid UTF-8 text (save the file as UTF-8)",
        ("annotation", "line 6 label"): "belongs to quarantined item r4",
        ("item", "line 8"): "duplicate id 'r1': ids must be unique",
        ("annotation", "line 8 label"): "belongs to quarantined item r1",
    }


def test_text_csv_needs_text_and_label_columns(tmp_path: Path) -> None:
    path = tmp_path / "x.tsv"
    path.write_text("id\tpassage\tgold\n1\thello\tgreeting\n")
    with pytest.raises(
        DatasetError,
        match=r"x.tsv: line 1: the header has no text column \(one of text, .*\) and no label column \(one of label, "
        r".*\) \(found: id, passage, gold\): rename the columns$",
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


def test_bytes_that_are_not_utf8_quarantine_their_row_with_a_printable_snippet(tmp_path: Path) -> None:
    path = tmp_path / "cp1252.csv"
    path.write_bytes(
        b"text,label\n"
        b"Caf\xe9 au lait,neutral\n"
        b'"Caf\xe9, ""au"" lait\nmultiline",neutral\n'
        b"Good\x00 phone,positive\n"
        b"na\xefve,with,extra\n"
    )
    items, bad = read(path)
    assert [i.text for i in items] == ["Good\x00 phone"]
    assert reasons(bad) == {
        **{("item", f"line {n}"): "not valid UTF-8 text (save the file as UTF-8)" for n in (2, 3, 6)},
        ("annotation", "line 2 label"): "belongs to quarantined item line 2",  # its label can still be read
        ("annotation", "line 3 label"): "belongs to quarantined item line 3",
    }
    assert [q.raw for q in bad if q.level == "item"] == [
        '["Caf\\xe9 au lait", "neutral"]',
        '["Caf\\xe9, \\"au\\" lait\\nmultiline", "neutral"]',
        '["na\\xefve", "with", "extra"]',
    ]
    jsonl_bad = read(_jsonl(tmp_path, [b'{"text": "caf\xe9", "label": "x"}']), "text-jsonl")[1]
    assert [q.raw for q in jsonl_bad] == ['{"text": "caf\\xe9", "label": "x"}']
    for q in [*bad, *jsonl_bad]:
        q.raw.encode("utf-8")  # storable: no surrogate escapes left


def test_a_csv_row_of_empty_cells_is_quarantined_not_skipped(tmp_path: Path) -> None:
    path = tmp_path / "blanks.csv"
    path.write_text('id,text,label\n1,Great phone,positive\n,,\n\n2,,\n" ", ,\n')
    items, bad = read(path)
    assert [i.id for i in items] == ["1", "2"]  # a blank line is no row; an empty text is an item
    assert reasons(bad) == {
        ("item", "line 3"): "empty row (every cell is empty): delete it or fill it in",
        ("item", "line 6"): "empty row (every cell is empty): delete it or fill it in",
    }


def test_tsv_is_read_without_quoting_unless_its_first_lines_are_quoted(tmp_path: Path) -> None:
    sst2 = tmp_path / "train.tsv"
    sst2.write_text(
        "sentence\tlabel\n"
        "hide new secretions \t0\n"
        '" the road to perdition " is a handsome film \t1\n'
        "goes to absurd lengths \t0\n"
        '" \t0\n'
        "the part where nothing 's happening , \t0\n"
        '"quoted" on purpose\t1\n'
    )
    items, bad = read(sst2)
    assert bad == []
    assert [i.text for i in items] == [
        "hide new secretions ",
        '" the road to perdition " is a handsome film ',
        "goes to absurd lengths ",
        '" ',
        "the part where nothing 's happening , ",
        '"quoted" on purpose',
    ]
    pandas = tmp_path / "export.tsv"  # pandas.to_csv(sep="\t"): fields with quotes or newlines quoted
    pandas.write_text('text\tlabel\n"He said ""hi"""\tpos\n"two\nlines"\tneg\nplain\tpos\n')
    items, bad = read(pandas)
    assert (bad, [i.text for i in items]) == ([], ['He said "hi"', "two\nlines", "plain"])


def test_text_csv_header_problems_say_what_to_do(tmp_path: Path) -> None:
    ag_news = tmp_path / "train.csv"
    ag_news.write_text('"3","Wall St. Bears Claw Back Into the Black (Reuters)","Reuters - Short-sellers"\n')
    with pytest.raises(
        DatasetError,
        match=r"train.csv: line 1: the first line looks like data, not a header \(found: 3, Wall St\. Bears .*\): "
        r"add a first line naming the columns, with the text column called text and the label column label$",
    ):
        read(ag_news)
    semicolons = tmp_path / "excel.csv"
    semicolons.write_text('text;label\n"Great phone";positive\n')
    with pytest.raises(
        DatasetError,
        match=r"excel.csv: line 1: the header is one column \(text;label\) split by ';', but a \.csv file is read "
        r"with commas between columns: save it with commas",
    ):
        read(semicolons)
    excel = tmp_path / "unicode.tsv"  # Excel's "Unicode Text"
    excel.write_bytes("text\tlabel\nCafé\tpos\n".encode("utf-16"))
    with pytest.raises(DatasetError, match=r"unicode.tsv: the file is UTF-16 text: save it as UTF-8"):
        read(excel, "text-csv")


def test_text_csv_column_aliases_in_priority_order(tmp_path: Path) -> None:
    imdb = tmp_path / "IMDB Dataset.csv"
    imdb.write_text("Review,Sentiment\nOne of the best,positive\n")
    [item], _ = read(imdb)
    assert (item.text, item.annotations[0].label) == ("One of the best", "positive")
    both = tmp_path / "both.csv"  # text beats body, label beats intent; the others are attributes
    both.write_text("body,text,intent,label\nthe body,the text,greet,hello\n")
    [item], _ = read(both)
    assert (item.text, item.annotations[0].label, item.annotations[0].attributes) == (
        "the text",
        "hello",
        {"body": "the body", "intent": "greet"},
    )


def test_prodigy_rejected_and_ignored_examples_are_quarantined_with_their_spans(tmp_path: Path) -> None:
    span = {"start": 0, "end": 4, "label": "LOC"}
    path = _jsonl(
        tmp_path,
        [
            {"text": "Rome", "spans": [span], "answer": "accept"},
            {"text": "Oslo", "spans": [span], "answer": "reject"},
            {"text": "Bonn", "spans": [span], "answer": "ignore"},
        ],
    )
    items, bad = read(path)
    assert [i.text for i in items] == ["Rome"]
    assert reasons(bad) == {
        ("item", "line 2"): "Prodigy did not accept this example (answer 'reject'): its spans are not scored",
        ("annotation", "line 2 line 2:spans[0]"): "belongs to quarantined item line 2",
        ("item", "line 3"): "Prodigy did not accept this example (answer 'ignore'): its spans are not scored",
        ("annotation", "line 3 line 3:spans[0]"): "belongs to quarantined item line 3",
    }


def test_a_csv_of_boxes_is_named_as_such_not_as_text_with_bad_columns(tmp_path: Path) -> None:
    """Roboflow's TensorFlow CSV: every .csv is read as text, so a table of boxes must be told apart."""
    boxes = tmp_path / "_annotations.csv"
    boxes.write_text("filename,width,height,class,xmin,ymin,xmax,ymax\na.jpg,640,480,car,1,2,30,40\n")
    with pytest.raises(DatasetError, match=r"_annotations.csv: line 1: a table of boxes \(xmin, ymin, xmax, ymax\)"):
        read(boxes)
