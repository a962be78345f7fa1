"""Terraform's own description of the deployment, evaluated without Terraform.

`make local` (scripts/local-aws.py) creates in the local AWS the buckets,
queues, streams, tables and notifications that infra/ creates in AWS, with
the names and settings infra/ gives them. Rather than a second, hand-written
list, it reads infra/*.tf (python-hcl2) and evaluates the expressions it
needs here: variables with their defaults, locals, module inputs and
outputs, `count`, resource references, and the functions infra/ uses.

Evaluation is lazy: only what a created resource or a function's
environment needs is evaluated, so the many attributes that only AWS can
know (a KMS key's ARN) cost nothing until something local needs one; then
`Unknown` names it, and the caller fails with that name instead of
guessing. Anything this evaluator does not understand raises `TfError` with
the file and the expression: a change to infra/ cannot be silently
misread.
"""

import json
import os
import re

import hcl2

from tf_expr import Parser, TfError, Unknown, interp_end, parse_value, unquote  # noqa: F401


# --- modules ----------------------------------------------------------------

META = {"source", "count", "for_each", "providers", "depends_on", "version", "lifecycle"}


class Config:
    """The .tf files of one directory, as python-hcl2 reads them."""

    _cache = {}

    @classmethod
    def load(cls, path):
        path = os.path.normpath(path)
        if path not in cls._cache:
            cls._cache[path] = cls(path)
        return cls._cache[path]

    def __init__(self, path):
        self.path = path
        self.variables, self.locals, self.outputs, self.modules = {}, {}, {}, {}
        self.resources = {}  # (type, name) -> block
        for name in sorted(os.listdir(path)):
            if not name.endswith(".tf"):
                continue
            with open(os.path.join(path, name)) as f:
                doc = hcl2.load(f)
            for block in doc.get("variable", []):
                for k, v in block.items():
                    self.variables[unquote(k)] = v
            for block in doc.get("locals", []):
                self.locals.update({k: v for k, v in block.items() if not k.startswith("__")})
            for block in doc.get("output", []):
                for k, v in block.items():
                    self.outputs[unquote(k)] = v
            for block in doc.get("module", []):
                for k, v in block.items():
                    self.modules[unquote(k)] = v
            for block in doc.get("resource", []):
                for rtype, named in block.items():
                    for rname, body in named.items():
                        self.resources[(unquote(rtype), unquote(rname))] = body


class Ref:
    """Something an expression can index: a namespace, a module, a resource."""

    def get(self, key):
        raise NotImplementedError


class Namespace(Ref):
    def __init__(self, getter):
        self.getter = getter

    def get(self, key):
        return self.getter(key)


class Module(Ref):
    """One instance of a module: its inputs (expressions of the caller) and
    the values evaluated so far."""

    def __init__(self, ev, path, address, inputs, caller, count_index=None):
        self.ev, self.config = ev, Config.load(path)
        self.address, self.inputs, self.caller = address, inputs, caller
        self.count_index = count_index
        self.values = {}
        self.children = {}

    def where(self, what):
        return "%s (%s)" % (what, self.address or "root")

    def cached(self, key, compute):
        if key not in self.values:
            self.values[key] = ("busy",)
            self.values[key] = compute()
        elif self.values[key] == ("busy",):
            raise TfError("cycle at " + self.where(str(key)))
        return self.values[key]

    def var(self, name):
        def compute():
            if name in self.inputs:
                caller, raw = self.inputs[name]
                return caller.eval(raw, self.where("var." + name))
            decl = self.config.variables.get(name)
            if decl is None:
                raise TfError("no variable %s in %s" % (name, self.config.path))
            if "default" not in decl:
                raise TfError("variable %s has no value: pass --var %s=..." % (self.where(name), name))
            return self.eval(decl["default"], self.where("default of var." + name))

        return self.cached(("var", name), compute)

    def local(self, name):
        if name not in self.config.locals:
            raise TfError("no local %s in %s" % (name, self.config.path))
        return self.cached(("local", name), lambda: self.eval(self.config.locals[name], self.where("local." + name)))

    def module(self, name):
        def compute():
            block = self.config.modules.get(name)
            if block is None:
                raise TfError("no module %s in %s" % (name, self.config.path))
            if "for_each" in block:
                raise TfError("for_each on module %s is not supported" % self.where(name))
            source = self.eval(block["source"], self.where("module %s source" % name))
            path = os.path.join(self.config.path, source)
            inputs = {k: (self, v) for k, v in block.items() if k not in META and not k.startswith("__")}
            address = (self.address + "." if self.address else "") + "module." + name
            if "count" in block:
                n = self.eval(block["count"], self.where("count of module." + name))
                return [Module(self.ev, path, "%s[%d]" % (address, i), inputs, self, i) for i in range(n)]
            return Module(self.ev, path, address, inputs, self)

        return self.cached(("module", name), compute)

    def get(self, key):
        """module.NAME.OUTPUT"""
        def compute():
            out = self.config.outputs.get(key)
            if out is None:
                raise TfError("no output %s in %s" % (key, self.config.path))
            return self.eval(out["value"], self.where("output " + key))

        return self.cached(("output", key), compute)

    def resource(self, rtype, name):
        key = (rtype, name)
        if key not in self.config.resources:
            raise TfError("no resource %s.%s in %s" % (rtype, name, self.config.path))

        def compute():
            body = self.config.resources[key]
            if "for_each" in body:
                # A map (each.key, each.value) or a set of strings (each.key
                # and each.value both the element): instances by key, as
                # aws_x.name["key"] reads them.
                items = self.eval(body["for_each"], self.where("for_each of %s.%s" % key))
                if isinstance(items, Unknown):
                    raise TfError("for_each of %s needs %s, which only AWS knows" % (self.where("%s.%s" % key), items.what))
                if isinstance(items, list):
                    if not all(isinstance(i, str) for i in items):
                        raise TfError("for_each of %s: a list must be a set of strings (toset)" % self.where("%s.%s" % key))
                    items = {i: i for i in items}
                if not isinstance(items, dict):
                    raise TfError("for_each of %s is %r, not a map or a set" % (self.where("%s.%s" % key), items))
                return {k: Resource(self, rtype, name, body, k, each={"key": k, "value": v}) for k, v in items.items()}
            if "count" in body:
                n = self.eval(body["count"], self.where("count of %s.%s" % key))
                return [Resource(self, rtype, name, body, i) for i in range(n)]
            return Resource(self, rtype, name, body, None)

        return self.cached(("resource",) + key, compute)

    def all_modules(self):
        """This instance and every module instance under it."""
        yield self
        for name in self.config.modules:
            child = self.module(name)
            for inst in child if isinstance(child, list) else [child]:
                yield from inst.all_modules()

    def all_resources(self, rtype):
        for (t, name) in self.config.resources:
            if t == rtype:
                found = self.resource(t, name)
                if isinstance(found, dict):
                    found = [found[k] for k in sorted(found)]
                yield from found if isinstance(found, list) else [found]

    def eval(self, raw, where, scope=None):
        try:
            return self.ev.evaluate(parse_value(raw), self, scope or {})
        except TfError as e:
            if str(e).startswith("in "):
                raise
            raise TfError("in %s: %s" % (where, e)) from None


class Resource(Ref):
    """One resource instance: its attributes as written, evaluated on demand,
    and what the provider (the local AWS) made of it once applied."""

    def __init__(self, module, rtype, name, body, index, each=None):
        """index: count.index, or with `each` (for_each) the instance's key."""
        self.module, self.type, self.name, self.body, self.index = module, rtype, name, body, index
        self.each = each
        self.applied = None

    @property
    def address(self):
        if self.each is not None:
            key = "[%s]" % json.dumps(self.index)
        else:
            key = "" if self.index is None else "[%d]" % self.index
        return (self.module.address + "." if self.module.address else "") + "%s.%s%s" % (self.type, self.name, key)

    def scope(self, extra=None):
        if self.each is not None:
            scope = {"each": self.each}
        else:
            scope = {"count": {"index": self.index}} if self.index is not None else {}
        scope.update(extra or {})
        return scope

    def attr(self, name, default=None, scope=None):
        """An argument as written in the resource block, evaluated."""
        body = self.body if scope is None else scope["__block__"]
        if name not in body:
            return default
        return self.module.eval(body[name], "%s.%s" % (self.address, name), self.scope(scope))

    def blocks(self, name, scope=None):
        """Nested blocks of that name, `dynamic` ones expanded, each as a
        scope that attr() reads with `scope=`."""
        body = self.body if scope is None else scope["__block__"]
        base = dict(scope or {})
        out = [dict(base, __block__=b) for b in body.get(name, []) if isinstance(b, dict)]
        for dyn in body.get("dynamic", []):
            for label, spec in dyn.items():
                if unquote(label) != name:
                    continue
                items = self.module.eval(spec["for_each"], "dynamic %s of %s" % (name, self.address), self.scope(base))
                pairs = items.items() if isinstance(items, dict) else enumerate(items)
                for key, value in pairs:
                    content = spec["content"][0] if isinstance(spec["content"], list) else spec["content"]
                    out.append(dict(base, __block__=content, **{name: {"key": key, "value": value}}))
        return out

    def get(self, key):
        if self.applied is None:
            self.module.ev.apply(self)
        if key in self.applied:
            return self.applied[key]
        if key in self.body:
            return self.attr(key)
        return Unknown("%s.%s" % (self.address, key))


# --- evaluation -------------------------------------------------------------


def tf_str(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (int, float, str)):
        return str(v)
    raise TfError("cannot use %r as a string" % (v,))


def tf_format(spec, *args):
    args, out, i = list(args), [], 0
    for m in re.finditer(r"%(%|[-+ #0-9.]*[sdvqft])", spec):
        out.append(spec[i : m.start()])
        i = m.end()
        if m.group(1) == "%":
            out.append("%")
        else:
            value = args.pop(0)
            out.append(json.dumps(value) if m.group(1).endswith("q") else tf_str(value))
    out.append(spec[i:])
    return "".join(out)


def tf_replace(s, old, new):
    if len(old) > 1 and old.startswith("/") and old.endswith("/"):
        return re.sub(old[1:-1], re.sub(r"\$\{?(\d+)\}?", r"\\\1", new), s)
    return s.replace(old, new)


def first_unknown(value):
    """The first Unknown inside a value (lists and maps searched), or None."""
    if isinstance(value, Unknown):
        return value
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return next((u for u in map(first_unknown, items) if u is not None), None)


def render_template(text, variables, where="template"):
    """templatefile() of a template written with plain ${name} placeholders
    (the IAM policy templates under infra/policies): each replaced by its
    variable as a string ($${ stays a literal ${). A directive (%{ }) or an
    expression is refused; a variable only AWS knows makes the whole result
    unknown."""
    if "%{" in text.replace("%%{", ""):
        raise TfError("%s: template directives are not supported" % where)
    unknown = next((v for v in variables.values() if isinstance(v, Unknown)), None)
    if unknown is not None:
        return unknown

    def value(m):
        if m.group(1):
            return "${" + m.group(2) + "}"
        name = m.group(2)
        if not re.fullmatch(r"\w+", name):
            raise TfError("%s: ${%s}: only plain names are supported" % (where, name))
        if name not in variables:
            raise TfError("%s: ${%s} is not given" % (where, name))
        return tf_str(variables[name])

    return re.sub(r"\$(\$?)\{([^}]*)\}", value, text)


FUNCTIONS = {
    "format": tf_format,
    "jsonencode": lambda v: first_unknown(v) or json.dumps(v, separators=(",", ":")),
    "jsondecode": json.loads,
    "tostring": lambda v: None if v is None else tf_str(v),
    "tonumber": lambda v: None if v is None else (float(v) if "." in str(v) else int(v)),
    "tobool": lambda v: v if isinstance(v, bool) or v is None else v == "true",
    "tolist": list,
    "toset": lambda v: sorted(set(v), key=str),
    "tomap": dict,
    "coalesce": lambda *a: next(v for v in a if v is not None and v != ""),
    "one": lambda v: None if not v else v[0] if len(v) == 1 else (_ for _ in ()).throw(TfError("one() of %d" % len(v))),
    "replace": tf_replace,
    "lower": str.lower,
    "upper": str.upper,
    "trimspace": str.strip,
    "startswith": str.startswith,
    "endswith": str.endswith,
    "join": lambda sep, items: sep.join(tf_str(i) for i in items),
    "split": lambda sep, s: s.split(sep),
    "concat": lambda *lists: first_unknown(list(lists)) if any(isinstance(v, Unknown) for v in lists) else [x for lst in lists for x in lst],
    "merge": lambda *maps: first_unknown(list(maps)) if any(isinstance(v, Unknown) for v in maps) else {k: v for m in maps if m for k, v in m.items()},
    "compact": lambda items: [i for i in items if i is not None and i != ""],
    "length": len,
    "lookup": lambda m, k, *d: m[k] if k in m else d[0],
    "contains": lambda coll, v: v in coll,
    "keys": lambda m: sorted(m),
    "values": lambda m: [m[k] for k in sorted(m)],
    "min": min,
    "max": max,
    "abs": abs,
    "ceil": lambda v: -int(-v // 1),
    "floor": lambda v: int(v // 1),
    "substr": lambda s, o, n: s[o:] if n < 0 else s[o : o + n],
    "element": lambda items, i: items[i % len(items)],
    "distinct": lambda items: list(dict.fromkeys(items)),
    "flatten": lambda items: [x for i in items for x in (i if isinstance(i, list) else [i])],
    "sort": lambda items: sorted(items),
}


class Evaluator:
    """Evaluates the root module at `path` with `variables` (name -> value),
    calling `provider(resource) -> dict` when a resource's result is first
    needed: the attributes AWS would report (arn, id, url, ...)."""

    def __init__(self, path, variables, provider, account="123456789012", region="us-east-1"):
        self.account, self.region, self.provider = account, region, provider
        self.root = Module(self, path, "", {}, None)
        for name, value in variables.items():
            decl = self.root.config.variables.get(name)
            if decl is None:
                raise TfError("no variable %s in %s" % (name, path))
            if "type" in decl:
                value = self.typed(value, parse_value(decl["type"]), "var." + name)
            self.root.values[("var", name)] = value

    def typed(self, value, node, where):
        """A value given for a variable, as its type constraint makes it: the
        attributes an object type declares optional() get their default (or
        null) when left out, in lists, sets, maps and objects at any depth.
        Other conversions (a number given as a string) are left to Terraform."""
        if value is None:
            return None
        kind = node[0]
        if kind == "call" and node[1] in ("list", "set", "tuple") and isinstance(value, list):
            return [self.typed(v, node[2][0], where) for v in value] if node[1] != "tuple" else value
        if kind == "call" and node[1] == "map" and isinstance(value, dict):
            return {k: self.typed(v, node[2][0], where) for k, v in value.items()}
        if kind == "call" and node[1] == "object" and isinstance(value, dict):
            (attrs,) = node[2]
            out = dict(value)
            for key, spec in attrs[1]:
                attr = key[1]
                optional = spec[0] == "call" and spec[1] == "optional"
                inner = spec[2][0] if optional else spec
                if attr not in out and not optional:
                    raise TfError("%s: attribute %r is required" % (where, attr))
                if out.get(attr) is None and optional:
                    out[attr] = self.evaluate(spec[2][1], None, {}) if len(spec[2]) > 1 else None
                out[attr] = self.typed(out[attr], inner, "%s.%s" % (where, attr))
            return out
        return value

    def apply(self, resource):
        resource.applied = {}  # a reference back to itself while applying reads the block
        resource.applied = self.provider(resource) or {}

    def data(self, module, dtype, name):
        if dtype == "aws_caller_identity":
            return {"account_id": self.account, "arn": "arn:aws:iam::%s:root" % self.account}
        if dtype == "aws_partition":
            return {"partition": "aws", "dns_suffix": "amazonaws.com"}
        if dtype == "aws_region":
            return {"name": self.region, "region": self.region}
        return Namespace(lambda key: Unknown("data.%s.%s.%s" % (dtype, name, key)))

    def reference(self, name, module, scope):
        if name in scope:
            return scope[name]
        if name == "var":
            return Namespace(module.var)
        if name == "local":
            return Namespace(module.local)
        if name == "module":
            return Namespace(module.module)
        if name == "path":
            return {"module": module.config.path, "root": self.root.config.path, "cwd": os.getcwd()}
        if name == "terraform":
            return {"workspace": "default"}
        if name == "data":
            return Namespace(lambda dtype: Namespace(lambda dname: self.data(module, dtype, dname)))
        if name == "count" and "count" in scope:
            return scope["count"]
        if any(t == name for t, _ in module.config.resources):
            return Namespace(lambda rname: module.resource(name, rname))
        raise TfError("unknown reference %r" % name)

    def index(self, value, key):
        if isinstance(value, Unknown):
            return value
        if isinstance(value, Ref):
            return value.get(key)
        if isinstance(value, dict):
            if key not in value:
                raise TfError("no key %r in %s" % (key, sorted(value)))
            return value[key]
        if isinstance(value, list):
            return value[int(key)]
        raise TfError("cannot index %r with %r" % (value, key))

    def evaluate(self, node, module, scope):
        kind = node[0]
        ev = lambda n, s=scope: self.evaluate(n, module, s)  # noqa: E731
        if kind == "lit":
            return node[1]
        if kind == "template":
            parts = [p if isinstance(p, str) else ev(p) for p in node[1]]
            if len(parts) == 1 and not isinstance(node[1][0], str):
                return parts[0]
            unknown = next((p for p in parts if isinstance(p, Unknown)), None)
            return unknown or "".join(tf_str(p) for p in parts)
        if kind == "ref":
            return self.reference(node[1], module, scope)
        if kind == "index":
            return self.index(ev(node[1]), ev(node[2]))
        if kind == "splat":
            base = ev(node[1])
            items = base if isinstance(base, list) else [] if base is None else [base]
            return [ev(node[2], dict(scope, splatvar=i)) for i in items]
        if kind == "splatvar":
            return scope["splatvar"]
        if kind == "tuple":
            return [ev(i) for i in node[1]]
        if kind == "object":
            return {tf_str(ev(k)): ev(v) for k, v in node[1]}
        if kind == "cond":
            cond = ev(node[1])
            if isinstance(cond, Unknown):
                return cond
            return ev(node[2] if cond else node[3])
        if kind == "unop":
            v = ev(node[2])
            return v if isinstance(v, Unknown) else (not v if node[1] == "!" else -v)
        if kind == "binop":
            return self.binop(node[1], ev(node[2]), lambda: ev(node[3]))
        if kind == "call" and node[1] == "try":
            return self.try_(node[2], module, scope)
        if kind == "call":
            args = []
            for a in node[2]:
                args.extend(ev(a[1]) if a[0] == "expand" else [ev(a)])
            return self.call(node[1], args, module)
        if kind == "for":
            return self.for_expr(node, module, scope)
        raise TfError("cannot evaluate %r" % (kind,))

    def try_(self, args, module, scope):
        """try(a, b, ...): the first argument that evaluates without an
        error (a missing key or attribute), as Terraform's; evaluated one at
        a time, so a later one is not evaluated at all. One only AWS knows
        is passed over for the next, as before."""
        error, last = None, None
        for a in args:
            try:
                value = self.evaluate(a, module, scope)
            except TfError as e:
                error = e
                continue
            if not isinstance(value, Unknown):
                return value
            last = value
        if last is not None:
            return last
        raise error or TfError("try() with no argument")

    def binop(self, op, left, right):
        if op == "&&":
            return left and right()
        if op == "||":
            return left or right()
        right = right()
        if isinstance(left, Unknown) or isinstance(right, Unknown):
            return left if isinstance(left, Unknown) else right
        ops = {
            "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
            "<": lambda a, b: a < b, ">": lambda a, b: a > b,
            "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b,
            "+": lambda a, b: a + b, "-": lambda a, b: a - b,
            "*": lambda a, b: a * b, "/": lambda a, b: a / b, "%": lambda a, b: a % b,
        }
        return ops[op](left, right)

    def call(self, name, args, module):
        if name in ("file", "templatefile", "filemd5", "filebase64sha256", "fileexists"):
            path = args[0]
            if name == "fileexists":
                return os.path.exists(path)
            if name == "file":
                with open(path) as f:
                    return f.read()
            if name == "templatefile":
                with open(path) as f:
                    return render_template(f.read(), args[1], path)
            return Unknown("%s(%s)" % (name, path))
        unknown = next((a for a in args if isinstance(a, Unknown)), None)
        if unknown is not None and name not in ("coalesce", "merge", "concat", "compact", "one", "length"):
            return unknown
        if name not in FUNCTIONS:
            raise TfError("function %s() is not supported" % name)
        try:
            return FUNCTIONS[name](*args)
        except (TypeError, ValueError, KeyError, IndexError, StopIteration) as e:
            raise TfError("%s(%s): %s" % (name, ", ".join(repr(a) for a in args), e)) from None

    def for_expr(self, node, module, scope):
        _, close, names, source, key, value, cond = node
        items = self.evaluate(source, module, scope)
        if isinstance(items, Unknown):
            return items
        pairs = items.items() if isinstance(items, dict) else enumerate(items)
        out = {} if close == "}" else []
        for k, v in pairs:
            inner = dict(scope)
            if len(names) == 2:
                inner[names[0]], inner[names[1]] = k, v
            else:
                inner[names[0]] = v
            if cond is not None and not self.evaluate(cond, module, inner):
                continue
            if close == "}":
                out[tf_str(self.evaluate(key, module, inner))] = self.evaluate(value, module, inner)
            else:
                out.append(self.evaluate(key, module, inner))
        return out
