"""Parsing the three question formats and writing QuestionFormAnswers."""

import pytest
from defusedxml import ElementTree as SafeET

from marketplace.mturk.errors import MTurkRequestError
from marketplace.mturk.questions import ANSWERS_NAMESPACE, answers_xml, parse_question
from tests.mturk_work.xml_samples import (
    AGE_ANSWER,
    CROWD_FORM,
    FORM_NS,
    HTML_NS,
    QUESTION_FORM,
    external_question,
    html_question,
)

NS = {"a": ANSWERS_NAMESPACE}


def html(content: str = "x", height: str = "1", prolog: str = "") -> str:
    """An HTMLQuestion from raw parts (the content and height as text, maybe malformed)."""
    parts = f"<HTMLContent>{content}</HTMLContent>" if content else ""
    parts += f"<FrameHeight>{height}</FrameHeight>" if height else ""
    return f'{prolog}<HTMLQuestion xmlns="{HTML_NS}">{parts}</HTMLQuestion>'


def answers(xml: str) -> dict[str, list[tuple[str, str]]]:
    root = SafeET.fromstring(xml)
    assert root.tag == f"{{{ANSWERS_NAMESPACE}}}QuestionFormAnswers"
    out = {}
    for answer in root.findall("a:Answer", NS):
        qid = answer.find("a:QuestionIdentifier", NS).text
        out[qid] = [(child.tag.split("}")[1], child.text or "") for child in answer][1:]
    return out


def test_html_question():
    parsed = parse_question(html_question(CROWD_FORM, height=500))
    assert parsed.kind == "HTMLQuestion"
    assert "<crowd-form" in parsed.html and parsed.html.startswith("<!DOCTYPE html>")
    assert parsed.frame_height == 500
    assert parsed.xml == html_question(CROWD_FORM, height=500)


def test_external_question():
    parsed = parse_question(external_question("https://survey.example.org/s?x=1&amp;y=2", 0))
    assert parsed.kind == "ExternalQuestion"
    assert parsed.external_url == "https://survey.example.org/s?x=1&y=2"
    assert parsed.frame_height == 0


def test_external_question_needs_https():
    with pytest.raises(MTurkRequestError, match="https"):
        parse_question(external_question("http://survey.example.org/"))
    with pytest.raises(MTurkRequestError, match="https"):
        parse_question(external_question("javascript:alert(1)"))
    assert parse_question(external_question("http://127.0.0.1:8123/x")).external_url.startswith(
        "http://"
    )


def test_question_form():
    parsed = parse_question(QUESTION_FORM)
    assert parsed.kind == "QuestionForm"
    assert [b.kind for b in parsed.overview] == ["title", "text"]
    move, win, pieces, age = parsed.questions
    assert (move.identifier, move.answer_type, move.required) == ("nextmove", "FreeText", True)
    assert (move.min_length, move.max_length, move.default_text) == (2, 2, "C1")
    assert win.answer_type == "Selection" and not win.multiple
    assert [s.identifier for s in win.selections] == ["notlikely", "unsure", "likely"]
    assert win.selections[1].text == "It could go either way"
    assert pieces.multiple and (pieces.min_selections, pieces.max_selections) == (0, 2)
    assert age.numeric and (age.min_value, age.max_value) == (18, 120)


@pytest.mark.parametrize(
    ("xml", "detail"),
    [
        ("", "empty"),
        ("<HTMLQuestion", "not well-formed"),
        ("<Foo xmlns='x'/>", "root element"),
        (
            "<HTMLQuestion><HTMLContent>x</HTMLContent><FrameHeight>1</FrameHeight></HTMLQuestion>",
            "namespace",
        ),
        (html(content=""), "HTMLContent"),
        (html(height=""), "FrameHeight"),
        (html(height="tall"), "integer"),
        (html(height="99999"), "between"),
        (f'<QuestionForm xmlns="{FORM_NS}"></QuestionForm>', "at least one"),
        (
            QUESTION_FORM.replace(
                "<FreeTextAnswer><Constraints><IsNumeric", "<FileUploadAnswer><X"
            ),
            "not well-formed",
        ),
        (QUESTION_FORM.replace("likelytowin", "nextmove"), "repeats a QuestionIdentifier"),
        (QUESTION_FORM.replace(">unsure<", ">likely<"), "repeats a SelectionIdentifier"),
        (
            QUESTION_FORM.replace("<MaxSelectionCount>2", "<MaxSelectionCount>5"),
            "MaxSelectionCount",
        ),
        (QUESTION_FORM.replace("<IsRequired>true", "<IsRequired>yes", 1), "IsRequired"),
        ("x" * 200_000, "longer than"),
    ],
)
def test_malformed_questions_are_refused(xml, detail):
    with pytest.raises(MTurkRequestError, match=detail) as caught:
        parse_question(xml)
    assert caught.value.turk_error_code == "AWS.MechanicalTurk.XMLParseError"


def test_file_upload_answer_is_refused_by_name():
    xml = QUESTION_FORM.replace(
        AGE_ANSWER,
        "<FileUploadAnswer><MaxFileSizeInBytes>10</MaxFileSizeInBytes></FileUploadAnswer>",
    )
    with pytest.raises(MTurkRequestError, match="FileUploadAnswer is not supported"):
        parse_question(xml)


@pytest.mark.parametrize(
    "xml",
    [
        # XXE: an external entity reading a local file
        html("&xxe;", prolog='<!DOCTYPE q [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'),
        # billion laughs
        html("&b;", prolog='<!DOCTYPE q [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'),
        # an external DTD
        html(prolog='<?xml version="1.0"?><!DOCTYPE q SYSTEM "http://attacker.example/x.dtd">'),
    ],
)
def test_dtds_and_entities_are_refused(xml):
    with pytest.raises(MTurkRequestError, match="DTDs and entity declarations are not allowed"):
        parse_question(xml)


def test_answers_xml_free_text_fields():
    xml = answers_xml({"label": "cat & <dog>", "tags": ["a", "b"], "score": 3, "note": "naïve ✓"})
    assert xml.startswith('<?xml version="1.0" encoding="ASCII"?><QuestionFormAnswers')
    assert xml.isascii()
    assert answers(xml) == {
        "label": [("FreeText", "cat & <dog>")],
        "tags": [("FreeText", "a|b")],
        "score": [("FreeText", "3")],
        "note": [("FreeText", "naïve ✓")],
    }


def test_answers_xml_question_form_selections_in_question_order():
    form = parse_question(QUESTION_FORM)
    xml = answers_xml({"pieces": ["x", "o"], "likelytowin": "unsure", "nextmove": "B2"}, form)
    assert list(answers(xml).items()) == [
        ("nextmove", [("FreeText", "B2")]),
        ("likelytowin", [("SelectionIdentifier", "unsure")]),
        ("pieces", [("SelectionIdentifier", "x"), ("SelectionIdentifier", "o")]),
    ]


def test_answers_xml_drops_characters_xml_cannot_carry():
    xml = answers_xml({"a": "x\x00y\x1bz\tok"})
    assert answers(xml) == {"a": [("FreeText", "xyz\tok")]}
