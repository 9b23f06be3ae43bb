"""MTurk's three question formats in, `QuestionFormAnswers` out.

A HIT's `Question` parameter is XML written by the requester, so it is parsed with defusedxml
and any DTD is refused outright: no entity expansion (billion laughs), no external entities
(XXE), no network or file access while parsing. What comes out is a plain, frozen description
that the worker pages render and the "form" answer type validates against.

`answers_xml` writes what MTurk returned in `Assignment.Answer`: one `<Answer>` per field,
`<FreeText>` for text and `<SelectionIdentifier>` (one per choice) for a QuestionForm's
selection questions. Values of other fields with several values are joined with "|", as MTurk
did for HTML forms with repeated field names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET  # noqa: N817 (only to build answers; parsing is defusedxml's)

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from .errors import MTurkRequestError

SCHEMA_PREFIX = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/"
ANSWERS_NAMESPACE = SCHEMA_PREFIX + "2005-10-01/QuestionFormAnswers.xsd"
KINDS = ("HTMLQuestion", "ExternalQuestion", "QuestionForm")

#: The largest Question parameter accepted, in characters (MTurk's own limit was 128 KiB).
MAX_QUESTION_CHARS = 131_072
MAX_FRAME_HEIGHT = 10_000
MAX_FORM_QUESTIONS = 100
MAX_SELECTIONS = 200
MAX_IDENTIFIER_CHARS = 255
MAX_URL_CHARS = 2_048

PARSE_ERROR = "AWS.MechanicalTurk.XMLParseError"
#: Characters XML 1.0 cannot carry at all (not even as references).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class ContentBlock:
    """One element of a QuestionForm's `Overview` or `QuestionContent`.

    kind: "title" | "text" | "list" (items) | "formatted" (requester XHTML, sanitised when
    rendered) | "binary" (url, alt, mime: an image/audio/video shown by URL)."""

    kind: str
    text: str = ""
    items: tuple[str, ...] = ()
    url: str = ""
    alt: str = ""
    mime: str = ""


@dataclass(frozen=True)
class Selection:
    identifier: str
    text: str


@dataclass(frozen=True)
class FormQuestion:
    """One `<Question>` of a QuestionForm with a FreeTextAnswer or a SelectionAnswer."""

    identifier: str
    display_name: str
    required: bool
    content: tuple[ContentBlock, ...]
    answer_type: str  # "FreeText" | "Selection"
    # SelectionAnswer
    selections: tuple[Selection, ...] = ()
    min_selections: int = 1
    max_selections: int = 1
    style: str = ""
    # FreeTextAnswer
    numeric: bool = False
    min_value: int | None = None
    max_value: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    regex: str = ""
    regex_error: str = ""
    default_text: str = ""
    lines: int = 1

    @property
    def multiple(self) -> bool:
        return self.answer_type == "Selection" and self.max_selections > 1


@dataclass(frozen=True)
class ParsedQuestion:
    """A parsed Question parameter. `xml` is the requester's text, unchanged (GetHIT returns
    it as given). Per kind: `html` (HTMLQuestion), `external_url` (ExternalQuestion),
    `frame_height` (both; 0 means as tall as the window), `overview` and `questions`
    (QuestionForm)."""

    kind: str
    xml: str
    html: str = ""
    external_url: str = ""
    frame_height: int = 0
    overview: tuple[ContentBlock, ...] = ()
    questions: tuple[FormQuestion, ...] = ()

    def form_question(self, identifier: str) -> FormQuestion | None:
        for question in self.questions:
            if question.identifier == identifier:
                return question
        return None


def _fail(detail: str) -> MTurkRequestError:
    return MTurkRequestError(
        "There was an error parsing the XML question or answer data in your request. "
        f"Please make sure the data is well-formed and validates against the appropriate schema. "
        f"Details: {detail}",
        PARSE_ERROR,
    )


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if _local(child.tag) == name]


def _child(element: ET.Element, name: str, *, required: bool = False) -> ET.Element | None:
    found = _children(element, name)
    if len(found) > 1:
        raise _fail(f"<{_local(element.tag)}> has more than one <{name}>")
    if not found:
        if required:
            raise _fail(f"<{_local(element.tag)}> needs a <{name}> element")
        return None
    return found[0]


def _text(element: ET.Element, name: str, *, required: bool = False, default: str = "") -> str:
    child = _child(element, name, required=required)
    if child is None:
        return default
    value = (child.text or "").strip()
    if required and not value:
        raise _fail(f"<{name}> is empty")
    return value


def _int(value: str, what: str, *, low: int, high: int) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise _fail(f"{what} must be an integer, got {value[:40]!r}") from None
    if not low <= number <= high:
        raise _fail(f"{what} must be between {low} and {high}, got {number}")
    return number


def _optional_int(element: ET.Element | None, attribute: str, what: str) -> int | None:
    if element is None or element.get(attribute) is None:
        return None
    return _int(element.get(attribute, ""), what, low=-(2**53), high=2**53)


def _frame_height(root: ET.Element) -> int:
    return _int(
        _text(root, "FrameHeight", required=True), "FrameHeight", low=0, high=MAX_FRAME_HEIGHT
    )


def _external_url(url: str, what: str = "ExternalURL") -> str:
    """MTurk required HTTPS. Plain HTTP is allowed for this machine only (local development
    and test servers); anything else is refused as MTurk did."""
    if len(url) > MAX_URL_CHARS:
        raise _fail(f"{what} is longer than {MAX_URL_CHARS} characters")
    parts = urlsplit(url)
    local = parts.scheme == "http" and (parts.hostname or "") in _LOCAL_HOSTS
    if not (parts.scheme == "https" or local) or not parts.hostname:
        raise _fail(f"{what} must be an https:// URL")
    return url


def _content(element: ET.Element | None) -> tuple[ContentBlock, ...]:
    if element is None:
        return ()
    blocks: list[ContentBlock] = []
    for child in element:
        name = _local(child.tag)
        text = (child.text or "").strip()
        if name in ("Title", "Text"):
            blocks.append(ContentBlock(kind=name.lower(), text=text))
        elif name == "List":
            items = tuple((item.text or "").strip() for item in _children(child, "ListItem"))
            blocks.append(ContentBlock(kind="list", items=items))
        elif name == "FormattedContent":
            blocks.append(ContentBlock(kind="formatted", text=text))
        elif name == "Binary":
            mime = _child(child, "MimeType")
            kind = _text(mime, "Type") if mime is not None else ""
            subtype = _text(mime, "SubType") if mime is not None else ""
            url = _external_url(_text(child, "DataURL", required=True), "DataURL")
            blocks.append(
                ContentBlock(
                    kind="binary",
                    url=url,
                    alt=_text(child, "AltText"),
                    mime=f"{kind}/{subtype}" if subtype else kind,
                )
            )
        else:
            raise _fail(f"<{name}> is not supported in question content (use FormattedContent)")
    return tuple(blocks)


def _free_text_question(base: dict[str, Any], spec: ET.Element) -> FormQuestion:
    constraints = _child(spec, "Constraints")
    numeric = _child(constraints, "IsNumeric") if constraints is not None else None
    length = _child(constraints, "Length") if constraints is not None else None
    regex = _child(constraints, "AnswerFormatRegex") if constraints is not None else None
    lines = _text(spec, "NumberOfLinesSuggestion")
    return FormQuestion(
        **base,
        answer_type="FreeText",
        numeric=numeric is not None,
        min_value=_optional_int(numeric, "minValue", "IsNumeric minValue"),
        max_value=_optional_int(numeric, "maxValue", "IsNumeric maxValue"),
        min_length=_optional_int(length, "minLength", "Length minLength"),
        max_length=_optional_int(length, "maxLength", "Length maxLength"),
        regex=regex.get("regex", "") if regex is not None else "",
        regex_error=regex.get("errorText", "") if regex is not None else "",
        default_text=_text(spec, "DefaultText"),
        lines=_int(lines, "NumberOfLinesSuggestion", low=1, high=100) if lines else 1,
    )


def _selection_question(base: dict[str, Any], spec: ET.Element) -> FormQuestion:
    if _child(spec, "OtherSelection") is not None:
        raise _fail(
            "OtherSelection is not supported; add a selection and a FreeTextAnswer question"
        )
    selections_element = _child(spec, "Selections", required=True)
    assert selections_element is not None
    selections: list[Selection] = []
    for element in _children(selections_element, "Selection"):
        identifier = _text(element, "SelectionIdentifier", required=True)
        if len(identifier) > MAX_IDENTIFIER_CHARS:
            raise _fail(f"SelectionIdentifier is longer than {MAX_IDENTIFIER_CHARS} characters")
        label = _text(element, "Text") or identifier
        selections.append(Selection(identifier=identifier, text=label))
    if not selections:
        raise _fail(f"question {base['identifier']!r} has no <Selection>")
    if len(selections) > MAX_SELECTIONS:
        raise _fail(f"question {base['identifier']!r} has more than {MAX_SELECTIONS} selections")
    if len({s.identifier for s in selections}) != len(selections):
        raise _fail(f"question {base['identifier']!r} repeats a SelectionIdentifier")
    count = len(selections)
    low_text, high_text = _text(spec, "MinSelectionCount"), _text(spec, "MaxSelectionCount")
    low = _int(low_text, "MinSelectionCount", low=0, high=count) if low_text else 1
    high = _int(high_text, "MaxSelectionCount", low=1, high=count) if high_text else 1
    if low > high:
        raise _fail("MinSelectionCount is greater than MaxSelectionCount")
    return FormQuestion(
        **base,
        answer_type="Selection",
        selections=tuple(selections),
        min_selections=low,
        max_selections=high,
        style=_text(spec, "StyleSuggestion"),
    )


def _form_question(element: ET.Element) -> FormQuestion:
    identifier = _text(element, "QuestionIdentifier", required=True)
    if len(identifier) > MAX_IDENTIFIER_CHARS:
        raise _fail(f"QuestionIdentifier is longer than {MAX_IDENTIFIER_CHARS} characters")
    required_text = _text(element, "IsRequired", default="false").lower()
    if required_text not in ("true", "false"):
        raise _fail(f"IsRequired must be true or false, got {required_text[:20]!r}")
    base: dict[str, Any] = {
        "identifier": identifier,
        "display_name": _text(element, "DisplayName"),
        "required": required_text == "true",
        "content": _content(_child(element, "QuestionContent", required=True)),
    }
    spec_parent = _child(element, "AnswerSpecification", required=True)
    assert spec_parent is not None
    specs = list(spec_parent)
    if len(specs) != 1:
        raise _fail(
            f"question {identifier!r} needs exactly one answer type in <AnswerSpecification>"
        )
    spec = specs[0]
    name = _local(spec.tag)
    if name == "FreeTextAnswer":
        return _free_text_question(base, spec)
    if name == "SelectionAnswer":
        return _selection_question(base, spec)
    raise _fail(f"{name} is not supported (FreeTextAnswer and SelectionAnswer are)")


def _question_form(root: ET.Element, xml: str) -> ParsedQuestion:
    elements = _children(root, "Question")
    if not elements:
        raise _fail("QuestionForm needs at least one <Question>")
    if len(elements) > MAX_FORM_QUESTIONS:
        raise _fail(f"QuestionForm has more than {MAX_FORM_QUESTIONS} questions")
    questions = tuple(_form_question(element) for element in elements)
    if len({q.identifier for q in questions}) != len(questions):
        raise _fail("QuestionForm repeats a QuestionIdentifier")
    overview: tuple[ContentBlock, ...] = ()
    for element in _children(root, "Overview"):
        overview += _content(element)
    return ParsedQuestion(kind="QuestionForm", xml=xml, overview=overview, questions=questions)


def parse_question(xml: str) -> ParsedQuestion:
    """Parse a HIT's Question parameter or raise MTurkRequestError (XMLParseError)."""
    if not isinstance(xml, str) or not xml.strip():
        raise _fail("the question is empty")
    if len(xml) > MAX_QUESTION_CHARS:
        raise _fail(f"the question is longer than {MAX_QUESTION_CHARS} characters")
    return _parse_cached(xml)


@lru_cache(maxsize=256)
def _parse_cached(xml: str) -> ParsedQuestion:
    """Items of one HIT type share their XML often (a template with per-item values is still
    one string per item, but pages and validation parse the same item several times)."""
    try:
        root = SafeET.fromstring(
            xml.strip(), forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException:
        raise _fail("DTDs and entity declarations are not allowed") from None
    except ET.ParseError as exc:
        raise _fail(f"the XML is not well-formed ({exc})") from None
    kind = _local(root.tag)
    if kind not in KINDS:
        raise _fail(f"the root element must be one of {', '.join(KINDS)}, not <{kind}>")
    namespace = _namespace(root.tag)
    if not namespace.startswith(SCHEMA_PREFIX) or not namespace.endswith(f"/{kind}.xsd"):
        raise _fail(f"<{kind}> must use the namespace {SCHEMA_PREFIX}<version>/{kind}.xsd")
    if kind == "HTMLQuestion":
        return ParsedQuestion(
            kind=kind,
            xml=xml,
            html=_text(root, "HTMLContent", required=True),
            frame_height=_frame_height(root),
        )
    if kind == "ExternalQuestion":
        return ParsedQuestion(
            kind=kind,
            xml=xml,
            external_url=_external_url(_text(root, "ExternalURL", required=True)),
            frame_height=_frame_height(root),
        )
    return _question_form(root, xml)


def _clean(value: str) -> str:
    return _NOT_XML.sub("", value)


def _free_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return "|".join(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def answers_xml(answer: Mapping[str, Any], question: ParsedQuestion | None = None) -> str:
    """MTurk's `QuestionFormAnswers` XML for a worker's answer (field -> value).

    With the HIT's parsed QuestionForm, its selection questions answer with one
    `<SelectionIdentifier>` per choice, in the form's question order; every other field
    answers with `<FreeText>`. The text is ASCII with character references, as MTurk's was."""
    root = ET.Element("QuestionFormAnswers", {"xmlns": ANSWERS_NAMESPACE})
    names = list(answer)
    if question is not None and question.kind == "QuestionForm":
        order = {q.identifier: index for index, q in enumerate(question.questions)}
        names.sort(key=lambda name: order.get(name, len(order)))
    for name in names:
        value = answer[name]
        element = ET.SubElement(root, "Answer")
        ET.SubElement(element, "QuestionIdentifier").text = _clean(str(name))
        form_question = question.form_question(name) if question is not None else None
        if form_question is not None and form_question.answer_type == "Selection":
            chosen: Sequence[Any] = value if isinstance(value, list | tuple) else [value]
            for identifier in chosen:
                if identifier not in ("", None):
                    ET.SubElement(element, "SelectionIdentifier").text = _clean(str(identifier))
        else:
            ET.SubElement(element, "FreeText").text = _clean(_free_text(value))
    body = ET.tostring(root, encoding="us-ascii", xml_declaration=False).decode("ascii")
    return '<?xml version="1.0" encoding="ASCII"?>' + body


def form_answer_problem(question: ParsedQuestion, answer: Mapping[str, Any]) -> str | None:
    """What is wrong with a worker's answer to a QuestionForm, or None when it fits.

    MTurk checked required questions, selection identifiers and counts, numbers and lengths in
    the worker's browser; the same checks run here so the worker API cannot skip them. The
    answer-format regex stays a browser check (a requester's pattern run on our servers could
    backtrack without end). HTMLQuestion and ExternalQuestion answers are whatever the form
    sent, as on MTurk."""
    if question.kind != "QuestionForm":
        return None
    known = {q.identifier for q in question.questions}
    unknown = [name for name in answer if name not in known]
    if unknown:
        return f"unknown question(s): {', '.join(sorted(unknown)[:5])}"
    for q in question.questions:
        value = answer.get(q.identifier)
        empty = value in (None, "", []) or (isinstance(value, str) and not value.strip())
        if empty:
            if q.required:
                return f"{q.identifier}: an answer is required"
            continue
        problem = _selection_problem(q, value) if q.answer_type == "Selection" else None
        if q.answer_type == "FreeText":
            problem = _free_text_problem(q, value)
        if problem:
            return f"{q.identifier}: {problem}"
    return None


def _selection_problem(q: FormQuestion, value: Any) -> str | None:
    chosen = [value] if isinstance(value, str) else value
    if not isinstance(chosen, list) or not all(isinstance(v, str) for v in chosen):
        return "choose by selection identifier"
    allowed = {s.identifier for s in q.selections}
    if any(v not in allowed for v in chosen):
        return f"choose from {', '.join(s.identifier for s in q.selections)}"
    if len(set(chosen)) != len(chosen):
        return "a selection is repeated"
    if not q.min_selections <= len(chosen) <= q.max_selections:
        return f"choose between {q.min_selections} and {q.max_selections}"
    return None


def _free_text_problem(q: FormQuestion, value: Any) -> str | None:
    if not isinstance(value, str):
        return "the answer must be text"
    if q.min_length is not None and len(value) < q.min_length:
        return f"the answer must be at least {q.min_length} characters long"
    if q.max_length is not None and len(value) > q.max_length:
        return f"the answer must be at most {q.max_length} characters long"
    if q.numeric:
        try:
            number = int(value.strip())
        except ValueError:
            return "the answer must be a whole number"
        if q.min_value is not None and number < q.min_value:
            return f"the answer must be at least {q.min_value}"
        if q.max_value is not None and number > q.max_value:
            return f"the answer must be at most {q.max_value}"
    return None
