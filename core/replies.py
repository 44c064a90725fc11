"""Reply: what the core answers, with no markup of any platform (adapters render it)."""

from __future__ import annotations

from dataclasses import dataclass

from core.lending.models import Severity


@dataclass(frozen=True)
class Line:
    """One line of a reply: a label and its value, or plain text when label is empty."""

    label: str
    value: str = ""


@dataclass(frozen=True)
class Section:
    """A titled group of lines."""

    title: str | None
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Button:
    """A button; pressing it runs `command` as the presser (None just dismisses).

    `position` is the row id of the position the command names: a press acts on that very position
    or on nothing, even if the number now means another one.
    """

    label: str
    command: str | None
    position: int | None = None


@dataclass(frozen=True)
class Attachment:
    """A file to send with the reply (an export or a chart)."""

    filename: str
    content: bytes
    mime: str


@dataclass(frozen=True)
class Reply:
    """A platform-neutral answer: title, sections, severity, buttons, optional usage and file."""

    title: str
    sections: tuple[Section, ...] = ()
    severity: Severity = Severity.INFO
    buttons: tuple[Button, ...] = ()
    usage: str | None = None
    attachment: Attachment | None = None
    error: bool = False
    footer: str | None = None
    silent: bool = False  # nothing worth sending (a flood that was already told to slow down); adapters may drop it

    @classmethod
    def failure(cls, message: str, usage: str | None = None) -> Reply:
        """A short error answer, with the usage line when there is one."""
        return cls(title=message, usage=usage, error=True)


def text_lines(*lines: str) -> tuple[Line, ...]:
    """Plain lines without labels."""
    return tuple(Line("", text) for text in lines)


def paragraph(*lines: str, title: str | None = None) -> tuple[Section, ...]:
    """A reply body of plain lines: one untitled section."""
    return (Section(title, text_lines(*lines)),)
