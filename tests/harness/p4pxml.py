"""Builders of P4P XML v1 documents (docs/PROTOCOL.md) for the tests, the
fake portal and the benchmark's files.

Each builder returns the document as UTF-8 bytes, indented as the examples
in docs/examples are.  Values are written as given where they are strings
(so a test can send what no writer should: "-1", "NaN"), numbers in the
shortest form that reads back to the same double ("1", "0.6", "1e-05").

A matrix is (pids, cells): pids the names in order, cells either a dict
{(from, to): value} or dense rows (cells[i][j] from pids[i] to pids[j]).
Zero cells are left out, as writers do ("an absent entry is 0")."""
from xml.sax.saxutils import escape

NS = "urn:opentracker-p4p:p4p:1"
CT = "application/p4p+xml"
HEAD = '<?xml version="1.0" encoding="UTF-8"?>'


def num(v):
    """A value as the protocol writes it; strings pass unchanged."""
    if isinstance(v, str):
        return v
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e16:
            return "%d" % v
        return repr(v)
    return str(v)


def _attrs(pairs):
    """' k="v"' for each (k, v) whose v is not None, in order."""
    return "".join(' %s="%s"' % (k, escape(v if isinstance(v, str) else num(v), {'"': "&quot;"}))
                   for k, v in pairs if v is not None)


def _doc(root, attrs, body, empty=False):
    open_tag = "<%s%s" % (root, _attrs([("xmlns", NS)] + list(attrs)))
    if empty:
        return ("%s\n%s/>\n" % (HEAD, open_tag)).encode()
    lines = [HEAD, open_tag + ">"] + ["  " + line for line in body] + ["</%s>" % root]
    return ("\n".join(lines) + "\n").encode()


def _cells(pids, cells):
    if hasattr(cells, "items"):
        return [(f, t, v) for (f, t), v in cells.items()]
    return [(pids[i], pids[j], v) for i, row in enumerate(cells) for j, v in enumerate(row)]


def matrix_lines(pids, cells):
    """<pids> and the non-zero <entry> lines of one matrix, unindented."""
    out = ["<pids>%s</pids>" % " ".join(pids)]
    for f, t, v in _cells(pids, cells):
        if isinstance(v, str) or v != 0:
            out.append("<entry%s/>" % _attrs([("from", f), ("to", t), ("value", v)]))
    return out


def _block(tag, attrs, matrix):
    return ["<%s%s>" % (tag, _attrs(attrs))] + ["  " + line for line in matrix_lines(*matrix)] + ["</%s>" % tag]


def pidmap(pids, version=None):
    """pids: (name, asid, prefixes[, loc]) each; loc None = left out."""
    body = []
    for p in pids:
        name, asid, prefixes = p[:3]
        loc = p[3] if len(p) > 3 else None
        body.append("<pid%s>" % _attrs([("name", name), ("asid", asid), ("loc", loc)]))
        body += ["  <prefix>%s</prefix>" % escape(x) for x in prefixes]
        body.append("</pid>")
    return _doc("pidmap", [("version", version)], body)


def costs(pids, cells, version=None):
    return _doc("costs", [("version", version)], matrix_lines(pids, cells))


def guidance(default=None, swarms=(), version=None):
    """default: a matrix or None; swarms: (info_hash, pids, cells) each."""
    body = _block("default", [], default) if default else []
    for info_hash, pids, cells in swarms:
        body += _block("swarm", [("info-hash", info_hash)], (pids, cells))
    return _doc("guidance", [("version", version)], body)


def stats(swarms):
    """swarms: {info_hash: [(pid, seeders, leechers, up_kbps, down_kbps)]}
    (or (info_hash, rows) pairs); a rate None is unknown: left out."""
    body = []
    for info_hash, rows in (swarms.items() if hasattr(swarms, "items") else swarms):
        body.append("<swarm%s>" % _attrs([("info-hash", info_hash)]))
        for pid, seeders, leechers, up, down in rows:
            body.append("  <pid%s/>" % _attrs([("name", pid), ("seeders", seeders), ("leechers", leechers),
                                               ("up-kbps", up), ("down-kbps", down)]))
        body.append("</swarm>")
    return _doc("stats", [], body)


def capability(servers):
    """servers: (pid, kind, addr, port, capacity_kbps) each."""
    return _doc("capability", [], ["<server%s/>" % _attrs(zip(("pid", "kind", "addr", "port", "capacity-kbps"), s))
                                   for s in servers])


def capability_request(info_hash, pid, count):
    """pid None or "" = any PID: the attribute is left out."""
    return _doc("capability-request", [("info-hash", info_hash), ("pid", pid or None), ("count", count)], [],
                empty=True)


def lookup_request(addrs, info_hash=None):
    return _doc("lookup-request", [("info-hash", info_hash)], ["<addr>%s</addr>" % escape(a) for a in addrs])


def error(status, text):
    """The <error> body a portal sends with an HTTP error status."""
    return ('%s\n<error%s>%s</error>\n' % (HEAD, _attrs([("xmlns", NS), ("status", status)]), escape(text))).encode()
