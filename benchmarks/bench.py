"""Vouch benchmarks: whole-process wall time (median of N runs after one warm-up) and peak RSS,
each next to a baseline from the same run, printed as a ratio."""
import argparse, base64, json, os, random, re, resource, shutil, statistics, subprocess, sys, tempfile, time

def measure(cmd, runs, stdin=None):
    """Median wall seconds and max peak RSS (MiB) of `cmd` over `runs` runs after one warm-up."""
    def once():
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        with open(stdin, "rb") if stdin else open(os.devnull, "rb") as inp:
            proc = subprocess.run(cmd, stdin=inp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f"benchmark command failed: {' '.join(cmd)}\n{proc.stderr.decode(errors='replace')}")
        return wall
    once()
    walls = [once() for _ in range(runs)]
    return statistics.median(walls), min(walls), max(walls)

def peak_rss_mib(cmd):
    out = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
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

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vouch", help="vouch binary (needed for nar and drv)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="smaller inputs")
    ap.add_argument("--only", choices=["nar", "drv", "trace"])
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
    finally:
        shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__":
    main()
