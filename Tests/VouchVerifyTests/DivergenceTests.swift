import NixFormats
import VouchTrace
import VouchVerify
import XCTest

/// Builders that disagree: lies, non-reproducible steps, convergence downstream, and entries whose
/// resolution is not the verifier's own.
final class DivergenceTests: XCTestCase {
    /// src → a → b → c (target) ← d ← src2; all input-addressed, d independent of a.
    struct Diamond {
        let g = Graph()
        var a = "", b = "", c = "", d = ""
        init() throws {
            a = try g.add("a", srcs: [g.source("a-src.txt")])
            d = try g.add("d", srcs: [g.source("d-src.txt")])
            b = try g.add("b", inputs: [(a, "out")])
            c = try g.add("c", inputs: [(b, "out"), (d, "out")])
        }
    }

    /// Under 2-of-2 a liar's wrong NAR hash for `a`, which its own later builds use, makes it diverge
    /// from the honest builder on everything built from `a`: per docs/policy.md intermediate
    /// divergence is kept (a and b still pass on their counted signers, each listing both contents),
    /// but no content of the target's output is vouched for by both, so the target fails — and
    /// only the target; d, which does not depend on a, passes with one agreed content.
    func testLiarDivergesOnEverythingDownstreamOfTheLie() throws {
        let x = try Diamond()
        let alice = Builder("alice")
        var bob = Builder("bob")
        bob.lie["a!out"] = "not what the build produced"
        let policy = try Fixture.policy([alice, bob], trust: Fixture.threshold(2, [alice, bob]))
        let ra = try x.g.build(x.c, by: alice), rb = try x.g.build(x.c, by: bob)
        let r = try Fixture.verify(x.g, x.c, policy: policy, traces: try ra.signed() + rb.signed())

        XCTAssertFalse(r.verified, r.dump)
        XCTAssertEqual(r.steps.filter { $0.status == .failed }.map(\.derivation), [x.c], r.dump)
        XCTAssertEqual(r.lowestFailures.map(\.derivation), [x.c], r.dump)
        XCTAssertTrue(r.reason?.contains("builders disagree on output 'out'") ?? false, r.dump)
        XCTAssertTrue(r.step(x.c).reason?.contains("disagree") ?? false, r.dump)
        for s in [x.a, x.b] {
            XCTAssertEqual(r.step(s).status, .verified, r.dump)
            XCTAssertEqual(r.step(s).outputs["out"]?.count, 2, "both contents kept: \(r.dump)")
            XCTAssertEqual(Set(r.step(s).outputs["out"]!.map(\.signers)), [["alice"], ["bob"]])
        }
        XCTAssertEqual(r.step(x.a).outputs["out"]!.first { $0.signers == ["bob"] }?.narHash,
                       rb.outputs[x.a]!["out"]!.narHash.encoded(.nix32))
        XCTAssertEqual(r.step(x.d).status, .verified)
        XCTAssertEqual(r.step(x.d).outputs["out"]?.count, 1)
        XCTAssertEqual(r.step(x.d).outputs["out"]?.first?.signers, ["alice", "bob"])
        XCTAssertEqual(r.step(x.c).outputs["out"]?.count, 2, r.dump)

        // The same lie under 2-of-3 with two honest builders: their content satisfies the rule alone.
        let carol = Builder("carol")
        let p3 = try Fixture.policy([alice, bob, carol], trust: Fixture.threshold(2, [alice, bob, carol]))
        let r3 = try Fixture.verify(x.g, x.c, policy: p3, traces: try ra.signed() + rb.signed() + x.g.build(x.c, by: carol).signed())
        XCTAssertTrue(r3.verified, r3.dump)
        XCTAssertEqual(r3.step(x.c).outputs["out"]?.first { $0.signers.count == 2 }?.signers, ["alice", "carol"])
    }

    /// A lie only in the trace of `a` (the liar's later builds used the real content): the lie is
    /// an accepted but unused content of `a`; everything downstream converges and the closure passes.
    func testLieNobodyUsesIsHarmless() throws {
        let x = try Diamond()
        let alice = Builder("alice"), bob = Builder("bob")
        let policy = try Fixture.policy([alice, bob], trust: Fixture.threshold(2, [alice, bob]))
        var bobTraces = try x.g.build(x.c, by: bob).traces
        let i = bobTraces.firstIndex { $0.derivation.absolute == x.a }!
        bobTraces[i].outputs[0].narHash = HashAlgorithm.sha256.digest(Array("lie".utf8))
        let r = try Fixture.verify(x.g, x.c, policy: policy,
                                   traces: try x.g.build(x.c, by: alice).signed() + bobTraces.map { try SignedTrace(signing: $0, with: bob.key) })
        XCTAssertTrue(r.verified, r.dump)
        XCTAssertEqual(r.step(x.a).outputs["out"]?.count, 2)
        XCTAssertEqual(r.step(x.b).outputs["out"]?.count, 1)
    }

    func testLieOnTheTargetItselfFailsOnlyTheTarget() throws {
        let x = try Diamond()
        let alice = Builder("alice")
        var bob = Builder("bob")
        bob.lie["c!out"] = "lie"
        let policy = try Fixture.policy([alice, bob], trust: Fixture.threshold(2, [alice, bob]))
        let r = try Fixture.verify(x.g, x.c, policy: policy, traces: try x.g.build(x.c, by: alice).signed() + x.g.build(x.c, by: bob).signed())
        XCTAssertFalse(r.verified)
        XCTAssertEqual(r.statuses, [x.a: .verified, x.b: .verified, x.d: .verified, x.c: .failed], r.dump)
        XCTAssertEqual(r.lowestFailures.map(\.derivation), [x.c])
    }

    /// Wanted outputs: disagreement on `dev` does not affect a verification of `out` alone.
    func testDisagreementOnAnUnwantedOutput() throws {
        let g = Graph()
        let t = try g.add("multi", outputs: ["out", "dev"], srcs: [g.source("m.txt")])
        let alice = Builder("alice")
        var bob = Builder("bob")
        bob.content["multi!dev"] = "timestamped headers"
        let policy = try Fixture.policy([alice, bob], trust: Fixture.threshold(2, [alice, bob]))
        let traces = try g.build(t, by: alice).signed() + g.build(t, by: bob).signed()
        let all = try Fixture.verify(g, t, policy: policy, traces: traces)
        XCTAssertFalse(all.verified)
        XCTAssertTrue(all.reason?.contains("output 'dev'") ?? false, all.dump)
        XCTAssertFalse(all.reason?.contains("output 'out'") ?? true, all.dump)
        XCTAssertTrue(try Fixture.verify(g, t, policy: policy, traces: traces, outputs: ["out"]).verified)
        XCTAssertFalse(try Fixture.verify(g, t, policy: policy, traces: traces, outputs: ["dev"]).verified)
        XCTAssertThrowsError(try Fixture.verify(g, t, policy: policy, traces: traces, outputs: ["lib"])) { error in
            XCTAssertTrue("\(error)".contains("no output 'lib'"), "\(error)")
        }
    }

    // MARK: content-addressed

    /// a (CA) → b (CA) → t (deferred IA). Builders get different contents for `a`, so each resolves
    /// `b` differently, but `b` converges on one content; the verifier must resolve `b` per entry.
    struct CAChain {
        let g = Graph()
        var a = "", b = "", t = ""
        init() throws {
            a = try g.add("ca-a", .ca, srcs: [g.source("ca-src.txt")])
            b = try g.add("ca-b", .ca, inputs: [(a, "out")])
            t = try g.add("on-ca", inputs: [(b, "out")])
        }
    }

    func testPremiseCAChainKinds() throws {
        let x = try CAChain()
        guard case .floatingContentAddressed = try x.g.kind(x.a), case .floatingContentAddressed = try x.g.kind(x.b),
              case .deferred = try x.g.kind(x.t) else { return XCTFail("kinds") }
        let run = try x.g.build(x.t, by: Builder("alice"))
        XCTAssertEqual(run.traces.count, 5, "a; b resolved + unresolved; t resolved + unresolved")
        XCTAssertEqual(run.stepTraces(x.b).count, 2)
        XCTAssertEqual(run.stepTraces(x.b).last?.resolvedDerivation, run.resolved[x.b])
        XCTAssertEqual(run.stepTraces(x.b).last?.inputs.first?.derivation?.absolute, x.a)
        XCTAssertNil(run.stepTraces(x.b).first?.inputs.first?.derivation, "the resolved trace is not annotated")
        XCTAssertNil(run.stepTraces(x.t).first?.resolvedDerivation, "a resolved deferred drv is input-addressed")
    }

    func testDivergentIntermediateConvergingDownstreamPasses() throws {
        let x = try CAChain()
        var alice = Builder("alice"), bob = Builder("bob")
        bob.content["ca-a!out"] = "bob's non-reproducible a"
        alice.content["ca-b!out"] = "b"
        bob.content["ca-b!out"] = "b"
        let ra = try x.g.build(x.t, by: alice), rb = try x.g.build(x.t, by: bob)
        XCTAssertNotEqual(ra.outputs[x.a]!["out"]!.path, rb.outputs[x.a]!["out"]!.path, "premise: a diverges")
        XCTAssertNotEqual(ra.resolved[x.b], rb.resolved[x.b], "premise: b resolves differently per builder")
        XCTAssertEqual(ra.outputs[x.b]!["out"], rb.outputs[x.b]!["out"], "premise: b converges")
        XCTAssertEqual(ra.resolved[x.t], rb.resolved[x.t], "premise: t resolves the same")

        let policy = try Fixture.policy([alice, bob], trust: Fixture.threshold(2, [alice, bob]))
        let r = try Fixture.verify(x.g, x.t, policy: policy, traces: try ra.signed() + rb.signed())
        XCTAssertTrue(r.verified, r.dump)
        XCTAssertEqual(r.steps.map(\.derivation), [x.a, x.b, x.t])
        XCTAssertEqual(r.step(x.a).kind, "content-addressed")
        XCTAssertEqual(r.step(x.t).kind, "deferred")
        XCTAssertEqual(r.step(x.a).outputs["out"]?.count, 2, r.dump)
        XCTAssertEqual(r.step(x.b).outputs["out"]?.map(\.signers), [["alice", "bob"]], r.dump)
        XCTAssertEqual(r.step(x.b).outputs["out"]?.first?.path, ra.outputs[x.b]!["out"]!.path.absolute)
        XCTAssertEqual(r.step(x.t).outputs["out"]?.map(\.signers), [["alice", "bob"]], r.dump)
        XCTAssertTrue(r.steps.allSatisfy { $0.status == .verified && $0.rejected.isEmpty }, r.dump)

        // Only the unresolved entries (no resolved traces): the verifier resolves each itself.
        let unresolvedOnly = try (ra.signed() + rb.signed()).filter { s in !(ra.resolved.values.contains(s.trace.derivation) || rb.resolved.values.contains(s.trace.derivation)) }
        XCTAssertEqual(unresolvedOnly.count, 6)
        XCTAssertTrue(try Fixture.verify(x.g, x.t, policy: policy, traces: unresolvedOnly).verified)

        // CA target: b itself.
        let rbTarget = try Fixture.verify(x.g, x.b, policy: policy, traces: try ra.signed() + rb.signed())
        XCTAssertTrue(rbTarget.verified, rbTarget.dump)
    }

    /// Resolved entries alone (the hook's first call for a CA step) are evidence when every input
    /// has one accepted path, so the verifier can compute the one resolution itself.
    func testResolvedEntriesAloneWithUniqueInputs() throws {
        let x = try CAChain()
        let alice = Builder("alice"), bob = Builder("bob")
        let ra = try x.g.build(x.t, by: alice), rb = try x.g.build(x.t, by: bob)
        let resolvedOnly = try (ra.signed() + rb.signed()).filter { $0.trace.derivation.absolute != x.b && $0.trace.derivation.absolute != x.t }
        XCTAssertEqual(resolvedOnly.count, 6)
        let policy = try Fixture.policy([alice, bob], trust: Fixture.threshold(2, [alice, bob]))
        let r = try Fixture.verify(x.g, x.t, policy: policy, traces: resolvedOnly)
        XCTAssertTrue(r.verified, r.dump)
        XCTAssertEqual(r.step(x.b).signers, ["alice", "bob"])
    }

    func testDivergentIntermediateNotConvergingFailsTheTarget() throws {
        let x = try CAChain()
        let alice = Builder("alice")
        var bob = Builder("bob")
        bob.content["ca-a!out"] = "bob's non-reproducible a"
        let policy = try Fixture.policy([alice, bob], trust: Fixture.threshold(2, [alice, bob]))
        let r = try Fixture.verify(x.g, x.t, policy: policy, traces: try x.g.build(x.t, by: alice).signed() + x.g.build(x.t, by: bob).signed())
        XCTAssertFalse(r.verified, r.dump)
        XCTAssertEqual(r.step(x.a).status, .verified)
        XCTAssertEqual(r.step(x.b).status, .verified)
        XCTAssertEqual(r.step(x.b).outputs["out"]?.count, 2)
        XCTAssertEqual(r.lowestFailures.map(\.derivation), [x.t])
        XCTAssertTrue(r.reason?.contains("builders disagree on output 'out'") ?? false, r.dump)
    }

    /// An unresolved CA entry naming a resolution other than the one its own inputs give is rejected.
    func testCAEntryWithWrongResolvedDerivationIsRejected() throws {
        let x = try CAChain()
        let alice = Builder("alice")
        var other = alice
        other.content["ca-a!out"] = "another a"
        let policy = try Fixture.policy([alice], trust: "threshold = 1\nof = [\"alice\"]")
        let run = try x.g.build(x.b, by: alice)
        let sane = try Fixture.verify(x.g, x.b, policy: policy, traces: try run.signed())
        XCTAssertTrue(sane.verified, sane.dump)

        var unresolved = run.stepTraces(x.b).last!
        XCTAssertEqual(unresolved.derivation.absolute, x.b)
        unresolved.resolvedDerivation = try x.g.build(x.b, by: other).resolved[x.b]!   // a real resolution of b, from another a
        let traces = [try run.signed()[0], try SignedTrace(signing: unresolved, with: alice.key)]
        let r = try Fixture.verify(x.g, x.b, policy: policy, traces: traces)
        XCTAssertFalse(r.verified, r.dump)
        XCTAssertEqual(r.lowestFailures.map(\.derivation), [x.b])
        XCTAssertTrue(r.step(x.b).rejected.contains { $0.contains("names resolution \(unresolved.resolvedDerivation!.absolute)") && $0.contains(run.resolved[x.b]!.absolute) }, r.dump)

        // A resolved entry for a derivation that is not the verifier's resolution is no evidence at all.
        let foreign = try x.g.build(x.b, by: other)
        let r2 = try Fixture.verify(x.g, x.b, policy: policy, traces: [try run.signed()[0], try SignedTrace(signing: foreign.stepTraces(x.b)[0], with: alice.key)])
        XCTAssertFalse(r2.verified, r2.dump)
        XCTAssertEqual(r2.step(x.b).reason, "missing evidence: no trace for this step", r2.dump)
    }

    /// A CA entry whose resolution record has one input more than the resolution is rejected, the
    /// unresolved and the resolved entry alike.
    func testCAEntryWithExtraInputIsRejected() throws {
        let x = try CAChain()
        let alice = Builder("alice")
        let policy = try Fixture.policy([alice], trust: "threshold = 1\nof = [\"alice\"]")
        let run = try x.g.build(x.b, by: alice)
        let extra = BuildTrace.Input(path: try StorePath(absolutePath: x.g.source("smuggled.sh")), narHash: Graph.srcHash("smuggled"))
        var signed = [try run.signed()[0]]
        for var t in run.stepTraces(x.b) {
            t.inputs.append(extra)
            signed.append(try SignedTrace(signing: t, with: alice.key))
        }
        let r = try Fixture.verify(x.g, x.b, policy: policy, traces: signed)
        XCTAssertFalse(r.verified, r.dump)
        XCTAssertEqual(r.step(x.b).signers, [])
        XCTAssertEqual(r.step(x.b).rejected.filter { $0.contains("extra: \(extra.path.absolute)") }.count, 2, r.dump)

        // ... and one input fewer.
        var missing = [try run.signed()[0]]
        for var t in run.stepTraces(x.b) {
            t.inputs.removeAll()
            missing.append(try SignedTrace(signing: t, with: alice.key))
        }
        let r2 = try Fixture.verify(x.g, x.b, policy: policy, traces: missing)
        XCTAssertFalse(r2.verified, r2.dump)
    }

    /// An unresolved entry that used an `a` output no accepted build produced.
    func testCAEntryUsingAnUnverifiedInputIsRejected() throws {
        let x = try CAChain()
        let alice = Builder("alice")
        var mallory = alice
        mallory.content["ca-a!out"] = "backdoored a"
        let policy = try Fixture.policy([alice], trust: "threshold = 1\nof = [\"alice\"]")
        let honest = try x.g.build(x.b, by: alice), evil = try x.g.build(x.b, by: mallory)
        // a's honest trace, but b's entries from a build on the backdoored a (never vouched for).
        let traces = [try honest.signed()[0]] + (try evil.signed().filter { $0.trace.derivation.absolute != x.a })
        let r = try Fixture.verify(x.g, x.b, policy: policy, traces: traces)
        XCTAssertFalse(r.verified, r.dump)
        XCTAssertTrue(r.step(x.b).rejected.contains { $0.contains("not a verified output") }, r.dump)
    }

    // MARK: input-addressed closure

    func testIAEntryWithWrongInputsIsRejected() throws {
        let x = try Diamond()
        let alice = Builder("alice")
        let policy = try Fixture.policy([alice], trust: "threshold = 1\nof = [\"alice\"]")
        let run = try x.g.build(x.c, by: alice)
        func with(_ edit: (inout BuildTrace) -> Void) throws -> VerificationReport {
            let traces = try run.traces.map { t -> SignedTrace in
                var t = t
                if t.derivation.absolute == x.b { edit(&t) }
                return try SignedTrace(signing: t, with: alice.key)
            }
            return try Fixture.verify(x.g, x.c, policy: policy, traces: traces)
        }
        XCTAssertTrue(try with { _ in }.verified)

        let r1 = try with { $0.inputs[0].narHash = HashAlgorithm.sha256.digest(Array("other a".utf8)) }
        XCTAssertFalse(r1.verified)
        XCTAssertEqual(r1.lowestFailures.map(\.derivation), [x.b])
        XCTAssertTrue(r1.step(x.b).rejected.contains { $0.contains("no accepted build of that input produced") }, r1.dump)

        let r2 = try with { $0.inputs.append(.init(path: try! StorePath(absolutePath: x.g.source("extra")), narHash: Graph.srcHash("extra"))) }
        XCTAssertTrue(r2.step(x.b).rejected.contains { $0.contains("extra:") }, r2.dump)

        let r3 = try with { $0.inputs.removeAll() }
        XCTAssertTrue(r3.step(x.b).rejected.contains { $0.contains("missing:") }, r3.dump)

        let r4 = try with { $0.outputs[0].path = try! StorePath(absolutePath: x.g[x.a].outputs["out"]!.path) }
        XCTAssertTrue(r4.step(x.b).rejected.contains { $0.contains("the derivation fixes") }, r4.dump)

        let r5 = try with { $0.outputs.append(.init(name: "dev", path: $0.outputs[0].path, narHash: $0.outputs[0].narHash, narSize: 1)) }
        XCTAssertTrue(r5.step(x.b).rejected.contains { $0.contains("are not the derivation's") }, r5.dump)
    }
}
