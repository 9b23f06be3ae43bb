"""Question XML as MTurk's documentation and typical research scripts write it."""

HTML_NS = (
    "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd"
)
EXTERNAL_NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd"
FORM_NS = (
    "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2017-11-06/QuestionForm.xsd"
)


def html_question(body: str, height: int = 450) -> str:
    return (
        f'<HTMLQuestion xmlns="{HTML_NS}"><HTMLContent><![CDATA[<!DOCTYPE html><html><head>'
        '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8"/></head><body>'
        f"{body}</body></html>]]></HTMLContent><FrameHeight>{height}</FrameHeight></HTMLQuestion>"
    )


CROWD_FORM = """
<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form answer-format="flatten-objects">
  <p>Is this review positive? <b>great product</b></p>
  <crowd-radio-group>
    <crowd-radio-button name="positive" value="positive">Positive</crowd-radio-button>
    <crowd-radio-button name="negative" value="negative">Negative</crowd-radio-button>
  </crowd-radio-group>
  <crowd-input name="comment" label="Why?"></crowd-input>
</crowd-form>
"""

PLAIN_FORM = """
<form name="mturk_form" method="post" id="mturk_form"
      action="https://www.mturk.com/mturk/externalSubmit">
  <input type="hidden" value="" name="assignmentId" id="assignmentId"/>
  <p>Label: <input type="text" name="label" id="label"/></p>
  <label><input type="checkbox" name="tags" value="a"/> A</label>
  <label><input type="checkbox" name="tags" value="b"/> B</label>
  <input type="submit" id="submitButton" value="Submit"/>
</form>
"""


def external_question(
    url: str = "https://survey.example.org/study?cond=2", height: int = 600
) -> str:
    return (
        f'<ExternalQuestion xmlns="{EXTERNAL_NS}"><ExternalURL>{url}</ExternalURL>'
        f"<FrameHeight>{height}</FrameHeight></ExternalQuestion>"
    )


AGE_ANSWER = '<FreeTextAnswer><Constraints><IsNumeric minValue="18" maxValue="120"/></Constraints></FreeTextAnswer>'  # noqa: E501

QUESTION_FORM = f"""<?xml version="1.0" encoding="UTF-8"?>
<QuestionForm xmlns="{FORM_NS}">
  <Overview><Title>Game 01523</Title><Text>Read the board.</Text></Overview>
  <Question>
    <QuestionIdentifier>nextmove</QuestionIdentifier>
    <DisplayName>The Next Move</DisplayName>
    <IsRequired>true</IsRequired>
    <QuestionContent>
      <Text>What are the coordinates of the best move for player "X"?</Text>
    </QuestionContent>
    <AnswerSpecification>
      <FreeTextAnswer>
        <Constraints><Length minLength="2" maxLength="2"/></Constraints>
        <DefaultText>C1</DefaultText>
      </FreeTextAnswer>
    </AnswerSpecification>
  </Question>
  <Question>
    <QuestionIdentifier>likelytowin</QuestionIdentifier>
    <DisplayName>The Next Move</DisplayName>
    <IsRequired>true</IsRequired>
    <QuestionContent><Text>How likely is it that player "X" will win?</Text></QuestionContent>
    <AnswerSpecification>
      <SelectionAnswer>
        <StyleSuggestion>radiobutton</StyleSuggestion>
        <Selections>
          <Selection>
            <SelectionIdentifier>notlikely</SelectionIdentifier><Text>Not likely</Text>
          </Selection>
          <Selection>
            <SelectionIdentifier>unsure</SelectionIdentifier><Text>It could go either way</Text>
          </Selection>
          <Selection><SelectionIdentifier>likely</SelectionIdentifier><Text>Likely</Text></Selection>
        </Selections>
      </SelectionAnswer>
    </AnswerSpecification>
  </Question>
  <Question>
    <QuestionIdentifier>pieces</QuestionIdentifier>
    <IsRequired>false</IsRequired>
    <QuestionContent><Text>Which pieces are on the board?</Text></QuestionContent>
    <AnswerSpecification>
      <SelectionAnswer>
        <MinSelectionCount>0</MinSelectionCount>
        <MaxSelectionCount>2</MaxSelectionCount>
        <StyleSuggestion>checkbox</StyleSuggestion>
        <Selections>
          <Selection><SelectionIdentifier>x</SelectionIdentifier><Text>X</Text></Selection>
          <Selection><SelectionIdentifier>o</SelectionIdentifier><Text>O</Text></Selection>
        </Selections>
      </SelectionAnswer>
    </AnswerSpecification>
  </Question>
  <Question>
    <QuestionIdentifier>age</QuestionIdentifier>
    <IsRequired>false</IsRequired>
    <QuestionContent><Text>Your age</Text></QuestionContent>
    <AnswerSpecification>
      {AGE_ANSWER}
    </AnswerSpecification>
  </Question>
</QuestionForm>
"""
