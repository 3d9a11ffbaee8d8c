"""`vouch serve` against nginx serving the same files statically, on this machine.

1. narinfo GETs per second: N stored paths (default 10,000; uploaded with PUT like `nix copy`
   does: NAR, then narinfo), wrk with 2 threads, 32 connections, 10 s, every request a random
   narinfo URL of the N (Lua script); nginx (`worker_processes 2`, `access_log off`) serves the
   identical narinfo files from a directory. Goal: vouch >= 0.5x nginx.
2. NAR download throughput: one 256 MiB NAR (compression none), fetched with curl to /dev/null.

Each figure is the median of 3 runs, printed next to nginx's as a ratio (vouch / nginx).
Installs wrk and nginx with apt-get when missing (benchmarks may install; tests never need them).

    python3 benchmarks/serve_bench.py --vouch .build/release/vouch   (or benchmarks/run --only serve)
"""
import argparse, hashlib, http.client, lzma, os, random, re, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time

NIX32 = "0123456789abcdfghijklmnpqrsvwxyz"


def nix32(data):
    n = (len(data) * 8 - 1) // 5 + 1
    out = []
    for k in range(n - 1, -1, -1):
        b = k * 5
        i, j = b // 8, b % 8
        c = data[i] >> j
        if i + 1 < len(data):
            c |= data[i + 1] << (8 - j)
        out.append(NIX32[c & 0x1F])
    return "".join(out)


def nstr(b):
    return len(b).to_bytes(8, "little") + b + b"\0" * ((8 - len(b) % 8) % 8)


def nar_of_file(contents):
    return b"".join(nstr(t) for t in [b"nix-archive-1", b"(", b"type", b"regular", b"contents", contents, b")"])


def make_item(rng, size, compression="none"):
    nar = nar_of_file(rng.randbytes(size))
    f = lzma.compress(nar, preset=0) if compression == "xz" else nar
    fh = nix32(hashlib.sha256(f).digest())
    url = f"nar/{fh}.nar" + (".xz" if compression == "xz" else "")
    hp = nix32(rng.randbytes(20))
    sp = f"/nix/store/{hp}-bench-{rng.randrange(1 << 30)}"
    refs = " ".join(sorted(f"{nix32(rng.randbytes(20))}-dep-{i}" for i in range(rng.randint(0, 6))))
    text = (f"StorePath: {sp}\nURL: {url}\nCompression: {compression}\nFileHash: sha256:{fh}\nFileSize: {len(f)}\n"
            f"NarHash: sha256:{nix32(hashlib.sha256(nar).digest())}\nNarSize: {len(nar)}\nReferences: {refs}\n"
            f"Deriver: {nix32(rng.randbytes(20))}-bench.drv\n"
            f"Sig: bench-1:{__import__('base64').b64encode(rng.randbytes(64)).decode()}\n")
    return hp, url, f, text


def ensure_tools():
    missing = [t for t, exe in (("wrk", "wrk"), ("nginx", "nginx")) if shutil.which(exe) is None and not os.path.exists(f"/usr/sbin/{exe}")]
    if missing:
        print(f"installing {' '.join(missing)} with apt-get", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *missing], check=True,
                       stdout=subprocess.DEVNULL, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if shutil.which("curl") is None:
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "curl"], check=True, stdout=subprocess.DEVNULL)
    return shutil.which("nginx") or "/usr/sbin/nginx"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Vouch:
    def __init__(self, vouch, data):
        self.log = open(os.path.join(os.path.dirname(data), "vouch.log"), "ab")
        self.proc = subprocess.Popen([vouch, "serve", "--data", data, "--listen", "127.0.0.1:0"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.time() + 60
        line = b""
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            m = re.search(rb"serving .* on http://([\d.]+):(\d+)", line)
            if m:
                self.host, self.port = m.group(1).decode(), int(m.group(2))
                break
            if not line and self.proc.poll() is not None:
                sys.exit(f"vouch serve exited {self.proc.returncode}")
        else:
            sys.exit(f"vouch serve did not start: {line!r}")
        threading.Thread(target=lambda: shutil.copyfileobj(self.proc.stderr, self.log), daemon=True).start()
        self.url = f"http://{self.host}:{self.port}"

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def upload_all(host, port, token, items, threads=8):
    """PUT every NAR then its narinfo, on keep-alive connections, from `threads` threads."""
    errors = []
    chunks = [items[i::threads] for i in range(threads)]

    def work(chunk):
        conn = http.client.HTTPConnection(host, port, timeout=300)
        try:
            for _, url, f, text in chunk:
                for path, body, ctype in ((f"/{url}", f, "application/x-nix-nar"),
                                          (f"/{hashpart_of(text)}.narinfo", text.encode(), "text/x-nix-narinfo")):
                    conn.request("PUT", path, body=body, headers={"Authorization": f"Bearer {token}", "Content-Type": ctype})
                    r = conn.getresponse()
                    data = r.read()
                    if not 200 <= r.status < 300:
                        errors.append(f"PUT {path}: {r.status} {data[:200]!r}")
                        return
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
        finally:
            conn.close()

    ts = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        sys.exit("upload failed: " + "; ".join(errors[:5]))


def hashpart_of(text):
    return text.split("\n", 1)[0].split("/nix/store/", 1)[1][:32]


NGINX_CONF = """worker_processes 2;
daemon off;
user root;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  open_file_cache max=20000 inactive=60s;
  client_body_temp_path {dir}/tmp-body;
  proxy_temp_path {dir}/tmp-proxy;
  fastcgi_temp_path {dir}/tmp-fastcgi;
  uwsgi_temp_path {dir}/tmp-uwsgi;
  scgi_temp_path {dir}/tmp-scgi;
  types {{ text/x-nix-narinfo narinfo; application/x-nix-nar nar; text/plain nix-cache-info; }}
  default_type application/octet-stream;
  server {{
    listen 127.0.0.1:{port};
    root {root};
  }}
}}
"""

WRK_LUA = """local paths = {}
init = function(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  math.randomseed(os.time() + (tonumber(args[2]) or 0))
end
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
"""


def wrk(url, script, urls, seconds):
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "-s", script, url, "--", urls, str(random.randrange(1 << 20))],
                         capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: (.*)", out)
    if bad or errs:
        sys.exit(f"wrk against {url} saw errors:\n{out}")
    p99 = re.search(r"^\s*99%\s+(\S+)", out, re.M)
    return rate, p99.group(1) if p99 else "?"


def curl_rate(url, runs):
    rates = []
    for _ in range(runs + 1):
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}", url],
                             capture_output=True, text=True, check=True).stdout.split()
        if out[0] != "200":
            sys.exit(f"GET {url} answered {out[0]}")
        rates.append(int(out[1]) / float(out[2]) / 1e6)
    return rates[1:]  # first run is a warm-up


def med(xs):
    return statistics.median(xs), min(xs), max(xs)


def run_bench(vouch, work, paths=10000, runs=3, seconds=10, nar_mib=256):
    nginx = ensure_tools()
    rng = random.Random(1)
    data, www = os.path.join(work, "vouch-data"), os.path.join(work, "www")
    os.makedirs(os.path.join(www, "nar"))
    with open(os.path.join(www, "nix-cache-info"), "w") as f:
        f.write("StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n")
    token = subprocess.run([vouch, "serve", "tokens", "create", "bench", "--data", data], capture_output=True, text=True, check=True).stdout.strip()
    server = Vouch(vouch, data)
    ng = None
    try:
        t0 = time.perf_counter()
        items = [make_item(rng, rng.randint(64, 4096), "xz" if i % 4 == 0 else "none") for i in range(paths)]
        upload_all(server.host, server.port, token, items)
        put_seconds = time.perf_counter() - t0
        for hp, url, f, text in items:
            with open(os.path.join(www, f"{hp}.narinfo"), "w") as out:
                out.write(text)
            with open(os.path.join(www, url), "wb") as out:
                out.write(f)
        urls = os.path.join(work, "urls.txt")
        with open(urls, "w") as out:
            out.writelines(f"/{hp}.narinfo\n" for hp, *_ in items)
        script = os.path.join(work, "random.lua")
        with open(script, "w") as out:
            out.write(WRK_LUA)
        port = free_port()
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as out:
            out.write(NGINX_CONF.format(dir=work, port=port, root=www))
        ng = subprocess.Popen([nginx, "-c", conf, "-p", work], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        nginx_url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/nix-cache-info")
                break
            except OSError:
                time.sleep(0.05)
        # Both answer the same bytes for a sample of paths.
        for hp, _, _, text in rng.sample(items, 50):
            for base in (server, None):
                c = http.client.HTTPConnection("127.0.0.1", server.port if base else port, timeout=10)
                c.request("GET", f"/{hp}.narinfo")
                r = c.getresponse()
                body = r.read()
                assert r.status == 200 and body == text.encode(), (base, hp, r.status, body[:200])
        print(f"\n== vouch serve: {paths:,} narinfos stored by PUT (NAR + narinfo) in {put_seconds:.1f} s "
              f"({2 * paths / put_seconds:.0f} PUT/s, 8 client threads); wrk -t2 -c32 -d{seconds}s, random narinfo URL per request; "
              f"nginx worker_processes 2, access_log off, same files; median of {runs} ==")
        v_rates, n_rates, v_p99, n_p99 = [], [], [], []
        wrk(server.url, script, urls, 2)  # warm-up
        wrk(nginx_url, script, urls, 2)
        for _ in range(runs):
            r, p = wrk(server.url, script, urls, seconds)
            v_rates.append(r), v_p99.append(p)
            r, p = wrk(nginx_url, script, urls, seconds)
            n_rates.append(r), n_p99.append(p)
        v, n = med(v_rates), med(n_rates)
        print(f"{'vouch serve GET narinfo':38s} {v[0]:9.0f} req/s (min {v[1]:.0f}, max {v[2]:.0f}, p99 {'/'.join(v_p99)})   "
              f"{'nginx static narinfo':22s} {n[0]:9.0f} req/s (p99 {'/'.join(n_p99)})   ratio {v[0] / n[0]:5.2f}x (goal >= 0.5x)")

        # NAR download throughput
        size = nar_mib << 20
        big = nar_of_file(os.urandom(size - 200))
        fh = nix32(hashlib.sha256(big).digest())
        url = f"nar/{fh}.nar"
        with open(os.path.join(www, url), "wb") as out:
            out.write(big)
        c = http.client.HTTPConnection(server.host, server.port, timeout=600)
        t0 = time.perf_counter()
        c.request("PUT", "/" + url, body=big, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-nix-nar"})
        r = c.getresponse()
        r.read()
        put_s = time.perf_counter() - t0
        if r.status not in (200, 201):
            sys.exit(f"PUT of the {nar_mib} MiB NAR answered {r.status}")
        del big
        vr = med(curl_rate(f"{server.url}/{url}", runs))
        nr = med(curl_rate(f"{nginx_url}/{url}", runs))
        print(f"{f'vouch serve GET {nar_mib} MiB NAR (curl)':38s} {vr[0]:9.0f} MB/s  (min {vr[1]:.0f}, max {vr[2]:.0f})                "
              f"{'nginx static NAR':22s} {nr[0]:9.0f} MB/s                 ratio {vr[0] / nr[0]:5.2f}x")
        print(f"(for information: PUT of that NAR, with hash check and fsync, {size / put_s / 1e6:.0f} MB/s)")
    finally:
        server.stop()
        if ng is not None:
            ng.send_signal(signal.SIGQUIT)
            try:
                ng.wait(timeout=20)
            except subprocess.TimeoutExpired:
                ng.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vouch", required=True)
    ap.add_argument("--paths", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--nar-mib", type=int, default=256)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="vouch-serve-bench-", dir=os.environ.get("TMPDIR", "/tmp"))
    try:
        run_bench(os.path.abspath(args.vouch), work, args.paths, args.runs, args.seconds, args.nar_mib)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
