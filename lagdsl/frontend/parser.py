"""Parse ``.lag`` text into the AST of :mod:`lagdsl.frontend.ast`.

The grammar (``grammar/lag.lark``, shipped as package data ``lagdsl.grammar``) is LALR(1);
lark's own exceptions never leave this module: every syntax error becomes a
:class:`~lagdsl.errors.LagSyntaxError` at ``file:line:col`` with a hint for the usual slips
(a misspelt keyword, ``=`` for ``==``, a missing ``:``, an unbalanced bracket, an incomplete
statement).
"""
from __future__ import annotations

import difflib
import functools
from importlib import resources

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ..errors import LagSyntaxError
from ..ir.model import Source, Span
from . import ast

#: The reserved words of the language (``subject to`` is one keyword).
KEYWORDS = ("model", "set", "param", "var", "graph", "domain", "field", "minimize", "maximize",
            "subject to", "on", "where", "in", "cross", "union", "inter", "diff", "and", "or",
            "not", "mod", "binary", "integer", "real", "start", "default", "if", "then", "else")

#: Keywords that start a statement: a token of these after an open bracket means the
#: bracket was never closed.
STATEMENT_KEYWORDS = ("model", "set", "param", "var", "graph", "domain", "field", "minimize",
                      "maximize", "subject to")

_BRACKETS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {v: k for k, v in _BRACKETS.items()}


@functools.lru_cache(maxsize=1)
def grammar_text() -> str:
    """The text of the lark grammar, read from the ``lagdsl.grammar`` package."""
    return resources.files("lagdsl.grammar").joinpath("lag.lark").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def lark_parser() -> Lark:
    """The (cached) LALR parser; it yields raw lark trees, see :func:`parse_program`."""
    # The basic lexer (not the contextual one) so that `paramm` is one name, never the
    # keyword `param` followed by `m`.
    # cache=True stores the built LALR tables in the temp directory keyed by the grammar's
    # hash: building them costs ~0.5 s, which every CLI run would otherwise pay.
    return Lark(grammar_text(), parser="lalr", lexer="basic", propagate_positions=True,
                maybe_placeholders=True, cache=True)


def parse_program(text: str, path: str = "<string>") -> ast.Program:
    """Parse ``text`` (from file ``path``) into an :class:`~lagdsl.frontend.ast.Program`.

    Raises :class:`LagSyntaxError` with the position, the source line and a hint.
    """
    source = Source(path, text)
    try:
        tree = lark_parser().parse(text)
    except UnexpectedInput as e:
        raise syntax_error(e, source) from None
    return _transform(_ToAst(path), tree)


def _transform(transformer: Transformer, tree: Tree):
    """``transformer.transform(tree)`` without recursion: lark's own walk recurses once per
    level, so a 600-term chain ``x + x + ...`` (a 600-deep tree) would exhaust Python's
    stack.  ``iter_subtrees`` yields children before parents."""
    done: dict[int, object] = {}
    for sub in tree.iter_subtrees():
        children = [done[id(c)] if isinstance(c, Tree) else c for c in sub.children]
        done[id(sub)] = transformer._call_userfunc(sub, children)
    return done[id(tree)]


# --- lark tree -> AST ----------------------------------------------------------------------


def _meta_span(path: str, meta) -> Span:
    return Span(path, meta.line, meta.column, meta.end_line, meta.end_column)


def _tok_span(path: str, tok: Token) -> Span:
    return Span(path, tok.line, tok.column, tok.end_line, tok.end_column)


class _Cond:
    """The ``: expr`` clause of an index list, aggregate or set comprehension."""

    def __init__(self, expr):
        self.expr = expr


class _Clause:
    """A tagged optional part of a declaration (``default``, ``start``)."""

    def __init__(self, kind: str, expr):
        self.kind, self.expr = kind, expr


def _split_cond(children) -> tuple[tuple, object]:
    """Items and the optional condition of ``exprs [cond]`` children (placeholders dropped)."""
    items = tuple(c for c in children if c is not None and not isinstance(c, _Cond))
    conds = [c.expr for c in children if isinstance(c, _Cond)]
    return items, (conds[0] if conds else None)


@v_args(meta=True)
class _ToAst(Transformer):
    """Builds AST nodes bottom-up, giving each the span of its text."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def _span(self, meta) -> Span:
        return _meta_span(self.path, meta)

    # --- statements --------------------------------------------------------------------
    def start(self, meta, children):
        span = self._span(meta) if not meta.empty else Span(self.path, 1, 1)
        return ast.Program(span, tuple(children))

    def model_stmt(self, meta, c):
        return ast.ModelStmt(self._span(meta), str(c[0]), _tok_span(self.path, c[0]))

    def set_decl(self, meta, c):
        return ast.SetDecl(self._span(meta), str(c[0]), _tok_span(self.path, c[0]), c[1])

    def param_decl(self, meta, c):
        index, index_cond, value, default = (), None, None, None
        for part in c[1:]:
            if isinstance(part, _Clause):
                default = part.expr
            elif isinstance(part, tuple):
                index, index_cond = part
            elif part is not None:
                value = part
        return ast.ParamDecl(self._span(meta), str(c[0]), _tok_span(self.path, c[0]), index,
                             index_cond, value, default)

    def default_clause(self, meta, c):
        return _Clause("default", c[0])

    def list_lit(self, meta, c):
        return ast.ListLiteral(self._span(meta), tuple(x for x in c if x is not None))

    def var_decl(self, meta, c):
        index, index_cond, domain, dspan, bounds, start = (), None, None, None, [], None
        for part in c[1:]:
            if isinstance(part, tuple):
                index, index_cond = part
            elif isinstance(part, Token):
                domain, dspan = str(part), _tok_span(self.path, part)
            elif isinstance(part, ast.Bound):
                bounds.append(part)
            elif isinstance(part, _Clause):
                start = part.expr
        return ast.VarDecl(self._span(meta), str(c[0]), _tok_span(self.path, c[0]), index,
                           index_cond, domain, dspan, tuple(bounds), start)

    def var_domain(self, meta, c):
        return c[0]

    def bound_ge(self, meta, c):
        return ast.Bound(self._span(meta), ">=", c[1])

    def bound_le(self, meta, c):
        return ast.Bound(self._span(meta), "<=", c[1])

    def bound_interval(self, meta, c):
        return ast.Bound(self._span(meta), "interval", c[0], c[1])

    def bound_in(self, meta, c):
        return ast.Bound(self._span(meta), "in", c[0])

    def start_clause(self, meta, c):
        return _Clause("start", c[0])

    def graph_decl(self, meta, c):
        return ast.GraphDecl(self._span(meta), str(c[0]), _tok_span(self.path, c[0]))

    def domain_decl(self, meta, c):
        return ast.DomainDecl(self._span(meta), str(c[0]), _tok_span(self.path, c[0]), tuple(c[1:]))

    def coord(self, meta, c):
        return ast.Coord(_tok_span(self.path, c[0]), str(c[0]), c[1], c[2])

    def field_decl(self, meta, c):
        coords = tuple(ast.Name(_tok_span(self.path, t), str(t)) for t in c[1:])
        return ast.FieldDecl(self._span(meta), str(c[0]), _tok_span(self.path, c[0]), coords)

    def sense(self, meta, c):
        return c[0]

    def objective(self, meta, c):
        return ast.ObjectiveStmt(self._span(meta), str(c[0]), str(c[1]),
                                 _tok_span(self.path, c[1]), c[2])

    def constraint(self, meta, c):
        index, index_cond = c[2] if c[2] is not None else ((), None)
        return ast.ConstraintStmt(self._span(meta), str(c[1]), _tok_span(self.path, c[1]),
                                  index, index_cond, c[3], c[4])

    def region(self, meta, c):
        return ast.RegionAst(self._span(meta), c[0], c[1])

    def index_list(self, meta, c):
        return _split_cond(c)

    def cond(self, meta, c):
        return _Cond(c[0])

    # --- expressions -------------------------------------------------------------------
    def _bool(op):
        def build(self, meta, c):
            return ast.BoolOp(self._span(meta), op, c[0], c[1])
        return build

    or_ = _bool("or")
    and_ = _bool("and")

    def not_(self, meta, c):
        return ast.Not(self._span(meta), c[0])

    def compare(self, meta, c):
        operands = tuple(c[0::2])
        ops = tuple(str(t) for t in c[1::2])
        op_spans = tuple(_tok_span(self.path, t) for t in c[1::2])
        return ast.Compare(self._span(meta), operands, ops, op_spans)

    def cmp_op(self, meta, c):
        if len(c) == 2:         # `not in`: one operator, positioned at `not`
            return Token.new_borrow_pos("NOT_IN", "not in", c[0])
        return c[0]

    def _binop(op):
        def build(self, meta, c):
            return ast.BinOp(self._span(meta), op, c[0], c[1])
        return build

    union = _binop("union")
    diff = _binop("diff")
    inter = _binop("inter")
    cross = _binop("cross")
    range = _binop("..")
    add = _binop("+")
    sub = _binop("-")
    mul = _binop("*")
    div = _binop("/")
    mod = _binop("mod")
    pow = _binop("^")
    del _bool, _binop

    def neg(self, meta, c):
        return ast.Neg(self._span(meta), c[0])

    def if_expr(self, meta, c):
        return ast.IfExpr(self._span(meta), c[0], c[1], c[2])

    def subscript(self, meta, c):
        return ast.Subscript(self._span(meta), c[0], tuple(c[1:]))

    def call_args(self, meta, c):
        return _split_cond(c)

    def call(self, meta, c):
        args, cond = c[1] if c[1] is not None else ((), None)
        return ast.Call(self._span(meta), c[0], args, cond)

    def aggregate(self, meta, c):
        args, cond = c[1]
        return ast.Aggregate(self._span(meta), c[0], args, cond, c[2])

    def name(self, meta, c):
        return ast.Name(self._span(meta), str(c[0]))

    def dotted(self, meta, c):
        return ast.Name(self._span(meta), "%s.%s" % (c[0], c[1]))

    def number(self, meta, c):
        text = str(c[0])
        # an integer of more than 309 digits is beyond float64 anyway (the checker says so);
        # float() keeps int()'s 4300-digit limit from turning it into an internal error
        value = int(text) if text.isdigit() and len(text) <= 309 else float(text)
        return ast.Number(self._span(meta), value)

    def string(self, meta, c):
        return ast.String(self._span(meta), str(c[0])[1:-1])

    def tuple(self, meta, c):
        return ast.TupleExpr(self._span(meta), tuple(c))

    def setlit(self, meta, c):
        items, cond = _split_cond(c)
        return ast.SetLiteral(self._span(meta), items, cond)


# --- syntax errors -------------------------------------------------------------------------

#: Malformed programs whose parser state identifies a slip, for lark's ``match_examples``.
_EXAMPLES = {
    "a constraint's name is followed by ':' (subject to NAME: lhs <= rhs)": [
        "subject to c x <= 1", "subject to c[i in I] x[i] <= 1", "subject to c 1 <= x",
        "subject to c[i in I] 1 <= x", "subject to c[i in I] (x <= 1)", "subject to c (x <= 1)",
        "subject to c - x <= 1", "subject to c[i in I] - x <= 1"],
    "an objective is written 'minimize NAME: expr' (the name and ':' are required)": [
        "minimize x + y", "minimize 2 * x", "minimize x y", "maximize 2", "minimize (x)",
        "minimize - x", "minimize x[i]", "minimize sum(i in I) x[i]"],
    "a region is followed by ':' (subject to NAME on D: ...)": [
        "subject to c on D u == 0", "subject to c on D where x == 0 u == 0"],
    "a conditional is 'if COND then A else B' (the 'else' part is required)": [
        "param p = if n > 0 then 1", "param p = if n > 0 then 1 + 2",
        "param p[i in I] = if i > 0 then x[i]", "param p = if n > 0 1 else 2",
        "param p = if n > 0 else 2", "param p = (if n > 0 then 1)"],
    "two terms in a row: an operator (or a relation <=, >=, ==) is missing": [
        "subject to c: x y", "subject to c: x 1", "subject to c: x[i] y[i]"],
}


def _terminal_display(name: str) -> str:
    """A terminal as users write it: ``'<='``, ``a name``, ``end of input``."""
    special = {"NAME": "a name", "NUMBER": "a number", "STRING": "a string",
               "$END": "end of input", "SUBJECT_TO": "'subject to'"}
    if name in special:
        return special[name]
    for t in lark_parser().terminals:
        if t.name == name and t.pattern.type == "str":
            return "'%s'" % t.pattern.value
    return name


def _token_display(tok: Token) -> str:
    if tok.type == "$END":
        return "end of input"
    if tok.type == "NAME":
        return "name '%s'" % tok
    if tok.type == "NUMBER":
        return "number %s" % tok
    if tok.type == "STRING":
        return "string %s" % tok
    return "'%s'" % tok


def _end_span(source: Source) -> Span:
    """The position just after the last non-blank character (where input ended)."""
    lines = source.text.splitlines() or [""]
    n = len(lines)
    while n > 1 and not lines[n - 1].strip():
        n -= 1
    return Span(source.path, n, len(lines[n - 1].rstrip()) + 1)


def _scan_brackets(text: str, path: str, stop: tuple[int, int] | None = None):
    """Bracket balance up to and including ``stop`` (line, col): ``(problem, open_stack)``.

    ``problem`` is ``(message, span)`` for the first closer that matches nothing, else None;
    the stack lists the unclosed openers as ``(char, span)``.  Strings and comments are
    skipped so that a ``(`` inside them does not count.
    """
    stack: list = []
    line, col, i = 1, 1, 0
    while i < len(text):
        if stop is not None and (line, col) > stop:
            break
        ch = text[i]
        if ch == "#":
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        if ch == '"':
            j = text.find('"', i + 1)
            nl = text.find("\n", i + 1)
            j = j if j != -1 and (nl == -1 or j < nl) else i
            col += j - i
            i = j
        elif ch in _BRACKETS:
            stack.append((ch, Span(path, line, col, line, col + 1)))
        elif ch in _CLOSERS:
            here = Span(path, line, col, line, col + 1)
            if not stack:
                return ("unmatched '%s'" % ch, here, "there is no '%s' before it" % _CLOSERS[ch]), stack
            opener, at = stack.pop()
            if _BRACKETS[opener] != ch:
                return ("'%s' does not close '%s'" % (ch, opener), here,
                        "the '%s' opened at %d:%d needs '%s' first" % (opener, at.line, at.col,
                                                                     _BRACKETS[opener])), stack
        if ch == "\n":
            line, col = line + 1, 1
        else:
            col += 1
        i += 1
    return None, stack


def _keyword_hint(tok: Token, expected: set) -> str | None:
    """``did you mean 'minimize'?`` when a name is a near miss for an expected keyword."""
    if tok.type != "NAME":
        return None
    allowed = [k for k in KEYWORDS if _keyword_terminal(k) in expected]
    close = difflib.get_close_matches(str(tok).lower(), allowed, n=1, cutoff=0.7)
    return "did you mean '%s'?" % close[0] if close else None


@functools.lru_cache(maxsize=None)
def _keyword_terminal(keyword: str) -> str | None:
    if keyword == "subject to":
        return "SUBJECT_TO"
    for t in lark_parser().terminals:
        if t.pattern.type == "str" and t.pattern.value == keyword:
            return t.name
    return None


def _expected_hint(expected: set) -> str | None:
    shown = sorted({_terminal_display(n) for n in expected if not n.startswith("__ANON")})
    shown = [s for s in shown if s != "end of input"] + (
        ["end of input"] if "$END" in expected else [])
    if not shown:
        return None
    if len(shown) > 8:
        shown = shown[:8] + ["..."]
    return "expected " + ", ".join(shown)


@functools.lru_cache(maxsize=1)
def _example_states() -> dict:
    """Parser stack -> hint, from the errors of the malformed examples.

    Like lark's ``match_examples``, but keyed on the whole LALR state stack: the current
    state alone is shared by every context where, say, a name was just read.  Each example
    is also tried after one statement, because earlier statements add one (constant) level.
    """
    table: dict = {}
    for hint, examples in _EXAMPLES.items():
        for text in examples:
            for prefix in ("", "var previous_\n"):
                try:
                    lark_parser().parse(prefix + text)
                except UnexpectedToken as ut:
                    table.setdefault(_state_of(ut), hint)
    return table


def _state_of(e: UnexpectedInput):
    state = getattr(e, "state", None)
    return tuple(getattr(state, "state_stack", ()))


def _example_hint(e: UnexpectedInput) -> str | None:
    if not isinstance(e, UnexpectedToken):
        return None
    return _example_states().get(_state_of(e))


def syntax_error(e: UnexpectedInput, source: Source) -> LagSyntaxError:
    """Turn a lark exception into a positioned :class:`LagSyntaxError` with a hint."""
    path = source.path
    if isinstance(e, UnexpectedCharacters):
        return _bad_character(e, source)
    tok = getattr(e, "token", None)
    # `accepts` is what really fits here; `expected` lists the whole (shared) LALR state
    expected = set(getattr(e, "accepts", None) or getattr(e, "expected", None) or ())
    at_end = isinstance(e, UnexpectedEOF) or tok is None or tok.type == "$END"
    stop = None if at_end else (tok.line, tok.column)
    problem, stack = _scan_brackets(source.text, path, stop)
    if problem is not None and not at_end and _closer_at(problem[1], tok):
        return LagSyntaxError(problem[0], problem[1], problem[2], source)
    if stack and (at_end or str(tok) in STATEMENT_KEYWORDS or tok.type == "SUBJECT_TO"):
        opener, span = stack[-1]
        ending = "the end of input" if at_end else "'%s' at %d:%d" % (tok, tok.line, tok.column)
        return LagSyntaxError("unclosed '%s'" % opener, span,
                              "add the matching '%s' before %s" % (_BRACKETS[opener], ending), source)
    if at_end:
        return LagSyntaxError("unexpected end of input", _end_span(source),
                              _example_hint(e) or "the last statement is incomplete; "
                              + (_expected_hint(expected) or ""), source)
    span = Span(path, tok.line, tok.column, tok.end_line, tok.end_column)
    message = "unexpected %s" % _token_display(tok)
    if str(tok) == "=" and tok.type != "STRING":
        return LagSyntaxError(message, span, "use '==' for equality; '=' only gives a "
                              "declaration its value (param n = 10)", source)
    hint = _keyword_hint(tok, expected) or _example_hint(e)
    return LagSyntaxError(message, span, hint or _expected_hint(expected), source)


def _closer_at(span: Span, tok: Token) -> bool:
    """Whether the bracket problem is the token the parser stumbled on (or before it)."""
    return (span.line, span.col) <= (tok.line, tok.column)


def _bad_character(e: UnexpectedCharacters, source: Source) -> LagSyntaxError:
    text = source.text
    ch = text[e.pos_in_stream] if e.pos_in_stream < len(text) else ""
    span = Span(source.path, e.line, e.column, e.line, e.column + 1)
    hints = {'"': "a string must end with '\"' on the same line",
             "&": "write 'and'", "|": "write 'or'", "!": "write 'not', or '!=' for 'not equal'",
             ".": "a number needs a digit before the dot (0.5); '..' makes a range",
             ";": "statements need no ';'", "'": "strings use double quotes: \"north\""}
    return LagSyntaxError("unexpected character %r" % ch, span, hints.get(ch), source)
