"""Reply -> text for the console (Telegram HTML and Discord embeds join here later)."""

from __future__ import annotations

from core.replies import Line, Reply, Section


def _section_text(section: Section) -> list[str]:
    out = []
    if section.title:
        out.append(section.title)
    width = max((len(line.label) for line in section.lines if line.label), default=0)
    for line in section.lines:
        out.append(_line_text(line, width))
    return out


def _line_text(line: Line, width: int) -> str:
    if not line.label:
        # In a labelled section an unlabelled line continues the one above, so it aligns with values.
        return f"  {' ' * (width + 2) if width else ''}{line.value}"
    return f"  {line.label.ljust(width)}  {line.value}".rstrip()


def plain_text(reply: Reply) -> str:
    """Plain text with aligned labels; errors start with 'Sorry:' and end with the usage line."""
    lines = [("Sorry: " if reply.error else "") + reply.title]
    for section in reply.sections:
        lines.extend(_section_text(section))
    if reply.usage:
        lines.append(f"Usage: {reply.usage}")
    if reply.footer:
        lines.append(reply.footer)
    if reply.buttons:
        lines.append("  ".join(f"[{b.label}{': ' + b.command if b.command else ''}]" for b in reply.buttons))
    if reply.attachment is not None and reply.attachment.mime in ("application/json", "text/plain"):
        lines.append(reply.attachment.content.decode())
    return "\n".join(lines)
