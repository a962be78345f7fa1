"""HCL expressions, parsed from the strings python-hcl2 returns for them
(`"${var.a}-x"`, `${6 * var.timeout_s}`), into tuples tf_eval.py evaluates."""


import re


class TfError(Exception):
    pass


class Unknown:
    """A value only AWS knows (an ID it assigns, a resource not emulated)."""

    def __init__(self, what):
        self.what = what

    def __repr__(self):
        return "Unknown(%s)" % self.what


def unquote(key):
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] == '"' else key


# --- expressions ------------------------------------------------------------

TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<id>[A-Za-z_][A-Za-z0-9_-]*)|(?P<str>\")"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||=>|\.\.\.|\[\*\]|[-+*/%<>!?:.,()\[\]{}=]))"
)


def template_end(text, start):
    """Index just past the closing quote of the string opened at text[start]."""
    i = start + 1
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return i + 1
        if text.startswith("${", i):
            i = interp_end(text, i + 2)
            continue
        i += 1
    raise TfError("unterminated string in %r" % text)


def interp_end(text, i):
    """Index just past the `}` closing an interpolation whose body starts at i."""
    depth = 1
    while i < len(text):
        c = text[i]
        if c == '"':
            i = template_end(text, i)
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise TfError("unterminated interpolation in %r" % text)


ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def parse_template(body):
    """A string's body as parts: str literals and parsed expressions."""
    parts, lit, i = [], [], 0
    while i < len(body):
        if body.startswith("$${", i):
            lit.append("${")
            i += 3
        elif body.startswith("${", i):
            end = interp_end(body, i + 2)
            if lit:
                parts.append("".join(lit))
                lit = []
            parts.append(Parser(body[i + 2 : end - 1]).parse())
            i = end
        elif body.startswith("%{", i):
            raise TfError("template directives are not supported: %r" % body)
        elif body[i] == "\\" and i + 1 < len(body):
            lit.append(ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            lit.append(body[i])
            i += 1
    if lit:
        parts.append("".join(lit))
    return ("template", parts)


class Parser:
    """HCL expressions as tuples: (kind, ...)."""

    def __init__(self, text):
        self.text, self.tokens = text, []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise TfError("cannot read %r at %d" % (text, pos))
            if m.group("str"):
                start = m.start("str")
                end = template_end(text, start)
                self.tokens.append(("str", text[start + 1 : end - 1]))
                pos = end
                continue
            kind = m.lastgroup
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
        self.i = 0

    def peek(self, value=None):
        tok = self.tokens[self.i] if self.i < len(self.tokens) else (None, None)
        return tok if value is None else tok[1] == value and tok[0] == "op"

    def take(self, value=None):
        tok = self.peek()
        if value is not None and not (tok[0] == "op" and tok[1] == value):
            raise TfError("expected %r in %r, got %r" % (value, self.text, tok[1]))
        self.i += 1
        return tok

    def parse(self):
        expr = self.expr()
        if self.i != len(self.tokens):
            raise TfError("unexpected %r in %r" % (self.peek()[1], self.text))
        return expr

    def expr(self):
        cond = self.binary(0)
        if self.peek("?"):
            self.take("?")
            yes = self.expr()
            self.take(":")
            return ("cond", cond, yes, self.expr())
        return cond

    LEVELS = [("||",), ("&&",), ("==", "!="), ("<", ">", "<=", ">="), ("+", "-"), ("*", "/", "%")]

    def binary(self, level):
        if level == len(self.LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek()[0] == "op" and self.peek()[1] in self.LEVELS[level]:
            op = self.take()[1]
            left = ("binop", op, left, self.binary(level + 1))
        return left

    def unary(self):
        if self.peek("!") or self.peek("-"):
            op = self.take()[1]
            return ("unop", op, self.unary())
        return self.postfix(self.primary())

    def postfix(self, node):
        while True:
            if self.peek("."):
                self.take(".")
                kind, value = self.take()
                if kind not in ("id", "num"):
                    raise TfError("bad attribute %r in %r" % (value, self.text))
                node = ("index", node, ("lit", int(value) if kind == "num" else value))
            elif self.peek("[*]"):
                self.take("[*]")
                rest = ("splatvar",)
                while self.peek("."):
                    self.take(".")
                    rest = ("index", rest, ("lit", self.take()[1]))
                node = ("splat", node, rest)
            elif self.peek("["):
                self.take("[")
                key = self.expr()
                self.take("]")
                node = ("index", node, key)
            else:
                return node

    def primary(self):
        kind, value = self.take()
        if kind == "num":
            return ("lit", float(value) if "." in value else int(value))
        if kind == "str":
            return parse_template(value)
        if kind == "id":
            if value in ("true", "false"):
                return ("lit", value == "true")
            if value == "null":
                return ("lit", None)
            if self.peek("("):
                self.take("(")
                args = []
                while not self.peek(")"):
                    args.append(self.expr())
                    if self.peek("..."):
                        self.take("...")
                        args[-1] = ("expand", args[-1])
                    if not self.peek(")"):
                        self.take(",")
                self.take(")")
                return ("call", value, args)
            return ("ref", value)
        if value == "(":
            inner = self.expr()
            self.take(")")
            return inner
        if value == "[":
            return self.for_expr("]") if self.peek() == ("id", "for") else self.sequence("]")
        if value == "{":
            return self.for_expr("}") if self.peek() == ("id", "for") else self.object()
        raise TfError("unexpected %r in %r" % (value, self.text))

    def sequence(self, close):
        items = []
        while not self.peek(close):
            items.append(self.expr())
            if not self.peek(close):
                self.take(",")
        self.take(close)
        return ("tuple", items)

    def object(self):
        items = []
        while not self.peek("}"):
            key = self.expr()
            if key[0] == "ref":
                key = ("lit", key[1])
            self.take("=" if self.peek("=") else ":")
            items.append((key, self.expr()))
            if self.peek(","):
                self.take(",")
        self.take("}")
        return ("object", items)

    def for_expr(self, close):
        self.take()  # for
        names = [self.take()[1]]
        if self.peek(","):
            self.take(",")
            names.append(self.take()[1])
        if self.take()[1] != "in":
            raise TfError("expected 'in' in %r" % self.text)
        source = self.expr()
        self.take(":")
        key = self.expr()
        value = None
        if close == "}":
            self.take("=>")
            value = self.expr()
        cond = None
        if self.peek() == ("id", "if"):
            self.take()
            cond = self.expr()
        self.take(close)
        return ("for", close, names, source, key, value, cond)


def parse_value(raw):
    """What python-hcl2 returns for an attribute, as an expression."""
    if isinstance(raw, str):
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            return parse_template(raw[1:-1])
        if raw.startswith("${") and raw.endswith("}") and interp_end(raw, 2) == len(raw):
            return Parser(raw[2:-1]).parse()
        return ("lit", raw)
    if isinstance(raw, list):
        return ("tuple", [parse_value(v) for v in raw])
    if isinstance(raw, dict):
        return ("object", [(("lit", unquote(k)), parse_value(v)) for k, v in raw.items() if not k.startswith("__")])
    return ("lit", raw)
