"""Reading the README the way a newcomer does: sections, fenced shell blocks, and the commands in them."""

from __future__ import annotations

import re

CURL_MARKER = "<!-- curl-examples"
SAVE_PNG_MARKER = "<!-- save-png-example"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def sections(text: str) -> dict[str, str]:
    """Second-level heading → the text up to the next second-level heading."""
    parts = re.split(r"^## +(.+?)\s*$", text, flags=re.MULTILINE)
    return {heading: body for heading, body in zip(parts[1::2], parts[2::2], strict=True)}


def fenced_blocks(text: str, language: str = "bash") -> list[str]:
    return [body for lang, body in FENCE.findall(text) if lang == language]


def commands(block: str) -> list[str]:
    """Shell commands of a block: continuation lines joined, comments and blank lines dropped."""
    found, pending = [], ""
    for raw in block.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        found.append(pending + line)
        pending = ""
    return found


def marked_commands(text: str, marker: str) -> list[str]:
    """The commands of the first bash block after an HTML-comment marker."""
    start = text.index(marker)
    return commands(fenced_blocks(text[start:])[0])


def curl_examples(text: str) -> list[str]:
    return marked_commands(text, CURL_MARKER)
