import NixFormats
import VouchTrace
import VouchVerify
import XCTest

/// laut traces (JWS naming the resolved content-addressed derivation and its outputs) as
/// evidence next to Vouch traces, with real Ed25519 signatures.
final class LautEvidenceTests: XCTestCase {
    /// A floating CA chain `a → b` (b resolves against a's output), and an input-addressed
    /// consumer `t` on top.
    struct CAChain {
        let g = Graph()
        let a: String, b: String, t: String
        init() throws {
            a = try g.add("ca-a", .ca, srcs: [g.source("ca-src.txt")])
            b = try g.add("ca-b", .ca, outputs: ["out", "doc"], inputs: [(a, "out")])
            t = try g.add("on-ca", inputs: [(b, "out")])
        }
    }

    /// What laut's post-build hook signs for each floating CA step `run` built: the hash part of the
    /// built (resolved) derivation and its outputs.
    static func lautTraces(_ run: Run, key: NixSecretKey, graph: Graph, only steps: [String]? = nil,
                           claim: [String: NixHash] = [:]) throws -> [LautTrace] {
        var traces: [LautTrace] = []
        for (path, outputs) in run.outputs.sorted(by: { $0.key < $1.key }) where steps?.contains(path) ?? true {
            let built = try run.resolved[path] ?? StorePath(absolutePath: path)
            let outs = outputs.mapValues { r in (path: r.path, hash: claim[path] ?? r.narHash) }
            traces.append(try jws(rdrv: built.hashPart, outputs: outs, key: key))
        }
        return traces
    }

    /// A laut v2 JWS, shaped like laut-sign's `create_trace_signature`.
    static func jws(rdrv: String, outputs: [String: (path: StorePath, hash: NixHash)], key: NixSecretKey, kid: String? = nil) throws -> LautTrace {
        let header = JSONValue.object([
            "type": .string("laut"), "alg": .string("EdDSA"), "crv": .string("Ed25519"), "v": .string("2"),
            "kid": .string(kid ?? LautTrace.keyID(for: key.publicKey)), "detachHash": .string("nix-ca-path"),
        ])
        let payload = JSONValue.object([
            "in": .object(["rdrv_aterm_ca": .string(rdrv)]),
            "out": .object([
                "nix": .object(outputs.mapValues { .object(["path": .string($0.path.absolute), "hash": .string($0.hash.encoded(.nix32) )]) }),
                "castore-entry": .object([:]),
            ]),
            "builder": .object(["rebuild_id": .int(7), "store_root": .string("/nix/store")]),
        ])
        let input = base64URL(header.canonicalBytes) + "." + base64URL(payload.canonicalBytes)
        let signature = key.sign(Array(input.utf8)).bytes
        return try LautTrace(compact: input + "." + base64URL(signature), source: "test-laut")
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        String(Base64.encode(bytes).compactMap { c -> Character? in
            switch c {
            case "+": "-"
            case "/": "_"
            case "=": nil
            default: c
            }
        })
    }

    static func verify(_ graph: Graph, _ target: String, policy: Policy, traces: [SignedTrace] = [], laut: [LautTrace]) throws -> VerificationReport {
        try Verifier(policy: policy, loader: graph.loader).verify(target: target, evidence: Evidence(traces: traces, lautTraces: laut))
    }

    func testPremiseTheJWSParsesWithSHA256Hashes() throws {
        let x = try CAChain()
        let bob = Builder("bob")
        let laut = try Self.lautTraces(try x.g.build(x.b, by: bob), key: bob.key, graph: x.g)
        XCTAssertEqual(laut.count, 2)
        XCTAssertEqual(Set(laut.map(\.resolvedDerivationHash)).count, 2)
        XCTAssertEqual(laut.first?.signer(trusting: [bob.publicKey]), bob.publicKey)
    }

    /// 2-of-2 with alice's Vouch traces and bob's laut traces: every CA step counts both.
    func testLautTracesCountForContentAddressedSteps() throws {
        let x = try CAChain()
        let alice = Builder("alice"), bob = Builder("bob")
        let policy = try Fixture.policy([alice, bob], trust: Fixture.threshold(2, [alice, bob]))
        let laut = try Self.lautTraces(try x.g.build(x.b, by: bob), key: bob.key, graph: x.g)
        let r = try Self.verify(x.g, x.b, policy: policy, traces: try x.g.build(x.b, by: alice).signed(), laut: laut)
        XCTAssertTrue(r.verified, r.dump)
        XCTAssertEqual(r.step(x.a).signers, ["alice", "bob"], r.dump)
        XCTAssertEqual(r.step(x.b).signers, ["alice", "bob"], r.dump)
        XCTAssertEqual(r.step(x.b).outputs.keys.sorted(), ["doc", "out"])
        // laut alone: 1-of-1 on bob.
        let bobOnly = try Fixture.policy([bob], trust: "threshold = 1\nof = [\"bob\"]")
        XCTAssertTrue(try Self.verify(x.g, x.b, policy: bobOnly, laut: laut).verified)
    }

    /// laut does not sign input-addressed steps, and a laut trace has no resolution record, so one
    /// naming an input-addressed derivation is refused with the reason.
    func testLautTraceForInputAddressedStepDoesNotCount() throws {
        let x = try CAChain()
        let alice = Builder("alice"), bob = Builder("bob")
        let policy = try Fixture.policy([alice, bob], trust: Fixture.threshold(2, [alice, bob]))
        let runB = try x.g.build(x.t, by: bob)
        let laut = try Self.lautTraces(runB, key: bob.key, graph: x.g)
        let r = try Self.verify(x.g, x.t, policy: policy, traces: try x.g.build(x.t, by: alice).signed(), laut: laut)
        XCTAssertFalse(r.verified)
        XCTAssertEqual(r.lowestFailures.map(\.derivation), [x.t], r.dump)
        XCTAssertEqual(r.step(x.t).signers, ["alice"])
        XCTAssertTrue(r.step(x.t).rejected.contains { $0.contains("no resolution record") }, r.dump)
        XCTAssertEqual(r.step(x.b).signers, ["alice", "bob"], "the CA steps below still count bob's laut traces")
    }

    /// A laut trace claiming other output content for a step: that step fails 2-of-2, and so does
    /// everything that depends on it.
    func testLyingLautTraceFailsThatStep() throws {
        let x = try CAChain()
        let alice = Builder("alice"), bob = Builder("bob")
        let policy = try Fixture.policy([alice, bob], trust: Fixture.threshold(2, [alice, bob]))
        let runB = try x.g.build(x.b, by: bob)
        let lie = HashAlgorithm.sha256.digest(Array("lie".utf8))
        let laut = try Self.lautTraces(runB, key: bob.key, graph: x.g, only: [x.a], claim: [x.a: lie])
            + Self.lautTraces(runB, key: bob.key, graph: x.g, only: [x.b])
        let r = try Self.verify(x.g, x.b, policy: policy, traces: try x.g.build(x.b, by: alice).signed(), laut: laut)
        XCTAssertFalse(r.verified)
        XCTAssertEqual(r.step(x.a).status, .verified, "bob's lie is a divergent content of a, not a rejection\n\(r.dump)")
        XCTAssertEqual(r.step(x.a).outputs["out"]?.count, 2, r.dump)
        XCTAssertEqual(r.lowestFailures.map(\.derivation), [x.b], "b resolves differently on the two contents\n\(r.dump)")
    }

    /// A JWS that no policy key signed, or signed by a key outside the policy, never counts.
    func testForeignOrForgedLautTraceIsRefused() throws {
        let x = try CAChain()
        let alice = Builder("alice"), bob = Builder("bob"), mallory = Builder("mallory")
        let policy = try Fixture.policy([alice, bob], trust: Fixture.threshold(2, [alice, bob]))
        let runB = try x.g.build(x.b, by: bob)
        // mallory signs, claiming to be bob through the kid hint.
        let forged = try Self.lautTraces(runB, key: mallory.key, graph: x.g).map { t in
            try Self.jws(rdrv: t.resolvedDerivationHash, outputs: t.outputs.mapValues { (path: $0.path, hash: $0.narHash) }, key: mallory.key,
                         kid: LautTrace.keyID(for: bob.publicKey))
        }
        let r = try Self.verify(x.g, x.b, policy: policy, traces: try x.g.build(x.b, by: alice).signed(), laut: forged)
        XCTAssertFalse(r.verified)
        XCTAssertEqual(r.lowestFailures.map(\.derivation), [x.a], r.dump)
        XCTAssertTrue(r.step(x.a).rejected.contains { $0.contains("no policy key's signature verifies") }, r.dump)
    }

    /// The same builder's Vouch trace and laut trace for one step count once.
    func testOneBuilderThroughBothFormatsCountsOnce() throws {
        let x = try CAChain()
        let alice = Builder("alice"), bob = Builder("bob")
        let policy = try Fixture.policy([alice, bob], trust: Fixture.threshold(2, [alice, bob]))
        let runB = try x.g.build(x.b, by: bob)
        let r = try Self.verify(x.g, x.b, policy: policy, traces: try runB.signed(), laut: try Self.lautTraces(runB, key: bob.key, graph: x.g))
        XCTAssertFalse(r.verified)
        XCTAssertEqual(r.step(x.a).signers, ["bob"], r.dump)
        XCTAssertEqual(r.lowestFailures.map(\.derivation), [x.a])
    }

    /// laut traces carry no time: a key with a validity window does not count them.
    func testLautTraceDoesNotCountForKeyWithValidityWindow() throws {
        let x = try CAChain()
        let bob = Builder("bob")
        let policy = try Fixture.policy([bob], criteria: ["bob": "not-before = \"2026-01-01T00:00:00Z\""], trust: "threshold = 1\nof = [\"bob\"]")
        let r = try Self.verify(x.g, x.a, policy: policy, laut: try Self.lautTraces(try x.g.build(x.a, by: bob), key: bob.key, graph: x.g))
        XCTAssertFalse(r.verified)
        XCTAssertTrue(r.step(x.a).rejected.contains { $0.contains("validity window") }, r.dump)
    }

    /// A laut trace for a step built on input content nobody vouched for names another resolved
    /// derivation, so it is not evidence for the step: missing evidence, not a rejection.
    func testLautTraceForAnotherResolutionIsMissingEvidence() throws {
        let x = try CAChain()
        var bob = Builder("bob")
        let policy = try Fixture.policy([bob], trust: "threshold = 1\nof = [\"bob\"]")
        let honest = try x.g.build(x.b, by: bob)
        bob.content["ca-a!out"] = "another a"
        let skewed = try x.g.build(x.b, by: bob)
        XCTAssertNotEqual(honest.resolved[x.b], skewed.resolved[x.b], "premise")
        let laut = try Self.lautTraces(honest, key: bob.key, graph: x.g, only: [x.a]) + Self.lautTraces(skewed, key: bob.key, graph: x.g, only: [x.b])
        let r = try Self.verify(x.g, x.b, policy: policy, laut: laut)
        XCTAssertFalse(r.verified)
        XCTAssertEqual(r.step(x.a).status, .verified, r.dump)
        XCTAssertEqual(r.lowestFailures.map(\.derivation), [x.b], r.dump)
        XCTAssertEqual(r.step(x.b).reason, "missing evidence: no trace for this step", r.dump)
    }
}
