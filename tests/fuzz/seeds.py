#!/usr/bin/python3
"""Writes the fuzz targets' seed corpora, tests/fuzz/corpus/<target>/, from
the documented examples and test data (so a seed is never hand-edited and
its origin is known):

  xml_<kind>        docs/examples/<kind>.xml; deploy/example/*.xml; the
                    refused fixtures of tests/data/xml/ for their parser
  legacy_pidmap     the Yale captures' bodies (tests/data/yale-portal/)
  legacy_pdistance  the same for /pdistance
  provider          deploy/providers/*.conf, deploy/example/abilene-loopback.conf
  config            the p4p.* lines of deploy/example/*.conf, every key of
                    docs/TRACKER.md with a typical value
  http              announces, scrapes and /stats requests, each after the
                    4 bytes that choose the client's address (fuzz_http.c)
  alto              tests/data/alto/*.json (the RFC 7285 examples), when present

Run from anywhere: tests/fuzz/seeds.py (it replaces the corpus dirs).
"""
import hashlib
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(HERE, "corpus")


def read(*rel):
    with open(os.path.join(TOP, *rel), "rb") as f:
        return f.read()


def capture_body(name):
    return read("tests", "data", "yale-portal", name).split(b"\r\n\r\n", 1)[1]


def put(target, data, name=None):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = name or hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


KINDS = {"pidmap": "pidmap", "lookup_request": "lookup-request", "lookup": "lookup",
         "costs": "costs", "guidance": "guidance", "stats": "stats",
         "capability": "capability", "capability_request": "capability-request",
         "error": "error"}
# tests/data/xml fixtures by the parser that refuses them (its README)
FIXTURES = {
    "pidmap": ["truncated", "wrong-ns", "no-ns", "wrong-root", "bad-prefix-hostbits",
               "bad-prefix-syntax", "dup-pid", "dup-prefix", "unknown-attr",
               "undefined-entity", "xxe", "billion-laughs", "external-dtd", "xinclude",
               "ebcdic-attrs", "utf16-attrs", "latin1-decl"],
    "costs": ["unknown-pid", "dup-entry", "nan"],
    "guidance": ["negative-weight", "bad-hash"],
}


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    for target, doc in KINDS.items():
        put("xml_" + target, read("docs", "examples", doc + ".xml"), doc + ".xml")
        for fx in FIXTURES.get(target, []):
            put("xml_" + target, read("tests", "data", "xml", fx + ".xml"), fx + ".xml")
        # an <error> answer where this kind was expected
        if target != "error":
            put("xml_" + target, read("docs", "examples", "error.xml"), "error.xml")
    put("xml_pidmap", read("deploy", "example", "pidmap.xml"), "deploy-pidmap.xml")
    put("xml_guidance", read("deploy", "example", "guidance.xml"), "deploy-guidance.xml")

    put("legacy_pidmap", capture_body("01-get-pid-map.curl.txt"), "yale-pid-map")
    put("legacy_pidmap", b"x.i.isp 1  10.0.0.0/8\n\n y.i.isp\t0\n", "lf-blanks")
    put("legacy_pdistance", capture_body("06-get-pdistance.curl.txt"), "yale-pdistance")
    put("legacy_pdistance", read("tests", "data", "yale-portal",
                                 "07-post-pdistance-spec-example.request-body.txt"), "spec-example")
    put("legacy_pdistance", b"a\tinc-reverse\t1\tb\t3\t4\r\nb\tno-reverse\t1\ta\t2\r\n", "inc-reverse")

    for p in ("abilene.conf", "attmpls.conf"):
        put("provider", read("deploy", "providers", p), p)
    put("provider", read("deploy", "example", "abilene-loopback.conf"), "abilene-loopback.conf")

    lines = []
    for c in ("opentracker.conf", "opentracker-files.conf"):
        lines += [l for l in read("deploy", "example", c).splitlines() if l.startswith(b"p4p.")]
    put("config", b"\n".join(lines) + b"\n", "deploy-examples")
    put("config", b"\n".join([
        b"p4p.enable yes", b"p4p.pidmap /nonexistent/pidmap.xml",
        b"p4p.guidance /nonexistent/guidance.xml", b"p4p.random_fraction 0.25",
        b"p4p.intra_provider_share 0.6", b"p4p.capability_peers 2",
        b"p4p.report_interval 30", b"p4p.provider isp https://127.0.0.1:6671",
        b"p4p.provider old http://[::1]:8080/ legacy",
        b"p4p.provider.isp.token 0123456789abcdef", b"p4p.provider.isp.interfaces info,policy,guidance,capability",
        b"p4p.provider.isp.refresh 60", b"p4p.provider.isp.max_staleness 3600",
        b"p4p.provider.isp.timeout_ms 2000", b"p4p.provider.isp.max_body 1048576",
        b"p4p.provider.isp.report_swarms 100", b"p4p.provider.isp.backoff_max 300",
        b"p4p.provider.isp.ca_file /etc/ssl/certs/ca-certificates.crt"]) + b"\n", "every-key")

    # ALTO (when the tree has it): the RFC 7285 examples of tests/data/alto
    alto = os.path.join(TOP, "tests", "data", "alto")
    if os.path.isdir(alto):
        for name in sorted(os.listdir(alto)):
            if name.endswith(".json"):
                put("alto", read("tests", "data", "alto", name), name)

    h = b"%C3" * 20
    pid = b"-XX0001-" + b"a" * 12
    v4 = b"\x0a\x01\x02\x03"     # ::ffff:10.1.2.3 (PID near)
    v4far = b"\x0a\x81\x02\x03"  # ::ffff:10.129.2.3 (PID far)
    v6 = b"\x80\x00\x01\x05"     # 2001:db8:1::5
    reqs = [
        (v4, b"GET /announce?info_hash=" + h + b"&peer_id=" + pid + b"&port=6881&left=0&numwant=20&compact=1 HTTP/1.1\r\nHost: t\r\n\r\n"),
        (v4far, b"GET /announce?info_hash=" + h + b"&port=6882&left=10&event=started HTTP/1.0\r\n\r\n"),
        (v6, b"GET /announce?info_hash=" + h + b"&port=51413&left=5&event=completed&numwant=200 HTTP/1.1\r\nConnection: keep-alive\r\n\r\n"),
        (v4, b"GET /announce?info_hash=" + h + b"&port=6881&event=stopped HTTP/1.1\r\n\r\n"),
        (v4, b"GET /announce ?info_hash=" + h + b"&port=1&compact=0 HTTP/1.1\n\n"),
        (v4, b"GET /scrape?info_hash=" + h + b"&info_hash=" + b"%00" * 20 + b" HTTP/1.1\r\n\r\n"),
        (v4, b"GET /scrape HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n"),
        (v4, b"GET /stats?mode=p4p HTTP/1.1\r\n\r\n"),
        (v4, b"GET /stats?mode=everything&format=txt HTTP/1.1\r\n\r\n"),
        (v4, b"GET /stats?mode=top100 HTTP/1.1\r\n\r\n"),
        (v4, b"GET //%2e%2e/x HTTP/1.1\r\n\r\n"),
    ]
    for addr, r in reqs:
        put("http", addr + r)


if __name__ == "__main__":
    main()
