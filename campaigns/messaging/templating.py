"""Message texts with {variables}: parsed once, rendered by plain substitution.

The syntax is a small, closed subset of what people know from str.format: `{name}` is a variable
(lower-case letters, digits and underscores), `{{` and `}}` are literal braces, and nothing else is
allowed between braces. No attribute or index access (`{member.phone}`, `{x[0]}`), no conversions or
format specs (`{points!r}`, `{points:>10}`), no nesting: a text is a list of literal parts and
variable names, and rendering joins the literals with the values, which are never read as templates
themselves. So a member named "{coupon_code}" gets their name, not somebody's coupon.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

_VARIABLE = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class ParsedText:
    """Literal parts and variables in order: parts[0] var[0] parts[1] var[1] … parts[-1]."""

    parts: tuple[str, ...]
    variables: tuple[str, ...]
    malformed: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        """The variables used, each once, in order of first use."""
        return list(dict.fromkeys(self.variables))

    def render(self, values: Mapping[str, str]) -> str:
        pieces = [self.parts[0]]
        for name, literal in zip(self.variables, self.parts[1:], strict=True):
            pieces.append(values[name])
            pieces.append(literal)
        return "".join(pieces)

    def literal_length(self) -> int:
        return sum(len(part) for part in self.parts)


@lru_cache(maxsize=256)
def parse(text: str) -> ParsedText:
    """Split a text into literals and variables; what cannot be read goes to `malformed`, shown as
    the person wrote it (at most 30 characters of each), so the message can point at it."""
    parts: list[str] = []
    variables: list[str] = []
    malformed: list[str] = []
    literal: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "{":
            if text.startswith("{{", i):
                literal.append("{")
                i += 2
                continue
            close = text.find("}", i + 1)
            opening_again = text.find("{", i + 1)
            if close == -1 or (opening_again != -1 and opening_again < close):
                # An opening brace not closed before the next one (or the end): show it with what follows.
                stop = n if close == -1 and opening_again == -1 else (opening_again if opening_again != -1 else n)
                fragment = text[i:stop].split("\n")[0]
                malformed.append(fragment if len(fragment) <= 12 else fragment[:12] + "…")
                literal.append("{")
                i += 1
                continue
            inside = text[i + 1 : close]
            if _VARIABLE.fullmatch(inside):
                parts.append("".join(literal))
                literal = []
                variables.append(inside)
            else:
                fragment = text[i : close + 1]
                malformed.append(fragment if len(fragment) <= 30 else fragment[:29] + "…")
                literal.append(fragment)
            i = close + 1
        elif char == "}":
            if text.startswith("}}", i):
                literal.append("}")
                i += 2
                continue
            malformed.append("}")
            literal.append("}")
            i += 1
        else:
            literal.append(char)
            i += 1
    parts.append("".join(literal))
    return ParsedText(parts=tuple(parts), variables=tuple(variables), malformed=tuple(dict.fromkeys(malformed)))
