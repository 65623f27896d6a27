"""CoNLL BIO/IOB: sentences become texts with character spans; sequence problems are kept
as facts (never silently fixed); the scheme is detected per file; bad lines quarantine."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.base import open_dataset
from labelgate.errors import DatasetError
from tests.readers import read, reasons

IOB2 = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
met VBD B-VP O
New NNP B-NP I-LOC
York NNP I-NP I-LOC
officials NNS I-NP O
in IN B-PP O
Bonn NNP B-NP B-LOC
Berlin NNP I-NP I-ORG

-DOCSTART- -X- -X- O

Short NN B-NP O
"""

IOB1 = """U.N. NNP I-NP I-ORG
official NN I-NP O
Ekeus NNP I-NP I-PER
heads VBZ I-VP O
for IN I-PP O
Baghdad NNP I-NP I-LOC
Iraq NNP I-NP B-LOC
. . O O

Germany NNP I-NP B-LOC
"""


def test_iob2_sentences_become_spans_with_problems_recorded(tmp_path: Path) -> None:
    path = tmp_path / "eng.conll"
    path.write_text(IOB2)
    items, bad = read(path)
    assert bad == []
    first, second, third = items
    assert (first.id, first.text) == ("line 3", "EU rejects German call .")
    assert [(a.id, a.label, a.start, a.end, a.text) for a in first.annotations] == [
        ("line 3", "ORG", 0, 2, "EU"),
        ("line 5", "MISC", 11, 17, "German"),
    ]
    assert first.attributes == {"iob_scheme": "IOB2", "iob_errors": 0, "document": 1}
    assert second.text == "Peter Blackburn met New York officials in Bonn Berlin"
    assert [(a.id, a.label, a.text, a.attributes) for a in second.annotations] == [
        ("line 9", "PER", "Peter Blackburn", {}),
        ("line 12", "LOC", "New York", {"iob_problem": "I-LOC after O"}),
        ("line 16", "LOC", "Bonn", {}),
        ("line 17", "ORG", "Berlin", {"iob_problem": "I-ORG after B-LOC"}),
    ]
    assert second.attributes["iob_errors"] == 2
    assert (third.id, third.annotations, third.attributes["document"]) == ("line 21", [], 2)


def test_iob1_files_are_read_with_their_own_rules(tmp_path: Path) -> None:
    path = tmp_path / "eng.iob"
    path.write_text(IOB1)
    first, second = read(path)[0]
    assert [(a.label, a.text, a.attributes) for a in first.annotations] == [
        ("ORG", "U.N.", {}),
        ("PER", "Ekeus", {}),
        ("LOC", "Baghdad", {}),
        ("LOC", "Iraq", {}),  # B- after a chunk of the same type: legal in IOB1
    ]
    assert first.attributes["iob_scheme"] == "IOB1"
    assert [(a.text, a.attributes) for a in second.annotations] == [
        ("Germany", {"iob_problem": "B-LOC after sentence start"})
    ]


def test_malformed_lines_quarantine_their_sentence(tmp_path: Path) -> None:
    path = tmp_path / "bad.conll"
    path.write_bytes(b"Good B-PER\nline O\n\nOne\nTwo O\n\nThree S-PER\n\nFour O\ncaf\xe9 O\n\nLast O\n")
    items, bad = read(path, "conll")
    assert [i.id for i in items] == ["line 1", "line 12"]
    assert reasons(bad) == {
        (
            "item",
            "line 4",
        ): "line 4: expected 'token ... TAG' with TAG O, B-TYPE or I-TYPE, got one column 'One'",
        ("item", "line 7"): "line 7: expected 'token ... TAG' with TAG O, B-TYPE or I-TYPE, got tag 'S-PER'",
        ("item", "line 9"): "line 10 is not valid UTF-8 text (save the file as UTF-8)",
    }
    assert [q.raw for q in bad] == ["One", "Three S-PER", "caf\\xe9 O"]  # the offending line, bad bytes escaped


def test_a_folder_of_files_prefixes_ids_with_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.conll").write_text("Rome B-LOC\n")
    (tmp_path / "b.conll").write_text("\nOslo B-LOC\n")
    items, _ = read(tmp_path, "conll")
    assert [(i.id, [a.id for a in i.annotations]) for i in items] == [
        ("a.conll line 1", ["a.conll line 1"]),
        ("b.conll line 2", ["b.conll line 2"]),
    ]


def test_a_file_that_is_not_conll_is_refused_not_quarantined_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    path.write_text('{"text": "Peter met Anna", "spans": [{"start": 0, "end": 5, "label": "PER"}]}\n' * 3)
    with pytest.raises(DatasetError, match=r"spans\.jsonl: does not look like CoNLL .* use --format auto"):
        read(path, "conll")


def test_columns_split_on_tabs_or_ascii_spaces_so_unicode_spaces_stay_in_tokens(tmp_path: Path) -> None:
    path = tmp_path / "onto.bio"
    path.write_text("10\u00a0000\tO\nfans\tO\n\u00a0\tO\nS\u00e3o\u3000Paulo\tB-LOC\n\nThe NNP O\nUN\u00a0 NNP B-ORG\n")
    items, bad = read(path)
    assert bad == []
    assert [(i.text, [a.text for a in i.annotations]) for i in items] == [
        ("10\u00a0000 fans \u00a0 S\u00e3o\u3000Paulo", ["S\u00e3o\u3000Paulo"]),
        ("The UN\u00a0", ["UN\u00a0"]),
    ]


def test_stray_tabs_and_spaces_around_columns_are_not_part_of_a_token(tmp_path: Path) -> None:
    """Hand-edited files end lines in a tab or put a space before it: the token stays exact."""
    path = tmp_path / "edited.conll"
    path.write_text("EU \tB-ORG\t\nrejects\tO \nGerman\t\tB-MISC\n")
    assert open_dataset(path).format == "conll"
    [item], bad = read(path, "conll")
    assert bad == [] and item.text == "EU rejects German"
    assert [(a.label, a.text) for a in item.annotations] == [("ORG", "EU"), ("MISC", "German")]


def test_comment_lines_before_a_sentence_are_skipped_but_hashtag_tokens_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "ud.conll"
    path.write_text(
        "# newdoc id = n01001\n# sent_id = 1\n# text = EU rejects O\nEU\tB-ORG\nrejects\tO\n\n"
        "#happy\tO\nday\tO\n\n"
        "# O\nsign\tO\n\n"
        "Bonn\tB-LOC\n# not a comment inside a sentence\n"
    )
    items, bad = read(path, "conll")
    assert [(i.id, i.text) for i in items] == [
        ("line 4", "EU rejects"),
        ("line 7", "#happy day"),
        ("line 10", "# sign"),
    ]
    assert reasons(bad) == {
        ("item", "line 13"): "line 14: expected 'token ... TAG' with TAG O, B-TYPE or I-TYPE, got tag 'sentence'",
        ("annotation", "line 13"): "belongs to quarantined item line 13",
    }
    path.write_text("# sent_id = 1\n# text = EU rejects\nEU\tB-ORG\nrejects\tO\n")
    assert open_dataset(path).format == "conll"


def test_the_spans_of_a_quarantined_sentence_are_quarantined_with_it(tmp_path: Path) -> None:
    path = tmp_path / "news.conll"
    path.write_text("Brussels B-LOC\nsays\nEU B-ORG\nCommission I-ORG\n\nFine O\n")
    items, bad = read(path, "conll")
    assert [i.id for i in items] == ["line 6"]
    assert [(q.level, q.locator, q.item_id, q.annotation_id, q.reason) for q in bad] == [
        (
            "item",
            "line 1",
            "line 1",
            None,
            "line 2: expected 'token ... TAG' with TAG O, B-TYPE or I-TYPE, got one column 'says'",
        ),
        ("annotation", "line 1", "line 1", "line 1", "belongs to quarantined item line 1"),
        ("annotation", "line 3", "line 1", "line 3", "belongs to quarantined item line 1"),
    ]


@pytest.mark.parametrize("names", [("eng.train", "eng.testa", "eng.testb"), ("train.txt", "valid.txt", "test.txt")])
def test_a_folder_of_conll_files_without_conll_suffixes_is_read_by_content(tmp_path: Path, names: tuple[str]) -> None:
    for name in names:
        (tmp_path / name).write_text(f"{name} NNP I-NP I-LOC\n")
    (tmp_path / "README.md").write_text("# CoNLL-2003\nThe English data.\n")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR O O\n")
    items, bad = read(tmp_path, "conll")
    assert bad == []
    assert [i.id for i in items] == [f"{name} line 1" for name in sorted(names)]
    assert open_dataset(tmp_path).format == "conll"
