"""The two errors of the question schema, raised by `tasks.schema` and by every annotation type.

They live here, at the bottom of the annotation layer, so the type modules can raise them without
importing `tasks.schema` (which imports the registry of types: that would be a cycle).
`tasks.schema` re-exports both, so `from tasks.schema import InvalidAnswer` keeps working and
names the very same classes."""

from __future__ import annotations

from marketplace.errors import DomainError


class InvalidQuestion(DomainError):
    code = "invalid_question"


class InvalidAnswer(DomainError):
    code = "invalid_answer"
