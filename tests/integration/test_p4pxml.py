"""The harness's P4P XML builders (tests/harness/p4pxml.py) write what
docs/PROTOCOL.md documents: from the data of each example in docs/examples
they build the same document (compared canonically: comments and white
space aside), every document they build validates against docs/p4p-v1.xsd,
and numbers read back to the same double."""
import os
import random
import re
import subprocess
import xml.etree.ElementTree as ET

import pytest

import p4pxml
from conftest import TOP

EXAMPLES = os.path.join(TOP, "docs", "examples")
XSD = os.path.join(TOP, "docs", "p4p-v1.xsd")
H1 = "0123456789abcdef0123456789abcdef01234567"
H2 = "89abcdef0123456789abcdef0123456789abcdef"
VALUE = re.compile(r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")  # docs/PROTOCOL.md, "value"
P = ["0.i.example", "1.i.example", "2.i.example"]

BUILT = {
    "pidmap": p4pxml.pidmap([
        ("0.i.example", 64512, ["192.0.2.0/25", "2001:db8:1::/48"], "40.71,-74.01"),
        ("1.i.example", 64512, ["192.0.2.128/25"], "40.71,-74.01"),
        ("2.i.example", 64512, ["198.51.100.0/24", "2001:db8:2::/48"], "41.88,-87.63"),
        ("100.e.example", 64512, ["0.0.0.0/0", "::/0"])], version="2026-11-25.1"),
    "costs": p4pxml.costs(P, [[0, 1, 12.5], [1, 0, 12.5], [12.5, 14, 0]], version="2026-11-25.1"),
    "guidance": p4pxml.guidance(
        (P, [[0.6, 0.3, 0.1], [0.3, 0.6, 0.1], [0.2, 0.2, 0.6]]),
        [(H1, P, {("0.i.example", "0.i.example"): 20000, ("0.i.example", "2.i.example"): 4000,
                  ("2.i.example", "0.i.example"): 2500, ("2.i.example", "2.i.example"): 2108})],
        version="2026-11-25.1"),
    "stats": p4pxml.stats({
        H1: [("0.i.example", 2, 40, 24000, 96000), ("2.i.example", 0, 12, 4608, 18432),
             ("100.e.example", 1, 3, None, None)],
        H2: [("1.i.example", 1, 0, 1000000, 0)]}),
    "capability": p4pxml.capability([("2.i.example", "cache", "198.51.100.10", 6881, 1000000),
                                     ("2.i.example", "seed", "2001:db8:2::a", 51413, 100000)]),
    "capability-request": p4pxml.capability_request(H1, "2.i.example", 2),
    "lookup-request": p4pxml.lookup_request(["192.0.2.200", "2001:db8:2::17", "203.0.113.9"], info_hash=H1),
    "error": p4pxml.error(400, "line 3: <addr> '192.0.2.300': not an IPv4 or IPv6 address"),
}

# documents the examples do not show: absent optional parts, any PID
EDGES = [
    p4pxml.pidmap([]),
    p4pxml.guidance(swarms=[(H2, ["a"], [[0]])]),
    p4pxml.guidance(default=(["a", "b"], {("a", "b"): 1e-05, ("b", "a"): 3.5e20})),
    p4pxml.stats({}),
    p4pxml.capability([]),
    p4pxml.capability_request(H2, None, 4096),
    p4pxml.lookup_request([]),
    p4pxml.error(500, 'a "quoted" <reason> & more'),
]


def canonical(data):
    return ET.canonicalize(data.decode(), with_comments=False, strip_text=True)


@pytest.mark.parametrize("kind", sorted(BUILT))
def test_builder_writes_the_documented_example(kind):
    with open(os.path.join(EXAMPLES, kind + ".xml"), "rb") as f:
        assert canonical(BUILT[kind]) == canonical(f.read())


def test_every_built_document_validates_against_the_schema(tmp_path):
    paths = []
    for i, doc in enumerate(list(BUILT.values()) + EDGES):
        paths.append(str(tmp_path / ("%d.xml" % i)))
        with open(paths[-1], "wb") as f:
            f.write(doc)
    p = subprocess.run(["xmllint", "--noout", "--schema", XSD] + paths, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr


def test_zero_cells_are_left_out_and_strings_pass_unchanged():
    doc = ET.fromstring(p4pxml.costs(["a", "b"], {("a", "b"): 0, ("b", "a"): "-1", ("a", "a"): 0.0}))
    entries = [(e.get("from"), e.get("to"), e.get("value")) for e in doc]
    assert entries[1:] == [("b", "a", "-1")]


def test_numbers_read_back_bit_for_bit_in_the_protocol_form():
    assert [p4pxml.num(v) for v in (1.0, 0.6, 12.5, 1e-05, 2 ** 70 * 1.0, 7)] == \
        ["1", "0.6", "12.5", "1e-05", "1.1805916207174113e+21", "7"]
    rnd = random.Random(9)
    for _ in range(2000):
        v = rnd.random() * 10 ** rnd.randint(-30, 30)
        text = p4pxml.num(v)
        assert float(text) == v and VALUE.fullmatch(text), text
