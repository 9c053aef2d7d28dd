"""A function's declared argument list, read as PostgreSQL reads it, without a database.

``CREATE FUNCTION f(x integer DEFAULT 1, OUT y text)`` declares its arguments
once, but PostgreSQL names the function differently everywhere else: DROP,
GRANT, COMMENT and ALTER ... OWNER take ``[mode] [name] type`` with no
DEFAULT clause (``pg_get_function_identity_arguments``), and finding the
function in ``pg_proc`` takes the types of its input arguments only (IN,
INOUT, VARIADIC; not OUT). Both are derived here from the declared text, so
offline SQL names a function exactly as the server would.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

MODES = ("in", "out", "inout", "variadic")

# One lexical token of an argument list: quoted identifiers and literals,
# dollar-quoted strings, comments, brackets, words and single characters.
_TOKEN = r"""
    (?P<space>\s+|--[^\n]*|/\*.*?\*/)
  | (?P<dquote>"(?:[^"]|"")*")
  | (?P<squote>[eEbBxXuU]?'(?:[^'\\]|''|\\.)*')
  | (?P<dollar>\$(?P<tag>[A-Za-z_][A-Za-z_0-9]*|)\$.*?\$(?P=tag)\$)
  | (?P<word>[A-Za-z_\x80-\uffff][A-Za-z_0-9$\x80-\uffff]*)
  | (?P<other>.)
    """


@functools.lru_cache(maxsize=None)
def _token_pattern():
    return re.compile(_TOKEN, re.VERBOSE | re.DOTALL)  # compiled on first use: 5 ms at every start-up otherwise


@dataclass(frozen=True)
class Argument:
    """One declared argument: its mode (lower case, ``in`` when not given), the text of
    its optional name and type as written, and whether it has a default."""

    mode: str
    name_and_type: str
    has_default: bool = False

    @property
    def is_input(self) -> bool:
        return self.mode != "out"

    def identity(self) -> str:
        """The argument as DROP, GRANT, COMMENT and ALTER name it: mode, name, type; no default."""
        mode = "" if self.mode == "in" else self.mode.upper() + " "
        return mode + self.name_and_type


def _tokens(text: str) -> List[Tuple[str, str]]:
    return [(m.lastgroup, m.group()) for m in _token_pattern().finditer(text)]


def _split(text: str) -> List[List[Tuple[str, str]]]:
    """The tokens of each top-level, comma-separated argument."""
    arguments: List[List[Tuple[str, str]]] = [[]]
    depth = 0
    for kind, token in _tokens(text):
        if kind == "other" and token in "([":
            depth += 1
        elif kind == "other" and token in ")]":
            depth -= 1
        elif kind == "other" and token == "," and depth == 0:
            arguments.append([])
            continue
        arguments[-1].append((kind, token))
    return [tokens for tokens in arguments if any(kind != "space" for kind, _ in tokens)]


def _is_mode(token: Tuple[str, str]) -> bool:
    return token[0] == "word" and token[1].lower() in MODES


def _argument(tokens: List[Tuple[str, str]]) -> Argument:
    depth, cut = 0, len(tokens)
    for i, (kind, token) in enumerate(tokens):
        depth += kind == "other" and token in "(["
        depth -= kind == "other" and token in ")]"
        if depth == 0 and ((kind == "word" and token.lower() == "default") or (kind == "other" and token == "=")):
            cut = i
            break
    has_default = cut < len(tokens)
    words = [i for i, (kind, _) in enumerate(tokens[:cut]) if kind != "space"]
    mode, drop = "in", None
    # The grammar allows "mode name type", "name mode type", "mode type", "name type", "type".
    for position in (0, 1):
        if len(words) > position + 1 and _is_mode(tokens[words[position]]):
            mode, drop = tokens[words[position]][1].lower(), words[position]
            break
    text = ""
    for i, (kind, token) in enumerate(tokens[:cut]):
        if i == drop or kind == "space":
            text += "" if text.endswith(" ") else " "
        else:
            text += token
    return Argument(mode, text.strip(), has_default)


#: An argument list of plain words, commas and white space only: no quotes, comments, brackets,
#: qualified names or defaults, so splitting at commas and spaces reads it as the tokenizer does.
_PLAIN = re.compile(r"[\s,]*(?:[A-Za-z_][A-Za-z_0-9]*(?:\s+|\s*,[\s,]*|$))*")


def _plain(arguments: str) -> Optional[List[Argument]]:
    """`parse` of a plain argument list (the common case, at a fraction of the cost); None otherwise."""
    if not _PLAIN.fullmatch(arguments) or "default" in arguments.lower():
        return None
    found = []
    for part in arguments.split(","):
        words = part.split()
        if not words:
            continue
        mode, drop = "in", None
        for position in (0, 1):  # as `_argument`: "mode name type", "name mode type", "mode type"
            if len(words) > position + 1 and words[position].lower() in MODES:
                mode, drop = words[position].lower(), position
                break
        found.append(Argument(mode, " ".join(w for i, w in enumerate(words) if i != drop)))
    return found


def parse(arguments: str) -> List[Argument]:
    """The declared arguments of ``f(<arguments>)``, as PostgreSQL's grammar reads them."""
    plain = _plain(arguments)
    if plain is not None:
        return plain
    return [_argument(tokens) for tokens in _split(arguments)]


def identity_arguments(arguments: str) -> str:
    """``x integer DEFAULT 1, OUT y text`` -> ``x integer, OUT y text``: what names the function
    in DROP, GRANT, COMMENT and ALTER (PostgreSQL's ``pg_get_function_identity_arguments``)."""
    return ", ".join(argument.identity() for argument in parse(arguments))


def input_arguments(arguments: str) -> List[str]:
    """The ``[name] type`` text of each input argument (not OUT), whose types find the function."""
    return [argument.name_and_type for argument in parse(arguments) if argument.is_input]


def split_signature(signature: str) -> Optional[Tuple[str, str]]:
    """``"name(args)"`` -> ``("name", "args")``; None when it is not of that shape."""
    name, paren, rest = signature.strip().partition("(")
    rest = rest.rstrip()
    if not paren or not rest.endswith(")") or not name.strip():
        return None
    return name.strip(), rest[:-1].strip()
