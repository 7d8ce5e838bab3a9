"""The filter language of the TUI's bar: one line of words -> the filters of tmt.runs()."""
from __future__ import annotations

import re

import pytest

from tmt.errors import UsageError
from tmt.query.search import combine_patterns, parse_filter, split_words


def test_the_example_of_the_design():
    f = parse_filter("name~^resnet f1>0.8 params.lr<=0.1 status:failed tag:paper since:7d")
    assert f.kwargs() == {"name": "^resnet", "since": "7d", "until": None, "status": ["failed"],
                          "where": ["f1>0.8", "params.lr<=0.1"], "tags": ["paper"]}


def test_a_bare_word_is_a_regular_expression_on_names():
    assert parse_filter("res.*net").name == "res.*net"
    assert parse_filter("name:bert").name == "bert"
    assert parse_filter("").kwargs() == {"name": None, "since": None, "until": None, "status": None, "where": None,
                                         "tags": None}
    assert not parse_filter("   ")


def test_several_name_words_must_all_be_found():
    rx = re.compile(parse_filter("resnet (?i)BIG ^r").name)
    assert rx.search("resnet-big") and rx.search("r-BIG-resnet")
    assert not rx.search("resnet-small") and not rx.search("big-resnet")


@pytest.mark.parametrize("text", ["f1 > 0.8", "f1 >0.8", "f1> 0.8", "f1>0.8"])
def test_blanks_around_an_operator(text):
    assert parse_filter(text).where == ["f1>0.8"]


def test_quotes_keep_blanks_and_make_a_name_pattern():
    assert split_words("'my run' \"a b\"c") == [split_words("'my run'")[0], split_words('"a b"c')[0]]
    assert parse_filter("'a:b' 'f1>2'").names == ["a:b", "f1>2"]
    assert parse_filter("params.opt == 'adam w'").where == ["params.opt=='adam w'"]


def test_statuses_in_one_word_are_alternatives_and_words_add_up():
    f = parse_filter("status:failed,crashed status:failed tag:a tag:b until:2024-05-01 parent:last")
    assert f.status == ["failed", "crashed"] and f.tags == ["a", "b"]
    assert f.until == "2024-05-01" and f.parent == "last"


@pytest.mark.parametrize("text, message", [
    ("stauts:failed", "unknown filter 'stauts:' in 'stauts:failed'"),
    ("status:done", "unknown status 'done' in 'status:done'"),
    ("since:yesterday", "cannot read since='yesterday' as a time"),
    ("tag:", "'tag:' needs a value after the colon"),
    ("f1>", "cannot parse where expression 'f1>'"),
    ("f1 > ", "'>' needs a key before it and a value after it"),
    ("params.opt>adam", "where expression 'params.opt>adam' orders by a string; only == and != apply to it"),
    ("res[", "'res[' is not a valid regular expression"),
    ("'unclosed", "unclosed quote ' in the filter"),
])
def test_errors_say_which_word_is_wrong(text, message):
    with pytest.raises(UsageError) as e:
        parse_filter(text)
    assert e.value.message.startswith(message)


def test_combined_patterns_keep_leading_flags_local():
    assert combine_patterns(["a"]) == "a"
    assert combine_patterns([]) is None
    rx = re.compile(combine_patterns(["(?i)ABC", "x"]))
    assert rx.search("abc-x") and not rx.search("ABC")
