#!/usr/bin/env python3
"""hops.py reads `dlv trace --stack N` of Vigil's functions (stdin) and
prints the hops of one request: the Vigil packages that control passes
through on the request's goroutine, from the entry of httpapi's
Router.ServeHTTP that leads to --handler, up to the first call of --first
(the write of the response's first media byte).

For every traced function entered on that goroutine, the package of its
nearest Vigil caller on the stack and its own package are appended to the
sequence, and consecutive repeats are collapsed: so a call into another
package and the return from it (seen at the caller's next call) are both
hops, whatever the standard library or a dependency did in between
(database/sql calling the driver counts as the store's caller calling the
store). Test code (frames in _test.go files) is skipped. Value types
(access, media) are not hops: their methods are field reads.

Exit status 1 when --max-packages or --max-returns is exceeded.
"""
import argparse
import re
import sys

ANSI = re.compile(r"\x1b\[[0-9;]*m")
EVENT = re.compile(r"^(>+) goroutine\((\d+)\):(?:\[\d+\])? (\S.*)$")
FRAME = re.compile(r"^\s*\d+\s+0x[0-9a-f]+ in (\S+)$")
AT = re.compile(r"^\s*at (\S+?):\d+$")
VALUES = ("vigil/internal/access", "vigil/internal/media")


def package(fn):
    """The import path of a function's name ("p/q.(*T[x/y.U]).M" is p/q)."""
    fn = fn.split("[", 1)[0]
    slash = fn.rfind("/")
    dot = fn.find(".", slash + 1)
    return fn[:dot] if dot > 0 else fn


def events(lines):
    """Yields (goroutine, is_return, [(function, file)]) with frame 0 first."""
    ev, frames = None, []
    for raw in lines:
        ln = ANSI.sub("", raw.rstrip("\n"))
        m = EVENT.match(ln)
        if m:
            if ev:
                yield ev[0], ev[1], frames
            arrows, gid, _ = m.groups()
            ev, frames = (int(gid), len(arrows) > 1), []
            continue
        m = FRAME.match(ln)
        if m and ev:
            frames.append([m.group(1), ""])
            continue
        m = AT.match(ln)
        if m and frames:
            frames[-1][1] = m.group(1)
    if ev:
        yield ev[0], ev[1], frames


def vigil(frame):
    fn, file = frame
    p = package(fn)
    return p.startswith("vigil/internal/") and not p.startswith(VALUES) and not file.endswith("_test.go")


def dedup(evs):
    """dlv prints a stack twice for some entries: keep each once."""
    out, last = [], None
    for e in evs:
        key = (e[0], e[1], tuple(f[0] for f in e[2]))
        if not e[1] and key == last:
            continue
        out.append(e)
        last = key
    return out


def hops(evs, handler, first):
    evs = [e for e in dedup(evs) if not e[1] and e[2]]
    at = next((i for i, (_, _, fr) in enumerate(evs) if fr[0][0].endswith(handler)), None)
    if at is None:
        sys.exit("hops: the trace never enters " + handler)
    gid = evs[at][0]
    start = max(i for i, (g, _, fr) in enumerate(evs[:at]) if g == gid and fr[0][0].endswith("httpapi.(*Router).ServeHTTP"))
    seq, why = [], []
    for g, _, fr in evs[start:]:
        if g != gid or not vigil(fr[0]):
            continue
        callee = package(fr[0][0])
        caller = next((package(f[0]) for f in fr[1:] if vigil(f)), None)
        for p, w in ((caller, "back to call " + fr[0][0]), (callee, fr[0][0])):
            if p and (not seq or seq[-1] != p):
                seq.append(p)
                why.append(w)
        if fr[0][0].endswith(first):
            return seq, why
    sys.exit("hops: the request never reached " + first)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--handler", default="httpapi.(*Media).liveMP4")
    # countingWriter carries the media body only: an error answer never
    # passes it, so a refused request is not counted as served.
    ap.add_argument("--first", default="httpapi.(*countingWriter).Write")
    ap.add_argument("--max-packages", type=int, default=0)
    ap.add_argument("--max-returns", type=int, default=-1)
    ap.add_argument("-v", action="store_true", help="print the function of every hop")
    a = ap.parse_args()
    seq, why = hops(events(sys.stdin), a.handler, a.first)
    short = [p.removeprefix("vigil/internal/") for p in seq]
    if a.v:
        for p, w in zip(short, why):
            print("%-14s %s" % (p, w))
    pkgs = sorted(set(short))
    # The last hop is httpapi's writer taking the first byte, not a return.
    returns = short[:-1].count("httpapi") - 1
    print("sequence (%d hops): %s" % (len(short) - 1, " > ".join(short)))
    print("packages (%d): %s" % (len(pkgs), ", ".join(pkgs)))
    # A package's parent owns its subpackages (store/sqlite and store/sqlrow
    # are the store): the owners are what the invariants name.
    owners = sorted(set(p.split("/")[0] for p in short))
    print("owners (%d): %s" % (len(owners), ", ".join(owners)))
    print("returns to httpapi before the first write: %d" % returns)
    bad = (a.max_packages and len(pkgs) > a.max_packages) or (a.max_returns >= 0 and returns > a.max_returns)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
