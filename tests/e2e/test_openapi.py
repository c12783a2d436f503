#!/usr/bin/python3
"""docs/openapi.yaml documents exactly the routes of the user and product services.

Runs `<bindir>/<service>-fcgi --routes` for every service of SERVICES (bindir:
$MS_BINDIR, default `bin`, relative to the repository root) and checks that the
set of (METHOD, path) the routers serve equals the set of operations in
docs/openapi.yaml (`/api/users/:id` is `/api/users/{id}` there), and that no
route is served by two services. The document may also describe nginx's own
`GET /health`, which no pool serves; nothing else may be extra. It also checks
that every operation documents a 2xx response, that every operation using the
bearer scheme documents 401, that the access each route requires (public, auth,
admin) agrees with the operation's `security`, and that every `$ref` resolves.

Needs no cluster, no network and nothing beyond the Python standard library:
the document is read with the small YAML reader below (block mappings and
sequences, literal block scalars, flow collections, quoted and plain scalars —
what the document uses). When PyYAML happens to be installed, one more test
checks that PyYAML reads the document to exactly the same value.

    python3 tests/e2e/test_openapi.py [-v]
    MS_BINDIR=build/san/bin python3 -m unittest tests/e2e/test_openapi.py
"""

import os
import re
import subprocess
import unittest

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DOC = os.path.join(ROOT, "docs", "openapi.yaml")

# Served by nginx itself (location = /health), not by a pool: the only
# operation the document may have beyond the router's routes.
NGINX_ONLY = {("GET", "/health")}
# The services whose routers the document covers (<service>-fcgi --routes):
# every service of services.list, so a new one must be documented.
SERVICES = harness.SERVICES
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


# ---- a reader for the YAML subset of docs/openapi.yaml ----------------------

class YamlError(Exception):
    pass


_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$")
_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+)$")
_NULLS = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"}
_FALSE = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"}


def _plain(s):
    """A plain scalar resolved as YAML 1.1 (PyYAML) does for the common types."""
    s = s.strip()
    if s in _NULLS:
        return None
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    if _INT.match(s):
        return int(s.replace("_", ""))
    if _FLOAT.match(s):
        return float(s.replace("_", ""))
    if re.match(r"^\d{4}-\d\d?-\d\d?", s):
        raise YamlError("unquoted date or timestamp %r: quote it" % s)
    if s[:1] in ("&", "*", "!", "%", "@", "`"):
        raise YamlError("unsupported YAML construct in %r" % s)
    return s


def _dq_unescape(body):
    out, i = [], 0
    simple = {"\\": "\\", '"': '"', "/": "/", "n": "\n", "t": "\t", "r": "\r", "0": "\0",
              " ": " "}
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1:i + 2]
        if e in simple:
            out.append(simple[e])
            i += 2
        elif e == "u":
            out.append(chr(int(body[i + 2:i + 6], 16)))
            i += 6
        else:
            raise YamlError("unsupported escape \\%s" % e)
    return "".join(out)


def _quoted_end(s, i):
    """Index just past the quoted scalar starting at s[i]."""
    q = s[i]
    j = i + 1
    while j < len(s):
        if q == "'" and s[j] == "'":
            if s[j + 1:j + 2] == "'":
                j += 2
                continue
            return j + 1
        if q == '"' and s[j] == "\\":
            j += 2
            continue
        if q == '"' and s[j] == '"':
            return j + 1
        j += 1
    raise YamlError("unterminated quoted scalar: %s" % s)


def _quoted_value(text):
    if text[0] == "'":
        return text[1:-1].replace("''", "'")
    return _dq_unescape(text[1:-1])


def _strip_comment(s):
    """s without a trailing ' #…' comment that lies outside quotes."""
    i = 0
    while i < len(s):
        if s[i] in "'\"" and (i == 0 or s[i - 1] in " [{,:"):
            i = _quoted_end(s, i)
            continue
        if s[i] == "#" and (i == 0 or s[i - 1] in " \t"):
            return s[:i].rstrip()
        i += 1
    return s.rstrip()


def _scalar(s):
    s = _strip_comment(s.strip())
    if s[:1] in ("'", '"'):
        end = _quoted_end(s, 0)
        if s[end:].strip():
            raise YamlError("text after a quoted scalar: %s" % s)
        return _quoted_value(s)
    return _plain(s)


class _Flow:
    """[a, b] and {k: v} with quoted or plain scalars, nested."""

    def __init__(self, s):
        self.s, self.i = s, 0

    def ws(self):
        while self.i < len(self.s) and self.s[self.i] in " \t\n":
            self.i += 1

    def value(self, in_map_key=False):
        self.ws()
        c = self.s[self.i:self.i + 1]
        if c == "[":
            return self.seq()
        if c == "{":
            return self.mapping()
        if c in ("'", '"'):
            end = _quoted_end(self.s, self.i)
            v = _quoted_value(self.s[self.i:end])
            self.i = end
            return v
        start = self.i
        while self.i < len(self.s):
            ch = self.s[self.i]
            if ch in ",]}":
                break
            if ch == ":" and self.s[self.i + 1:self.i + 2] in (" ", ",", "}", "]", ""):
                break
            self.i += 1
        return _plain(self.s[start:self.i])

    def expect(self, ch):
        self.ws()
        if self.s[self.i:self.i + 1] != ch:
            raise YamlError("expected %r at %d in %s" % (ch, self.i, self.s))
        self.i += 1

    def seq(self):
        self.expect("[")
        out = []
        self.ws()
        if self.s[self.i:self.i + 1] == "]":
            self.i += 1
            return out
        while True:
            out.append(self.value())
            self.ws()
            if self.s[self.i:self.i + 1] == ",":
                self.i += 1
                continue
            self.expect("]")
            return out

    def mapping(self):
        self.expect("{")
        out = {}
        self.ws()
        if self.s[self.i:self.i + 1] == "}":
            self.i += 1
            return out
        while True:
            k = self.value(in_map_key=True)
            self.expect(":")
            out[k] = self.value()
            self.ws()
            if self.s[self.i:self.i + 1] == ",":
                self.i += 1
                continue
            self.expect("}")
            return out

    def parse(self):
        v = self.value()
        self.ws()
        if self.i != len(self.s):
            raise YamlError("text after a flow collection: %s" % self.s)
        return v


def _balanced(s):
    depth, i = 0, 0
    while i < len(s):
        c = s[i]
        if c in "'\"":
            i = _quoted_end(s, i)
            continue
        if c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
        i += 1
    return depth == 0


def _split_key(content):
    """(key, rest) of 'key: rest' / 'key:', or None when content is no mapping
    entry. A quoted key stays a string; a plain one is resolved (200 → int)."""
    if content[:1] in ("'", '"'):
        end = _quoted_end(content, 0)
        if content[end:end + 1] != ":" or content[end + 1:end + 2] not in ("", " "):
            return None
        return _quoted_value(content[:end]), content[end + 1:].strip()
    if content[:1] in ("[", "{", "-", "|", ">", "#"):
        return None
    m = re.match(r"^([^#]*?):(?: |$)", content)
    if not m:
        return None
    return _plain(m.group(1)), content[m.end():].strip()


class _Reader:
    def __init__(self, text):
        if "\t" in text:
            raise YamlError("tab characters are not supported")
        self.lines = text.split("\n")

    @staticmethod
    def indent(line):
        return len(line) - len(line.lstrip(" "))

    def skip(self, i):
        """Index of the next line with content (not blank, not a comment)."""
        while i < len(self.lines):
            s = self.lines[i].strip()
            if s and not s.startswith("#"):
                return i
            i += 1
        return i

    def block(self, i, ind):
        if self.lines[i].strip().startswith("- ") or self.lines[i].strip() == "-":
            return self.sequence(i, ind)
        return self.mapping(i, ind)

    def value(self, i, rest, ind):
        """The value after 'key:' on line i-1 (rest of that line); returns (value, next i)."""
        if rest == "":
            j = self.skip(i)
            if j < len(self.lines):
                jind = self.indent(self.lines[j])
                if jind > ind:
                    return self.block(j, jind)
                if jind == ind and self.lines[j].strip().startswith("-"):
                    return self.sequence(j, ind)
            return None, i
        if rest[0] in "|>":
            return self.literal(i, rest, ind)
        if rest[0] in "[{":
            text = _strip_comment(rest)
            while not _balanced(text):
                if i >= len(self.lines):
                    raise YamlError("unterminated flow collection: %s" % rest)
                text += " " + _strip_comment(self.lines[i].strip())
                i += 1
            return _Flow(text).parse(), i
        # a plain or quoted scalar, possibly folded over more-indented lines
        parts = [rest]
        j = self.skip(i)
        while j < len(self.lines) and self.indent(self.lines[j]) > ind and \
                rest[0] not in "'\"":
            parts.append(self.lines[j].strip())
            i = j + 1
            j = self.skip(i)
        return _scalar(" ".join(parts)), i

    def literal(self, i, header, ind):
        if header not in ("|", "|-"):
            raise YamlError("unsupported block scalar header %r" % header)
        body, content_ind = [], None
        while i < len(self.lines):
            line = self.lines[i]
            if line.strip() == "":
                body.append("")
                i += 1
                continue
            li = self.indent(line)
            if li <= ind:
                break
            if content_ind is None:
                content_ind = li
            if li < content_ind:
                break
            body.append(line[content_ind:])
            i += 1
        while body and body[-1] == "":
            body.pop()
        text = "\n".join(body)
        if header == "|" and text:
            text += "\n"
        return text, i

    def mapping(self, i, ind):
        out = {}
        i = self.skip(i)
        while i < len(self.lines):
            line = self.lines[i]
            li = self.indent(line)
            if li < ind:
                break
            if li > ind:
                raise YamlError("line %d: unexpected indentation" % (i + 1))
            content = line.strip()
            if content.startswith("-"):
                break
            kv = _split_key(content)
            if kv is None:
                raise YamlError("line %d: expected 'key: value': %s" % (i + 1, content))
            key, rest = kv
            if key in out:
                raise YamlError("line %d: duplicate key %r" % (i + 1, key))
            out[key], i = self.value(i + 1, _strip_comment(rest), ind)
            i = self.skip(i)
        return out, i

    def sequence(self, i, ind):
        out = []
        i = self.skip(i)
        while i < len(self.lines):
            line = self.lines[i]
            li = self.indent(line)
            content = line.strip()
            if li != ind or not (content.startswith("- ") or content == "-"):
                if li > ind:
                    raise YamlError("line %d: unexpected indentation" % (i + 1))
                break
            item = content[1:].lstrip(" ")
            col = ind + (len(content) - len(item))
            if item == "":
                j = self.skip(i + 1)
                v, i = self.block(j, self.indent(self.lines[j]))
            elif item.startswith("- ") or item == "-":
                # "- - x": a sequence whose items sit at the item's column
                self.lines[i] = " " * col + item
                v, i = self.sequence(i, col)
            elif _split_key(item) is not None:
                # "- key: value": a mapping whose keys sit at the item's column
                self.lines[i] = " " * col + item
                v, i = self.mapping(i, col)
            else:
                v, i = self.value(i + 1, item, ind)
            out.append(v)
            i = self.skip(i)
        return out, i


def load_yaml(text):
    """The document in text (a block mapping at the top)."""
    r = _Reader(text)
    i = r.skip(0)
    doc, i = r.mapping(i, 0)
    if r.skip(i) != len(r.lines):
        raise YamlError("line %d: not part of the document" % (r.skip(i) + 1))
    return doc


# ---- the router and the document -------------------------------------------

def bindir():
    return os.path.join(ROOT, os.environ.get("MS_BINDIR", "bin"))


_routes_cache = {}


def service_routes(service):
    """{(METHOD, path): access} from `<service>-fcgi --routes`, with :param as {param}."""
    if service in _routes_cache:
        return _routes_cache[service]
    exe = os.path.join(bindir(), service + "-fcgi")
    if not os.access(exe, os.X_OK):
        raise AssertionError("%s is missing: run make all (or set MS_BINDIR)" % exe)
    p = subprocess.run([exe, "--routes"], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=20)
    if p.returncode != 0:
        raise AssertionError("%s --routes exited %d: %s" % (exe, p.returncode, p.stderr))
    routes = {}
    for line in p.stdout.splitlines():
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 3:
            raise AssertionError("unexpected line from %s --routes: %r" % (exe, line))
        method, pattern, access = fields
        path = re.sub(r":([A-Za-z_][A-Za-z0-9_]*)", r"{\1}", pattern)
        if (method.upper(), path) in routes:
            raise AssertionError("%s --routes lists %s %s twice" % (exe, method, path))
        routes[(method.upper(), path)] = access
    if not routes:
        raise AssertionError("%s --routes printed no routes" % exe)
    _routes_cache[service] = routes
    return routes


def router_routes():
    """{(METHOD, path): access} of every service in SERVICES."""
    routes = {}
    for service in SERVICES:
        for key, access in service_routes(service).items():
            if key in routes:
                raise AssertionError("%s %s is routed by more than one service" % key)
            routes[key] = access
    return routes


def route_service():
    """{(METHOD, path): service}."""
    return {key: svc for svc in SERVICES for key in service_routes(svc)}


_doc_cache = {}


def document():
    if "doc" not in _doc_cache:
        with open(DOC, encoding="utf-8") as f:
            _doc_cache["doc"] = load_yaml(f.read())
    return _doc_cache["doc"]


def operations(doc):
    """{(METHOD, path): operation object}."""
    ops = {}
    for path, item in (doc.get("paths") or {}).items():
        for method, op in (item or {}).items():
            if method in HTTP_METHODS:
                ops[(method.upper(), path)] = op
    return ops


def resolve(doc, node):
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise AssertionError("external $ref %s" % ref)
        node = doc
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def bearer_schemes(doc):
    schemes = (doc.get("components") or {}).get("securitySchemes") or {}
    return {name for name, s in schemes.items()
            if s.get("type") == "http" and str(s.get("scheme", "")).lower() == "bearer"}


def effective_security(doc, op):
    return op["security"] if "security" in op else doc.get("security", [])


def fmt(pairs):
    return ", ".join("%s %s" % p for p in sorted(pairs)) or "(none)"


class OpenApiMatchesRouter(unittest.TestCase):
    def test_document_is_openapi_31(self):
        doc = document()
        self.assertTrue(str(doc.get("openapi", "")).startswith("3.1"), doc.get("openapi"))
        self.assertIn("paths", doc)
        self.assertTrue(bearer_schemes(doc), "no http bearer security scheme")

    def test_routes_equal_operations(self):
        routes = set(router_routes())
        ops = set(operations(document()))
        undocumented = routes - ops
        missing = (ops - routes) - NGINX_ONLY
        if undocumented or missing:
            owner = route_service()
            self.fail("the routers and docs/openapi.yaml disagree:"
                      "\n  routed but not in docs/openapi.yaml: %s"
                      "\n  in docs/openapi.yaml but not routed: %s"
                      % (", ".join("%s %s (%s)" % (k + (owner[k],)) for k in sorted(undocumented))
                         or "(none)", fmt(missing)))

    def test_every_service_is_covered(self):
        """Each service contributes routes, its health and metrics among them,
        and no two services claim the same route."""
        seen = {}
        for service in SERVICES:
            routes = service_routes(service)
            for key in routes:
                self.assertNotIn(key, seen, "%s %s is routed by %s and %s"
                                 % (key + (seen.get(key), service)))
                seen[key] = service
            for probe in (("GET", "/health/%s" % service), ("GET", "/metrics/%s" % service)):
                self.assertIn(probe, routes, "%s-fcgi does not route %s %s" % ((service,) + probe))
            self.assertTrue(any(path.startswith("/api/") for _, path in routes),
                            "%s-fcgi routes no /api/ path" % service)

    def test_every_operation_documents_2xx(self):
        bad = [k for k, op in operations(document()).items()
               if not any(str(code).startswith("2") for code in op.get("responses") or {})]
        if bad:
            self.fail("operations without a 2xx response: %s" % fmt(bad))

    def test_bearer_operations_document_401(self):
        doc = document()
        bearer = bearer_schemes(doc)
        bad = []
        for k, op in operations(doc).items():
            uses = any(set(req or {}) & bearer for req in effective_security(doc, op))
            if uses and "401" not in {str(c) for c in op.get("responses") or {}}:
                bad.append(k)
        if bad:
            self.fail("bearer operations without 401: %s" % fmt(bad))

    def test_access_agrees_with_security(self):
        """public routes allow anonymous calls; the others require the bearer
        scheme, and role-restricted ones document 403."""
        doc = document()
        bearer = bearer_schemes(doc)
        ops = operations(doc)
        bad = []
        for key, access in router_routes().items():
            op = ops.get(key)
            if op is None:
                continue  # reported by test_routes_equal_operations
            reqs = effective_security(doc, op)
            anonymous = not reqs or any(not req for req in reqs)
            all_bearer = bool(reqs) and all(set(req or {}) & bearer for req in reqs)
            codes = {str(c) for c in op.get("responses") or {}}
            if access == "public" and not anonymous:
                bad.append("%s %s is public but its security requires a token" % key)
            if access != "public" and not all_bearer:
                bad.append("%s %s needs a token (%s) but its security allows none"
                           % (key + (access,)))
            if access not in ("public", "auth") and "403" not in codes:
                bad.append("%s %s is restricted to %s but documents no 403" % (key + (access,)))
        if bad:
            self.fail("\n  " + "\n  ".join(bad))

    def test_refs_and_path_parameters(self):
        doc = document()
        bad = []

        def walk(node, where):
            if isinstance(node, dict):
                if "$ref" in node:
                    try:
                        resolve(doc, node)
                    except (KeyError, TypeError, AssertionError):
                        bad.append("%s: unresolved $ref %s" % (where, node["$ref"]))
                for k, v in node.items():
                    walk(v, "%s/%s" % (where, k))
            elif isinstance(node, list):
                for n, v in enumerate(node):
                    walk(v, "%s/%d" % (where, n))

        walk(doc, "#")
        for path, item in (doc.get("paths") or {}).items():
            wanted = set(re.findall(r"\{([^}]+)\}", path))
            for method, op in item.items():
                if method not in HTTP_METHODS:
                    continue
                params = [resolve(doc, p) for p in
                          (item.get("parameters") or []) + (op.get("parameters") or [])]
                declared = {p.get("name") for p in params
                            if p.get("in") == "path" and p.get("required") is True}
                if declared != wanted:
                    bad.append("%s %s: path parameters %s, declared %s"
                               % (method.upper(), path, sorted(wanted), sorted(declared)))
                for code, resp in (op.get("responses") or {}).items():
                    if "description" not in resolve(doc, resp):
                        bad.append("%s %s %s: response without description"
                                   % (method.upper(), path, code))
        if bad:
            self.fail("\n  " + "\n  ".join(bad))


try:
    import yaml  # noqa: E402  (optional: not a dependency of the project)
except ImportError:  # pragma: no cover
    yaml = None


class ReaderAgreesWithPyYaml(unittest.TestCase):
    @unittest.skipIf(yaml is None, "PyYAML is not installed")
    def test_same_document(self):
        with open(DOC, encoding="utf-8") as f:
            text = f.read()
        self.assertEqual(load_yaml(text), yaml.safe_load(text))


if __name__ == "__main__":
    unittest.main()
