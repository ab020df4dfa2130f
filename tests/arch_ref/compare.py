#!/usr/bin/env python3
"""compare.py - adamas's logits against llama.cpp's, by the rule of the peer
tests: F32 files within an rms of 1e-3; other types within a quarter of the
rms difference between llama.cpp's logits for the file and for its F32
master. Optionally, greedy continuations must be identical.

usage: compare.py OURS.logits REF.logits [MASTER.logits] [--greedy OURS_TEXT REF.greedy]
(OURS_TEXT: `adamas logits --greedy N` output, with a "greedy: id id ..." line)
"""
import math
import struct
import sys


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    n, nv = struct.unpack_from("<ii", data, 0)
    toks = struct.unpack_from("<%di" % n, data, 8)
    logits = struct.unpack_from("<%df" % (n * nv), data, 8 + 4 * n)
    return n, nv, toks, logits


def rms(a, b):
    return math.sqrt(sum((x - y) * (x - y) for x, y in zip(a, b)) / len(a))


def main(argv):
    greedy = None
    if "--greedy" in argv:
        i = argv.index("--greedy")
        greedy = argv[i + 1:i + 3]
        argv = argv[:i]
    ours, ref = load(argv[0]), load(argv[1])
    if ours[:3] != ref[:3]:
        print("FAIL %s: shape or tokens differ from %s" % (argv[0], argv[1]))
        return 1
    d = rms(ours[3], ref[3])
    ok = True
    if len(argv) > 2:
        q = rms(ref[3], load(argv[2])[3])
        ok = d <= 0.25 * q
        print("%s: rms vs llama.cpp %.6f, llama.cpp quantization rms %.5f, ratio %.4f (limit 0.25)"
              % (argv[1], d, q, d / q if q else 0.0))
    else:
        ok = d <= 1e-3
        print("%s: rms vs llama.cpp %.2e (limit 1e-3)" % (argv[1], d))
    if greedy:
        with open(greedy[0]) as f:
            line = [l for l in f if l.startswith("greedy:")]
        got = [int(x) for x in line[0].split()[1:]] if line else []
        with open(greedy[1], "rb") as f:
            data = f.read()
        n = struct.unpack_from("<i", data, 0)[0]
        want = list(struct.unpack_from("<%di" % n, data, 4))
        same = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), None)
        if len(got) != len(want) or same is not None:
            print("  greedy continuation differs at step %s: %s vs llama.cpp %s" % (same, got, want))
            ok = False
        else:
            print("  greedy: %d tokens identical to llama.cpp's" % n)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
