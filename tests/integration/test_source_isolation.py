"""One provider's bad data leaves the others alone (issue 15.5).

Two fake portals and the example's local files (4 PIDs, 127.0.N.0/24).
The good portal serves the documented example (4 PIDs); the bad one serves
data that parses but does not resolve: guidance naming a PID its map does
not have, or a map of more PIDs than the tracker's map holds (1024 in all).
The bad provider alone is left out, with its reason in /stats; the good
one's data and the local files reloaded by SIGHUP still go in; once the bad
portal mends its data, it joins."""
import os
import shutil

from btclient import http_announce
from conftest import TOP, p4p_stats, wait_for
from fake_portal import FakePortal
from p4pxml import NS

EXAMPLE = os.path.join(TOP, "deploy", "example")
SWARM = bytes.fromhex("5e" * 20)

GHOST_GUIDANCE = """<?xml version="1.0" encoding="UTF-8"?>
<guidance xmlns="%s" version="{v}">
  <default>
    <pids>0.i.example ghost.i.example</pids>
    <entry from="0.i.example" to="ghost.i.example" value="1"/>
  </default>
</guidance>
""" % NS


def huge_pidmap(n):
    pids = "".join('  <pid name="p%d" asid="64500"><prefix>198.18.%d.%d/32</prefix></pid>\n' % (i, i // 256, i % 256)
                   for i in range(n))
    return '<?xml version="1.0" encoding="UTF-8"?>\n<pidmap xmlns="%s" version="{v}">\n%s</pidmap>\n' % (NS, pids)


def local_files(workdir):
    for name in ("pidmap.xml", "guidance.xml"):
        shutil.copy(os.path.join(EXAMPLE, name), workdir)
        os.chmod(os.path.join(workdir, name), 0o644)
    return [f"p4p.pidmap {workdir}/pidmap.xml", f"p4p.guidance {workdir}/guidance.xml"]


def providers(*portals):
    lines = []
    for name, p, interfaces in portals:
        lines += [f"p4p.provider {name} {p.url}", f"p4p.provider.{name}.refresh 1",
                  f"p4p.provider.{name}.interfaces {interfaces}"]
    return lines


def state(t, name):
    return p4p_stats(t).get(f"provider {name} state", "")


def test_guidance_naming_an_unknown_pid_leaves_out_only_its_provider(start_tracker, workdir):
    good = FakePortal(max_age=1).start()
    bad = FakePortal(max_age=1).start()
    bad.serve("guidance", GHOST_GUIDANCE)
    try:
        t = start_tracker(["p4p.enable yes"] + local_files(workdir) + providers(("bad", bad, "info,guidance"), ("good", good, "info,guidance")))
        assert wait_for(lambda: state(t, "good") == "in use" and state(t, "bad").startswith("refused: ")), p4p_stats(t)
        s = p4p_stats(t)
        assert "refused: guidance: default matrix: PID 'ghost.i.example' is not in the PID map" == s["provider bad state"], s["provider bad state"]
        assert s["provider bad last error"] == "-"  # its fetches are fine; its data is what is refused
        assert s["pidmap pids"] == "8"  # local 4 + good 4
        assert s["pidmap version"] == "example-1"
        # the local files still guide their peers
        with_pid = int(s["announces with pid"])
        http_announce("127.0.0.1", t.port, SWARM, "127.0.2.9", 6881, numwant=5)
        assert int(p4p_stats(t)["announces with pid"]) == with_pid + 1
        assert "provider bad refused, its data left out" in t.output()

        # SIGHUP'd local files go in although bad is still refused
        pidmap = os.path.join(workdir, "pidmap.xml")
        with open(pidmap) as f:
            text = f.read()
        text = text.replace('version="example-1"', 'version="example-2"').replace(
            "</pidmap>", '  <pid name="pid-e" asid="64512"><prefix>127.0.5.0/24</prefix></pid>\n</pidmap>')
        with open(pidmap, "w") as f:
            f.write(text)
        t.sighup()
        assert wait_for(lambda: p4p_stats(t)["pidmap version"] == "example-2"), p4p_stats(t)
        s = p4p_stats(t)
        assert s["pidmap pids"] == "9"
        assert s["provider bad state"].startswith("refused: ")
        assert s["provider good state"] == "in use"
        assert s["last reload error"] == "-"

        # mended: bad joins with its 4 PIDs
        bad.serve("guidance", None)
        assert wait_for(lambda: state(t, "bad") == "in use", timeout=15), p4p_stats(t)
        assert p4p_stats(t)["pidmap pids"] == "13"
    finally:
        good.stop()
        bad.stop()


def test_too_many_pids_leave_out_the_provider_that_overflows_not_all(start_tracker, workdir):
    bad = FakePortal(max_age=1).start()
    good = FakePortal(max_age=1).start()
    bad.serve("pidmap", huge_pidmap(1100))
    try:
        # bad comes before good: the limit drops bad and good still fits
        t = start_tracker(["p4p.enable yes"] + local_files(workdir) + providers(("bad", bad, "info"), ("good", good, "info,guidance")))
        assert wait_for(lambda: state(t, "good") == "in use" and state(t, "bad").startswith("refused: ")), p4p_stats(t)
        s = p4p_stats(t)
        assert s["provider bad state"] == (
            "refused: its 1100 PIDs and the 4 of the sources before it are over the limit of 1024 PIDs in all")
        assert s["pidmap pids"] == "8"
        # 1020 PIDs fit beside the local 4, to the last slot: now good is the
        # one that overflows, and the one left out
        bad.serve("pidmap", huge_pidmap(1020))
        assert wait_for(lambda: state(t, "bad") == "in use", timeout=15), p4p_stats(t)
        s = p4p_stats(t)
        assert s["pidmap pids"] == "1024"
        assert s["provider good state"] == (
            "refused: its 4 PIDs and the 1024 of the sources before it are over the limit of 1024 PIDs in all")
    finally:
        good.stop()
        bad.stop()
