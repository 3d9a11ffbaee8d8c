"""Vouch benchmarks: whole-process wall time (median of N runs after one warm-up) and peak RSS,
each next to a baseline from the same run, printed as a ratio."""
import argparse, base64, json, os, random, re, resource, shutil, statistics, subprocess, sys, tempfile, time

def measure(cmd, runs, stdin=None, expect=0):
    """Median wall seconds and max peak RSS (MiB) of `cmd` over `runs` runs after one warm-up."""
    def once():
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        with open(stdin, "rb") if stdin else open(os.devnull, "rb") as inp:
            proc = subprocess.run(cmd, stdin=inp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall = time.perf_counter() - start
        if proc.returncode != expect:
            sys.exit(f"benchmark command failed: {' '.join(cmd)}\n{proc.stderr.decode(errors='replace')}")
        return wall
    once()
    walls = [once() for _ in range(runs)]
    return statistics.median(walls), min(walls), max(walls)

def peak_rss_mib(cmd, expect=0):
    out = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if out.returncode != expect:
        sys.exit(f"benchmark command exited {out.returncode}, expected {expect}: {' '.join(cmd)}\n{out.stderr.decode(errors='replace')}")
    return int(out.stderr.decode().strip().splitlines()[-1]) / 1024

def row(label, ours, base, base_label, size=None):
    ratio = base[0] / ours[0]
    rate = f"  {size / ours[0] / 1e6:8.0f} MB/s vs {size / base[0] / 1e6:8.0f} MB/s" if size else ""
    print(f"{label:38s} {ours[0]:8.3f} s (min {ours[1]:.3f}, max {ours[2]:.3f})   {base_label:28s} {base[0]:8.3f} s   "
          f"speed ratio {ratio:5.2f}x{rate}")

def make_tree(root, small, large, large_size, seed):
    rng = random.Random(seed)
    os.makedirs(root)
    blob = os.urandom(1 << 20)
    for i in range(small):
        d = os.path.join(root, f"d{i % 200:03d}", f"s{(i // 200) % 10}")
        os.makedirs(d, exist_ok=True)
        n = rng.randint(0, 8192)
        off = rng.randint(0, len(blob) - n)
        p = os.path.join(d, f"f{i}.dat")
        with open(p, "wb") as f:
            f.write(blob[off:off + n])
        if i % 7 == 0:
            os.chmod(p, 0o755)
        if i % 50 == 0:
            os.symlink(f"f{i}.dat", os.path.join(d, f"l{i}"))
    for j in range(large):
        with open(os.path.join(root, f"large{j}.bin"), "wb") as f:
            left = large_size
            while left > 0:
                chunk = min(left, 1 << 24)
                f.write(os.urandom(chunk))
                left -= chunk

def nar_hash_bench(vouch, work, args):
    tree = os.path.join(work, "tree")
    large_size = (64 << 20) if args.quick else (248 << 20)
    make_tree(tree, 20000, 4, large_size, 1)
    nar = os.path.join(work, "tree.nar")
    with open(nar, "wb") as f:
        subprocess.run(["nix-store", "--dump", tree], stdout=f, check=True)
    size = os.path.getsize(nar)
    ours = subprocess.run([vouch, "nar", "hash", tree], capture_output=True, text=True, check=True).stdout.strip()
    theirs = "sha256:" + subprocess.run(["nix", "hash", "path", "--base32", tree], capture_output=True, text=True, check=True).stdout.strip()
    assert ours == theirs, (ours, theirs)
    print(f"\n== NAR hash: tree of 20,000 small files + 4 x {large_size >> 20} MiB, NAR {size / 2**30:.2f} GiB, hashes agree ({ours[:20]}…) ==")
    runs = args.runs
    v = measure([vouch, "nar", "hash", tree], runs)
    n = measure(["nix", "hash", "path", tree], runs)
    o = measure(["openssl", "dgst", "-sha256", nar], runs)
    row("vouch nar hash DIR", v, n, "nix hash path DIR", size)
    row("vouch nar hash DIR", v, o, "openssl dgst -sha256 NAR", size)
    d = measure([vouch, "nar", "dump", tree], runs)
    nd = measure(["nix-store", "--dump", tree], runs)
    row("vouch nar dump DIR > /dev/null", d, nd, "nix-store --dump DIR", size)
    print(f"peak RSS: vouch nar hash {peak_rss_mib([vouch, 'nar', 'hash', tree]):.0f} MiB, nix hash path {peak_rss_mib(['nix', 'hash', 'path', tree]):.0f} MiB")
    shutil.rmtree(tree)
    os.unlink(nar)

def drv_bench(vouch, work, args):
    count = 2000 if args.quick else 10000
    expr = os.path.join(work, "graph.nix")
    # nixpkgs-like shape: layers with fan-in, FOD leaves, several outputs, a unique salt per run.
    salt = f"{time.time_ns()}"
    with open(expr, "w") as f:
        f.write(f"""
let sys = "x86_64-linux"; n = {count}; width = 200;
  fod = i: derivation {{ name = "src-${{toString i}}"; system = sys; builder = "/bin/sh";
    args = [ "-c" "echo ${{toString i}} > $out" ]; outputHashMode = "flat"; outputHashAlgo = "sha256";
    outputHash = builtins.hashString "sha256" "${{toString i}}\\n"; }};
  node = i: derivation {{ name = "pkg-${{toString i}}"; system = sys; builder = "/bin/sh"; salt = "{salt}";
    outputs = if builtins.bitAnd i 3 == 0 then [ "out" "dev" "lib" ] else [ "out" ];
    deps = if i < width then [ (fod i) ] else map (k: (builtins.elemAt nodes (i - width + k * 10)).out) [ 0 1 2 3 ];
    args = [ "-c" "echo ${{toString i}} > $out" ]; }};
  nodes = builtins.genList node n;
in derivation {{ name = "root"; system = sys; builder = "/bin/sh"; args = [ "-c" "echo > $out" ];
  deps = builtins.genList (i: builtins.elemAt nodes (n - 1 - i)) width; }}
""")
    root = subprocess.run(["nix-instantiate", expr], capture_output=True, text=True, check=True).stdout.strip()
    closure = subprocess.run(["nix-store", "-qR", root], capture_output=True, text=True, check=True).stdout.split()
    drvs = [p for p in closure if p.endswith(".drv")]
    listing = os.path.join(work, "drvs.txt")
    print(f"\n== Derivations: closure of {len(drvs)} .drv files (depth ~{count // 170}, fan-in 4, FOD leaves, multi-output) ==")
    out = subprocess.run([vouch, "drv", "path"] + drvs, capture_output=True, text=True, check=True).stdout.split()
    assert out == drvs, "drv paths differ from the store paths"
    runs = args.runs
    ours = measure([vouch, "drv", "path"] + drvs, runs)
    show = measure([vouch, "drv", "show", "-r", root], runs)
    nix = measure(["nix", "show-derivation", "-r", root], runs)
    row("vouch drv path (parse + drv path, all)", ours, nix, "nix show-derivation -r", None)
    row("vouch drv show -r (parse + JSON)", show, nix, "nix show-derivation -r", None)
    print(f"per drv: vouch drv path {ours[0] / len(drvs) * 1e6:.1f} µs, vouch drv show -r {show[0] / len(drvs) * 1e6:.1f} µs, "
          f"nix show-derivation -r {nix[0] / len(drvs) * 1e6:.1f} µs")
    print(f"peak RSS: vouch drv path {peak_rss_mib([vouch, 'drv', 'path'] + drvs):.0f} MiB, vouch drv show -r "
          f"{peak_rss_mib([vouch, 'drv', 'show', '-r', root]):.0f} MiB, nix show-derivation -r {peak_rss_mib(['nix', 'show-derivation', '-r', root]):.0f} MiB")

def rate_row(label, ours, base, base_label):
    """`ours` = (median, min, max) operations per second; ratio = vouch rate / baseline rate (>1: vouch faster)."""
    print(f"{label:38s} {ours[0]:9.0f}/s (min {ours[1]:.0f}, max {ours[2]:.0f})   {base_label:32s} {base[0]:9.0f}/s   "
          f"speed ratio {ours[0] / base[0]:5.2f}x")

def openssl_ed25519():
    """sign/s and verify/s from one `openssl speed -seconds 3 ed25519`."""
    out = subprocess.run(["openssl", "speed", "-seconds", "3", "ed25519"], capture_output=True, text=True, check=True).stdout
    m = re.search(r"EdDSA \(Ed25519\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)", out)
    if not m:
        sys.exit(f"cannot parse openssl speed output:\n{out}")
    return float(m.group(1)), float(m.group(2))

def python_json_rate(op, seconds, runs):
    """Median, min, max calls per second of `op` over `runs` rounds of `seconds`."""
    rates = []
    for _ in range(runs):
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for _ in range(20):
                op()
            count += 20
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates), min(rates), max(rates)

def trace_bench(work, args):
    pkg = os.path.join(os.path.dirname(os.path.abspath(__file__)), "TraceBench")
    subprocess.run(["swift", "build", "-c", "release", "--package-path", pkg], stdout=subprocess.DEVNULL, check=True)
    bindir = subprocess.run(["swift", "build", "-c", "release", "--package-path", pkg, "--show-bin-path"],
                            capture_output=True, text=True, check=True).stdout.strip()
    # One core for everything below (children inherit the affinity): the figures are single-thread rates.
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(saved)})
    try:
        seconds = 0.3 if args.quick else 1.0
        out = subprocess.run([os.path.join(bindir, "TraceBench"), "--rounds", str(args.runs), "--seconds", str(seconds)],
                             capture_output=True, text=True, check=True).stdout
        ossl = [openssl_ed25519() for _ in range(args.runs)]
        statement = base64.b64decode(re.search(r"^statement_base64 (\S+)$", out, re.M).group(1))
        canonical = lambda value: json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert canonical(json.loads(statement)) == statement, "Python's sorted compact JSON differs from Vouch's canonical bytes"
        parsed = json.loads(statement)
        py_parse = python_json_rate(lambda: json.loads(statement), seconds, args.runs)
        py_encode = python_json_rate(lambda: canonical(parsed), seconds, args.runs)
        py_both = python_json_rate(lambda: json.loads(canonical(parsed)), seconds, args.runs)
    finally:
        os.sched_setaffinity(0, saved)
    fig = {m.group(1): tuple(float(m.group(i)) for i in (2, 3, 4))
           for m in re.finditer(r"^(\w+)\s+([\d.]+)/s\s+\(min ([\d.]+), max ([\d.]+)\)", out, re.M)}
    sign = (statistics.median(s for s, _ in ossl),)
    verify = (statistics.median(v for _, v in ossl),)
    print(f"\n== Build traces ({out.splitlines()[0].removeprefix('trace: ')}); baseline openssl speed -seconds 3 ed25519 "
          f"x{args.runs}, median (it signs a short message, Vouch signs the PAE of the statement); one core ==")
    rate_row("vouch sign trace (encode+PAE+sign+JSON)", fig["sign_trace"], sign, "openssl ed25519 sign")
    rate_row("swift-crypto ed25519 sign (PAE bytes)", fig["ed25519_sign_raw"], sign, "openssl ed25519 sign")
    rate_row("vouch verify trace (parse+check+verify)", fig["verify_trace"], verify, "openssl ed25519 verify")
    rate_row("vouch verify signature (parsed)", fig["verify_signature_only"], verify, "openssl ed25519 verify")
    rate_row("swift-crypto ed25519 verify (PAE bytes)", fig["ed25519_verify_raw"], verify, "openssl ed25519 verify")
    print(f"statement JSON: {len(statement)} bytes, Python's json.dumps(sort_keys, compact) gives identical bytes")
    rate_row("vouch canonical encode", fig["canonical_encode"], py_encode, "python json.dumps(sort_keys)")
    rate_row("vouch JSON parse", fig["json_parse"], py_parse, "python json.loads")
    rate_row("vouch encode+parse+BuildTrace fields", fig["canonical_encode_parse"], py_both, "python dumps+loads (no checks)")

def swift_package_bin(name):
    pkg = os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    subprocess.run(["swift", "build", "-c", "release", "--package-path", pkg], stdout=subprocess.DEVNULL, check=True)
    bindir = subprocess.run(["swift", "build", "-c", "release", "--package-path", pkg, "--show-bin-path"],
                            capture_output=True, text=True, check=True).stdout.strip()
    return os.path.join(bindir, name)

def one_core(cmd):
    """`cmd` pinned to one core (the floor is a single-thread figure)."""
    return ["taskset", "-c", str(min(os.sched_getaffinity(0))), *cmd]

def floor_figures(bench, gen, runs):
    out = subprocess.run(one_core([bench, "floor", "--dir", gen, "--rounds", str(runs)]), capture_output=True, text=True, check=True).stdout
    fig = {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\w+) ([\d.]+)", out, re.M)}
    fig["needed"] = int(re.search(r"needed_signatures (\d+)", out).group(1))
    fig["all"] = int(re.search(r"all_signatures (\d+)", out).group(1))
    return fig

def verify_report(cmd, expect):
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != expect:
        sys.exit(f"vouch verify exited {proc.returncode}, expected {expect}\n{proc.stderr.decode(errors='replace')[-2000:]}")
    return json.loads(proc.stdout)

def tamper(path):
    """Edits one output NAR hash in the envelope's statement and keeps the signature."""
    with open(path) as f:
        env = json.load(f)
    statement = base64.b64decode(env["payload"])
    m = re.search(rb'"sha256":"([0-9a-f])', statement[statement.index(b'"subject"'):])
    at = statement.index(b'"subject"') + m.start(1)
    statement = statement[:at] + (b"0" if statement[at:at + 1] != b"0" else b"1") + statement[at + 1:]
    env["payload"] = base64.b64encode(statement).decode()
    with open(path, "w") as f:
        json.dump(env, f, sort_keys=True, separators=(",", ":"))

def verify_bench(vouch, work, args):
    bench = swift_package_bin("VerifyBench")
    count = 2000 if args.quick else 10000
    cores = len(os.sched_getaffinity(0))
    ossl = statistics.median(openssl_ed25519()[1] for _ in range(args.runs))
    for ca in (0.0, 0.1):
        gen = os.path.join(work, f"verify-ca{ca}")
        root = subprocess.run([bench, "generate", "--out", gen, "--count", str(count), "--builders", "3", "--seed", "1", "--ca-fraction", str(ca)],
                              capture_output=True, text=True, check=True).stdout.strip()
        with open(os.path.join(gen, "stats.json")) as f:
            st = json.load(f)
        policy, traces = os.path.join(gen, "policy.toml"), os.path.join(gen, "traces")
        cmd = [vouch, "verify", root, "--policy", policy, "--traces", traces, "--json"]
        print(f"\n== vouch verify: closure of {st['derivations']} .drv files, depth {st['depth']}, {st['fixedOutput']} FOD leaves, "
              f"{st['multiOutput']} multi-output, {st['contentAddressed']} floating CA + {st['deferred']} deferred, fan-in {st['meanFanIn']:.1f}, "
              f"env {st['meanEnvBytes']:.0f} B/drv; {st['traces']} traces from {st['builders']} builders; policy 2 of 3; {cores} cores ==")
        report = verify_report(cmd, 0)
        steps = report["steps"]
        assert report["verified"] and len(steps) == st["derivations"], (report["verified"], report["reason"], len(steps))
        bad = [s["derivation"] for s in steps if s["status"] not in ("verified", "fixed-output") or s["rejected"]]
        assert not bad, f"steps not cleanly verified: {bad[:5]}"
        counted = sum(len(s["signers"]) for s in steps)
        fl = floor_figures(bench, gen, args.runs)
        floor = (fl["floor_seconds"],)
        ours = measure(cmd, args.runs)
        single = measure(one_core(cmd), args.runs)
        rss = peak_rss_mib(cmd)
        n = len(steps)
        def vs_floor(label, t, base, base_label):
            print(f"{label:38s} {t[0]:8.3f} s (min {t[1]:.3f}, max {t[2]:.3f})   {base_label:40s} {base:8.3f} s   "
                  f"{t[0] / base:5.2f}x the floor (goal <= 1.3x)")
        prepared = fl["prepared_floor_seconds"]
        vs_floor(f"vouch verify ({cores} cores)", ours, floor[0], f"floor: {fl['needed']} x swift-crypto verify")
        vs_floor(f"vouch verify ({cores} cores)", ours, floor[0] / cores, f"floor / {cores} cores")
        vs_floor("vouch verify (1 core)", single, floor[0], f"floor: {fl['needed']} x swift-crypto verify")
        # What vouch verify itself uses: one prepared table per builder key (NixFormats.Ed25519VerifyingKey).
        vs_floor(f"vouch verify ({cores} cores)", ours, prepared / cores, f"prepared-key floor / {cores} cores")
        vs_floor("vouch verify (1 core)", single, prepared, f"floor: {fl['needed']} x prepared-key verify")
        print(f"{'':38s} {'':34s}   {'floor by openssl speed':40s} {fl['needed'] / ossl:8.3f} s   ({ossl:.0f} verify/s, median of {args.runs})")
        print(f"one verify: swift-crypto {floor[0] / fl['needed'] * 1e6:.1f} µs, prepared key {prepared / fl['needed'] * 1e6:.1f} µs "
              f"({floor[0] / prepared:.2f}x faster), openssl speed {1e6 / ossl:.1f} µs")
        print(f"wall: {ours[0]:.3f} s vs goal 1 s ({ours[0]:.2f}x); per step {ours[0] / n * 1e6:.0f} µs ({cores} cores), {single[0] / n * 1e6:.0f} µs (1 core), "
              f"floor {floor[0] / n * 1e6:.0f} µs")
        print(f"peak RSS: vouch verify {rss:.0f} MiB vs goal 512 MiB ({rss / 512:.2f}x)")
        print(f"signatures: the policy needs {fl['needed']}; vouch verify counted {counted} signers (each one verified signature), "
              f"so it checked at least {counted} of the {fl['all']} on disk (checking all: {fl['all_seconds']:.3f} s on 1 core)")
        print(f"1-core breakdown outside vouch (VerifyBench): read {fl['read_seconds']:.3f} s, parse {st['traces']} envelopes "
              f"(SignedTrace(parsing:)) {fl['parse_seconds']:.3f} s, needed signatures {floor[0]:.3f} s")
        # Tampering, for information: one builder's trace of a middle step keeps its signature over an edited statement.
        victim = st.get("tamperCandidate") or ""
        if victim:
            base = os.path.basename(victim)
            tamper(os.path.join(traces, "builder-0", base + ".json"))
            one = verify_report(cmd, 0)
            rejected = next(s["rejected"] for s in one["steps"] if s["derivation"] == victim)
            t1 = measure(cmd, args.runs, expect=0)
            tamper(os.path.join(traces, "builder-1", base + ".json"))
            two = verify_report(cmd, 1)
            failed = sum(s["status"] == "failed" for s in two["steps"])
            t2 = measure(cmd, args.runs, expect=1)
            print(f"tampered (1 of 3 traces of {base}): exit 0, still 2 of 3, rejected {rejected}; {t1[0]:.3f} s")
            print(f"tampered (2 of 3 traces of that step): exit 1, {failed} failed steps, closure breaks at "
                  f"{[os.path.basename(p) for p in two['lowestFailures']]}; {t2[0]:.3f} s")
        shutil.rmtree(gen)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vouch", help="vouch binary (needed for nar, drv and verify)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="smaller inputs")
    ap.add_argument("--only", choices=["nar", "drv", "trace", "verify", "serve"])
    args = ap.parse_args()
    if args.only != "trace" and not args.vouch:
        ap.error("--vouch is required unless --only trace")
    print(f"median of {args.runs} runs after 1 warm-up; ratio = baseline time / vouch time (>1 means vouch is faster)")
    work = tempfile.mkdtemp(prefix="vouch-bench-", dir=os.environ.get("TMPDIR", "/tmp"))
    try:
        if args.only in (None, "nar"):
            nar_hash_bench(args.vouch, work, args)
        if args.only in (None, "drv"):
            drv_bench(args.vouch, work, args)
        if args.only in (None, "trace"):
            trace_bench(work, args)
        if args.only in (None, "verify"):
            verify_bench(args.vouch, work, args)
        if args.only in (None, "serve"):  # vouch serve vs nginx (benchmarks/serve_bench.py; installs wrk, nginx)
            import serve_bench
            serve_bench.run_bench(args.vouch, work, paths=2000 if args.quick else 10000, runs=1 if args.quick else 3,
                                  seconds=3 if args.quick else 10, nar_mib=64 if args.quick else 256)
    finally:
        shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__":
    main()
