"""Crash safety of `vouch serve`: over several rounds, many concurrent uploads (NAR + narinfo
pairs in the compressions Nix uses, DSSE traces signed by a registered builder, realisations)
are fired at the server and it is killed with SIGKILL at a random moment; it is then restarted on
the same data directory. After every restart:

- every upload that was acknowledged (2xx) in any round is served intact: narinfo and
  realisation byte-equal to what was sent, NAR byte-equal, trace listed with its id;
- nothing partial is served: every narinfo that is served (acknowledged or not) is one that was
  sent, its NAR is served and matches FileHash/FileSize and, decompressed, NarHash/NarSize; every
  NAR file served or lying under blobs/ (outside the upload temp dir) hashes to its name;
- the database left by the kill opens cleanly (`PRAGMA integrity_check` on a copy taken before the
  restart, so the server itself still does the recovery).

VOUCH_CRASH_ROUNDS (default 4) and VOUCH_CRASH_THREADS (default 8) size it; the kill times come
from the session seed."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import shutil
import sqlite3
import threading
import time
import uuid
from pathlib import Path

import pytest

from interop_util import (NarInfo, ServerProc, bearer, blob_files, decompress, make_upload, nix32, nix_hash_to_nix32,
                          rng_for, run, serve_key_add, serve_token)
from trace_util import PAYLOAD_TYPE, b64, canonical, ed25519_keypair_from_nix, sign_pae

ROUNDS = int(os.environ.get("VOUCH_CRASH_ROUNDS", "4"))
THREADS = int(os.environ.get("VOUCH_CRASH_THREADS", "8"))


class Ledger:
    """What was sent, and what the server acknowledged."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent_nars: dict[str, bytes] = {}          # "/nar/…" -> file bytes
        self.sent_narinfos: dict[str, tuple[str, str]] = {}  # "/<hash>.narinfo" -> (text, compression)
        self.sent_traces: dict[str, bytes] = {}        # id -> bytes
        self.sent_realisations: dict[str, bytes] = {}  # "/realisations/…" -> bytes
        self.acked: set[str] = set()                   # keys of the dicts above (trace ids as "trace:<id>")
        self.counts = {"ok": 0, "failed": 0}

    def sent(self, table: str, key: str, value):
        with self.lock:
            getattr(self, table)[key] = value

    def ack(self, key: str):
        with self.lock:
            self.acked.add(key)
            self.counts["ok"] += 1


class Uploader:
    def __init__(self, server: ServerProc, token: str, seed, trace_template: dict, builder_sk: Path, ledger: Ledger):
        self.server, self.auth, self.ledger = server, bearer(token), ledger
        self.rng = rng_for("crash", seed)
        self.template = trace_template
        _, self.seed, _ = ed25519_keypair_from_nix(builder_sk)
        self.keyid = trace_template["signatures"][0]["keyid"]
        self.stop = threading.Event()

    def _put(self, method, path, body, headers) -> bool:
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers={**headers, "Content-Length": str(len(body))})
            r = conn.getresponse()
            r.read()
            return 200 <= r.status < 300
        finally:
            conn.close()

    def _trace(self) -> bytes:
        stmt = json.loads(base64.b64decode(self.template["payload"]))
        stmt["predicate"]["runDetails"]["metadata"]["invocationId"] = str(uuid.UUID(bytes=self.rng.randbytes(16), version=4))
        payload = canonical(stmt)
        env = {"payload": b64(payload), "payloadType": PAYLOAD_TYPE,
               "signatures": [{"keyid": self.keyid, "sig": b64(sign_pae(self.seed, PAYLOAD_TYPE, payload))}]}
        return json.dumps(env, sort_keys=True, separators=(",", ":")).encode()

    def one(self):
        rng, L = self.rng, self.ledger
        kind = rng.choices(["pair", "trace", "realisation"], [5, 2, 1])[0]
        if kind == "pair":
            size = rng.choice([64, 700, 20_000, 300_000, 1_500_000])
            up = make_upload(rng, "crash", size=size, compression=rng.choice(["none", "xz", "xz", "zstd"] if size < 400_000 else ["none", "xz"]))
            L.sent("sent_nars", "/" + up.url, up.file)
            L.sent("sent_narinfos", up.narinfo_path, (up.narinfo, up.compression))
            if not self._put("PUT", "/" + up.url, up.file, {**self.auth, "Content-Type": "application/x-nix-nar"}):
                return
            L.ack("/" + up.url)
            if self._put("PUT", up.narinfo_path, up.narinfo.encode(), {**self.auth, "Content-Type": "text/x-nix-narinfo"}):
                L.ack(up.narinfo_path)
        elif kind == "trace":
            body = self._trace()
            tid = hashlib.sha256(body).hexdigest()
            L.sent("sent_traces", tid, body)
            if self._put("POST", "/api/v1/traces", body, {"Content-Type": "application/json"}):
                L.ack("trace:" + tid)
        else:
            rid = f"sha256:{rng.randbytes(32).hex()}!out"
            doi = json.dumps({"dependentRealisations": {}, "id": rid, "outPath": f"{nix32(rng.randbytes(20))}-crash-ca",
                              "signatures": []}, sort_keys=True, separators=(",", ":")).encode()
            path = f"/realisations/{rid}.doi"
            L.sent("sent_realisations", path, doi)
            if self._put("PUT", path, doi, {**self.auth, "Content-Type": "application/json"}):
                L.ack(path)

    def loop(self):
        while not self.stop.is_set():
            try:
                self.one()
            except (OSError, http.client.HTTPException):
                with self.ledger.lock:
                    self.ledger.counts["failed"] += 1
                if not self.server.alive():
                    time.sleep(0.01)


@pytest.fixture(scope="module")
def crash(session_tmp, vouch_bin):
    c = type("Crash", (), {})()
    c.work = session_tmp / "serve-crash"
    c.work.mkdir()
    c.vouch_bin = vouch_bin
    salt = os.urandom(4).hex()
    c.sk, pk = c.work / "builder.sk", c.work / "builder.pk"
    run([vouch_bin, "key", "generate", f"crash-{salt}", "--secret-key-file", c.sk, "--public-key-file", pk])
    c.pubkey = pk.read_text().strip()
    nixfile = c.work / "c.nix"
    nixfile.write_text(f'derivation {{ name = "crash-{salt}"; system = builtins.currentSystem; builder = "/bin/sh"; '
                       f'args = [ "-c" "echo {salt} > $out" ]; }}\n')
    item = json.loads(run(["nix", "build", "--no-link", "--json", "-f", nixfile]).stdout)[0]
    tdir = c.work / "template"
    run([vouch_bin, "sign", "--strict", "--key-file", c.sk, "--out", tdir, "--drv-path", item["drvPath"],
         "--out-paths", item["outputs"]["out"]])
    (f,) = tdir.glob("*.dsse.json")
    c.template = json.loads(f.read_text())
    c.data = c.work / "data"
    c.server = ServerProc(vouch_bin, c.data)
    try:
        serve_key_add(vouch_bin, c.data, c.pubkey)
        c.token = serve_token(vouch_bin, c.data, "crash")
        yield c
    finally:
        c.server.stop()


def _integrity(data: Path, snapshot: Path) -> list:
    """integrity_check on a copy of the database files as the kill left them."""
    snapshot.mkdir()
    for suffix in ("", "-wal", "-shm"):
        src = data / f"vouch.sqlite{suffix}"
        if src.exists():
            shutil.copy2(src, snapshot / src.name)
    db = sqlite3.connect(snapshot / "vouch.sqlite")
    try:
        return db.execute("PRAGMA integrity_check").fetchall()
    finally:
        db.close()


def _check_served(server: ServerProc, L: Ledger, data: Path, round_: int):
    problems = []
    get = lambda p: server.request("GET", p, timeout=60)  # noqa: E731
    served_nars: dict[str, bytes] = {}
    for path, body in L.sent_nars.items():
        a = get(path)
        if a.status == 200:
            served_nars[path] = a.body
            want = path.split("/")[-1].split(".")[0]
            if nix32(hashlib.sha256(a.body).digest()) != want:
                problems.append(f"served NAR {path} does not hash to its name ({len(a.body)} bytes)")
            elif a.body != body:
                problems.append(f"served NAR {path} differs from what was sent")
        elif path in L.acked:
            problems.append(f"acknowledged NAR {path} answered {a.status}")
        elif a.status != 404:
            problems.append(f"unacknowledged NAR {path} answered {a.status}")
    for path, (text, compression) in L.sent_narinfos.items():
        a = get(path)
        if a.status == 200:
            if a.body != text.encode():
                problems.append(f"served narinfo {path} is not what was sent:\n{a.text}\nsent:\n{text}")
                continue
            ni = NarInfo.parse(a.text)
            nar = served_nars.get("/" + ni.get("URL"))
            if nar is None:
                problems.append(f"narinfo {path} is served but its NAR {ni.get('URL')} is not")
                continue
            if nix_hash_to_nix32(ni.get("FileHash")) != "sha256:" + nix32(hashlib.sha256(nar).digest()) or len(nar) != int(ni.get("FileSize")):
                problems.append(f"narinfo {path}: NAR does not match FileHash/FileSize")
                continue
            raw = decompress(nar, compression)
            if nix_hash_to_nix32(ni.get("NarHash")) != "sha256:" + nix32(hashlib.sha256(raw).digest()) or len(raw) != int(ni.get("NarSize")):
                problems.append(f"narinfo {path}: NAR does not match NarHash/NarSize")
        elif path in L.acked:
            problems.append(f"acknowledged narinfo {path} answered {a.status}")
        elif a.status != 404:
            problems.append(f"unacknowledged narinfo {path} answered {a.status}")
    for path, doi in L.sent_realisations.items():
        a = get(path)
        if a.status == 200:
            if a.body != doi:
                problems.append(f"realisation {path} served as {a.body!r}, sent {doi!r}")
        elif path in L.acked:
            problems.append(f"acknowledged realisation {path} answered {a.status}")
    name = L.signer_name
    a = get(f"/api/v1/traces?signer={name}")
    if a.status != 200:
        problems.append(f"trace query answered {a}")
    else:
        served = {t["id"]: t for t in json.loads(a.body)["traces"]}
        for tid in served:
            if tid not in L.sent_traces:
                problems.append(f"served trace {tid} was never sent")
            elif served[tid].get("envelope") != json.loads(L.sent_traces[tid]):
                problems.append(f"served trace {tid} differs from what was sent")
        for key in L.acked:
            if key.startswith("trace:") and key[6:] not in served:
                problems.append(f"acknowledged trace {key[6:]} is not listed")
    # No half-written blob is visible outside the upload temp directory.
    for rel in blob_files(data):
        if rel.startswith("nar/"):
            f = data / "blobs" / rel
            if nix32(hashlib.sha256(f.read_bytes()).digest()) != rel[4:].split(".")[0]:
                problems.append(f"blobs/{rel} does not hash to its name ({f.stat().st_size} bytes)")
    assert not problems, f"round {round_}: " + "\n".join(problems[:20]) + f"\n({len(problems)} problems)\nserver log:\n{server.log_tail()}"


def test_kill_9_loses_nothing_acknowledged(crash):
    L = Ledger()
    L.signer_name = crash.pubkey.split(":", 1)[0]
    rng = rng_for("crash-kill")
    summary = []
    for round_ in range(ROUNDS):
        assert crash.server.alive()
        uploaders = [Uploader(crash.server, crash.token, f"{round_}-{i}-{os.urandom(4).hex()}", crash.template, crash.sk, L)
                     for i in range(THREADS)]
        threads = [threading.Thread(target=u.loop, daemon=True) for u in uploaders]
        acked_before = len(L.acked)
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.4, 2.5))
        crash.server.kill9()
        for u in uploaders:
            u.stop.set()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads)
        check = _integrity(crash.data, crash.work / f"db-after-kill-{round_}")
        assert check == [("ok",)], f"round {round_}: integrity_check after kill -9: {check}"
        crash.server.start()
        summary.append(f"round {round_}: {len(L.acked) - acked_before} acknowledged")
        _check_served(crash.server, L, crash.data, round_)
    assert len(L.acked) > ROUNDS * 10, f"too few uploads were acknowledged to test anything: {summary}"
    kinds = {"narinfo" if k.endswith(".narinfo") else "trace" if k.startswith("trace:") else
             "realisation" if k.endswith(".doi") else "nar" for k in L.acked}
    assert kinds == {"nar", "narinfo", "trace", "realisation"}, (kinds, summary)
    # A clean stop leaves a clean database.
    crash.server.stop()
    db = sqlite3.connect(crash.data / "vouch.sqlite")
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        db.close()
    crash.server.start()
    print("; ".join(summary))
