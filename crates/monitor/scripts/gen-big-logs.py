#!/usr/bin/env python3
"""Writes ~1 GB synthetic Zeek dns.log (TSV) and BIND query log files, in the
line shapes of the shared corpus, plus domains.txt for `rg -F -f domains.txt`.

    python3 scripts/gen-big-logs.py OUT_DIR [SIZE_MB=1024]

Deterministic (fixed seed), so comparisons are repeatable.
"""
import os
import random
import sys

NAMES = [
    "upload.wikimedia.org", "www.tiktok.com", "api16-normal-c-useast1a.tiktokv.com",
    "meta.wikimedia.org", "mask.icloud.com", "dns.google", "v16m.tiktokcdn.com",
    "www.example.org", "static.example.net", "cdn.example.com",
]
DOMAINS = ["tiktok.com", "tiktokv.com", "tiktokcdn.com", "byteoversea.com", "ibytedtos.com",
           "mask.icloud.com", "dns.google", "use-application-dns.net"]

ZEEK_HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n"
    "#open\t2026-11-22-02-00-00\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\t"
    "qclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\t"
    "string\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool\n"
)


def zeek_lines(rng):
    ts = 1795316000.0
    while True:
        ts += rng.random() * 0.01
        name = rng.choice(NAMES)
        r = rng.randrange(3)
        src = f"10.1.{rng.randrange(200)}.{rng.randrange(250)}"
        port = rng.randrange(1024, 65535)
        if r == 0:
            yield (f"{ts:.6f}\tC{rng.getrandbits(40):x}\t{src}\t{port}\t10.0.0.53\t53\tudp\t{rng.randrange(65536)}\t"
                   f"0.000392\t{name}\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t"
                   f"edge.{name},198.51.100.{rng.randrange(250)}\t124.000000,2156.000000\tF\n")
        elif r == 1:
            yield (f"{ts:.6f}\tC{rng.getrandbits(40):x}\t{src}\t{port}\t10.0.0.53\t53\tudp\t{rng.randrange(65536)}\t"
                   f"-\t{name}\t1\tC_INTERNET\t28\tAAAA\t3\tNXDOMAIN\tF\tF\tT\tF\t0\t-\t-\tF\n")
        else:
            yield (f"{ts:.6f}\tC{rng.getrandbits(40):x}\tfe80::217:f2ff:fed7:{rng.randrange(65536):x}\t5353\t"
                   f"ff02::fb\t5353\tudp\t0\t-\t{name}\t-\t-\t-\t-\t0\tNOERROR\tT\tF\tF\tF\t0\tgemini.local\t120.000000\tF\n")


def bind_lines(rng):
    ms = 0
    while True:
        ms += rng.randrange(40)
        h, m, s, milli = (2 + ms // 3600000) % 24, (ms // 60000) % 60, (ms // 1000) % 60, ms % 1000
        name = rng.choice(NAMES)
        src = f"10.1.{rng.randrange(200)}.{rng.randrange(250)}#{rng.randrange(1024, 65535)}"
        if rng.randrange(10) == 0:
            yield (f"22-Nov-2026 {h:02}:{m:02}:{s:02}.{milli:03} query-errors: info: client @0x7fe822113098 {src} "
                   f"({name}): query failed (REFUSED) for {name}/IN/A at query.c:5708\n")
        else:
            qt = rng.choice(["A", "AAAA", "HTTPS"])
            yield (f"22-Nov-2026 {h:02}:{m:02}:{s:02}.{milli:03} queries: info: client @0x7fe822113098 {src} "
                   f"({name}): query: {name} IN {qt} +E(0)K (10.0.0.53)\n")


def write(path, header, gen, size):
    with open(path, "w", buffering=1 << 20) as f:
        n = f.write(header)
        buf = []
        for line in gen:
            buf.append(line)
            n += len(line)
            if len(buf) >= 10000:
                f.write("".join(buf))
                buf.clear()
                if n >= size:
                    break
        f.write("".join(buf))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "big-logs"
    size = int(sys.argv[2] if len(sys.argv) > 2 else 1024) * 1024 * 1024
    os.makedirs(out, exist_ok=True)
    write(os.path.join(out, "dns.log"), ZEEK_HEADER, zeek_lines(random.Random(1)), size)
    write(os.path.join(out, "query.log"), "", bind_lines(random.Random(2)), size)
    with open(os.path.join(out, "domains.txt"), "w") as f:
        f.write("\n".join(DOMAINS) + "\n")
    for n in ("dns.log", "query.log"):
        p = os.path.join(out, n)
        print(f"{p}: {os.path.getsize(p) / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
