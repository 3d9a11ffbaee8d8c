import NixFormats
import VouchTrace
import VouchVerify
import XCTest

/// Who counts, and how many: thresholds, one count per key, key criteria.
final class ThresholdTests: XCTestCase {
    /// src → a → b (out, dev) → c, all input-addressed.
    struct Chain {
        let g = Graph()
        var src = "", a = "", b = "", c = ""
        init() throws {
            src = g.source("src-\(UInt32.random(in: 0...UInt32.max)).txt")
            a = try g.add("a", srcs: [src])
            b = try g.add("b", outputs: ["out", "dev"], inputs: [(a, "out")])
            c = try g.add("c", inputs: [(b, "out"), (b, "dev")], srcs: [src])
        }
        var steps: [String] { [a, b, c] }
    }

    func testTwoOfThree() throws {
        let ch = try Chain()
        let alice = Builder("alice"), bob = Builder("bob"), carol = Builder("carol")
        let all = [alice, bob, carol]
        let policy = try Fixture.policy(all, trust: Fixture.threshold(2, all))
        let t = try Dictionary(uniqueKeysWithValues: all.map { ($0.name, try ch.g.build(ch.c, by: $0).signed()) })

        for pair in [["alice", "bob"], ["alice", "carol"], ["bob", "carol"], ["alice", "bob", "carol"]] {
            let r = try Fixture.verify(ch.g, ch.c, policy: policy, traces: pair.flatMap { t[$0]! })
            XCTAssertTrue(r.verified, "\(pair)\n\(r.dump)")
            XCTAssertNil(r.reason)
            XCTAssertEqual(r.steps.map(\.derivation), ch.steps, "inputs first")
            // Checking stops once the rule is met: with all three, two of them are counted.
            let counted = pair.count == 3 ? 2 : pair.count
            for s in r.steps {
                XCTAssertEqual(s.status, .verified, r.dump)
                XCTAssertEqual(s.signers.count, counted, r.dump)
                XCTAssertTrue(Set(s.signers).isSubset(of: pair), r.dump)
                XCTAssertFalse(s.isLowestFailure)
                XCTAssertEqual(s.kind, "input-addressed")
            }
            XCTAssertEqual(r.step(ch.b).outputs.keys.sorted(), ["dev", "out"])
            XCTAssertEqual(r.step(ch.c).outputs["out"]?.count, 1, "one agreed content")
            XCTAssertEqual(r.step(ch.c).outputs["out"]?.first?.signers, r.step(ch.c).signers)
            XCTAssertEqual(r.step(ch.c).outputs["out"]?.first?.path, ch.g[ch.c].outputs["out"]!.path)
        }

        for one in ["alice", "bob", "carol"] {
            let r = try Fixture.verify(ch.g, ch.c, policy: policy, traces: t[one]!)
            XCTAssertFalse(r.verified, r.dump)
            XCTAssertEqual(r.lowestFailures.map(\.derivation), [ch.a], r.dump)
            let reason = r.step(ch.a).reason ?? ""
            XCTAssertTrue(reason.contains("{\(one)}"), "names the counted signers: \(reason)")
            XCTAssertTrue(reason.contains("2 of (alice, bob, carol)"), "names the rule: \(reason)")
            XCTAssertEqual(r.step(ch.a).signers, [one])
            for s in [ch.b, ch.c] {
                XCTAssertEqual(r.step(s).status, .failed)
                XCTAssertFalse(r.step(s).isLowestFailure, "dependents of a failure are not where the closure breaks")
                XCTAssertTrue(r.step(s).reason?.contains("input step not verified") ?? false, r.dump)
            }
            XCTAssertNotNil(r.reason)
        }
    }

    func testOneOfThreeFailsOnASingleStepTargetWithTheRuleInTheReportReason() throws {
        let g = Graph()
        let t = try g.add("single", srcs: [g.source("s.txt")])
        let alice = Builder("alice"), bob = Builder("bob"), carol = Builder("carol")
        let policy = try Fixture.policy([alice, bob, carol], trust: Fixture.threshold(2, [alice, bob, carol]))
        let r = try Fixture.verify(g, t, policy: policy, traces: try g.build(t, by: carol).signed())
        XCTAssertFalse(r.verified)
        let reason = try XCTUnwrap(r.reason)
        XCTAssertTrue(reason.contains("{carol}") && reason.contains("2 of (alice, bob, carol)"), reason)
        XCTAssertEqual(r.lowestFailures.map(\.derivation), [t])
    }

    func testNestedThreshold() throws {
        let ch = try Chain()
        let alice = Builder("alice"), bob = Builder("bob"), carol = Builder("carol"), dave = Builder("dave")
        let policy = try Fixture.policy([alice, bob, carol, dave], trust: """
            threshold = 2
            of = ["alice", "bob", { threshold = 1, of = ["carol", "dave"] }]
            """)
        XCTAssertEqual(policy.rule, .threshold(2, [.key("alice"), .key("bob"), .threshold(1, [.key("carol"), .key("dave")])]))
        var runs: [String: [SignedTrace]] = [:]
        for b in [alice, bob, carol, dave] { runs[b.name] = try ch.g.build(ch.c, by: b).signed() }
        for (who, ok) in [(["alice", "bob"], true), (["alice", "carol"], true), (["bob", "dave"], true),
                          (["carol", "dave"], false), (["alice"], false), (["dave"], false), (["carol", "dave", "alice"], true)] {
            let r = try Fixture.verify(ch.g, ch.c, policy: policy, traces: who.flatMap { runs[$0]! })
            XCTAssertEqual(r.verified, ok, "\(who)\n\(r.dump)")
        }
    }

    // MARK: each key once

    func testOneKeySigningTwoDifferentOutputsCountsOnce() throws {
        let g = Graph()
        let t = try g.add("nondet", srcs: [g.source("s.txt")])
        let alice = Builder("alice"), bob = Builder("bob")
        var alice2 = alice
        alice2.content["nondet!out"] = "second build"
        let first = try g.build(t, by: alice).signed(), second = try g.build(t, by: alice2).signed()
        XCTAssertNotEqual(first[0].trace.outputs[0].narHash, second[0].trace.outputs[0].narHash, "premise")

        let twoOfTwo = try Fixture.policy([alice, bob], trust: Fixture.threshold(2, [alice, bob]))
        let r = try Fixture.verify(g, t, policy: twoOfTwo, traces: first + second)
        XCTAssertFalse(r.verified, r.dump)
        XCTAssertEqual(r.step(t).signers, ["alice"])
        XCTAssertTrue(r.step(t).reason?.contains("{alice}") ?? false, r.dump)

        // The same envelope twice, and one envelope signed twice by the same key.
        var doubled = first[0].envelope
        doubled.sign(with: alice.key)
        XCTAssertEqual(doubled.signatures.count, 2)
        let twice = try SignedTrace(parsing: doubled.json, source: "twice")
        let r2 = try Fixture.verify(g, t, policy: twoOfTwo, traces: first + first + [twice])
        XCTAssertFalse(r2.verified, r2.dump)
        XCTAssertEqual(r2.step(t).signers, ["alice"])

        // With 1-of-2 either content satisfies the rule on its own: both are reported.
        let oneOfTwo = try Fixture.policy([alice, bob], trust: Fixture.threshold(1, [alice, bob]))
        let r3 = try Fixture.verify(g, t, policy: oneOfTwo, traces: first + second)
        XCTAssertTrue(r3.verified, r3.dump)
        XCTAssertEqual(r3.step(t).outputs["out"]?.count, 2, r3.dump)
        XCTAssertEqual(r3.step(t).outputs["out"]?.allSatisfy { $0.signers == ["alice"] }, true)
    }

    func testCoSignatureByAnotherKeyDoesNotCountForIt() throws {
        let g = Graph()
        let t = try g.add("cosigned", srcs: [g.source("s.txt")])
        let alice = Builder("alice"), bob = Builder("bob")
        let policy = try Fixture.policy([alice, bob], trust: Fixture.threshold(2, [alice, bob]))
        // Alice's trace, countersigned by bob: it names alice as builder, so it is evidence of alice only.
        var envelope = try g.build(t, by: alice).signed()[0].envelope
        envelope.sign(with: bob.key)
        let cosigned = try SignedTrace(parsing: envelope.json, source: "cosigned")
        let r = try Fixture.verify(g, t, policy: policy, traces: [cosigned])
        XCTAssertFalse(r.verified, r.dump)
        XCTAssertEqual(r.step(t).signers, ["alice"])

        // A trace naming bob as its builder but signed only by alice counts for nobody.
        let bobsClaim = try g.build(t, by: bob).traces[0]
        let forged = try Fixture.signed(bobsClaim, by: alice.key)
        let r2 = try Fixture.verify(g, t, policy: policy, traces: [forged] + (try g.build(t, by: alice).signed()))
        XCTAssertFalse(r2.verified, r2.dump)
        XCTAssertEqual(r2.step(t).signers, ["alice"])
        XCTAssertTrue(r2.step(t).rejected.contains { $0.contains("bob") && $0.contains("signature does not verify") }, r2.dump)
    }

    func testKeyNotInPolicyIsRejectedWithReason() throws {
        let g = Graph()
        let t = try g.add("x", srcs: [g.source("s.txt")])
        let alice = Builder("alice"), mallory = Builder("mallory")
        let policy = try Fixture.policy([alice], trust: "threshold = 1\nof = [\"alice\"]")
        let r = try Fixture.verify(g, t, policy: policy, traces: try g.build(t, by: mallory).signed())
        XCTAssertFalse(r.verified)
        XCTAssertTrue(r.step(t).rejected.contains { $0.contains("mallory-1") && $0.contains("not in the policy") }, r.dump)
        XCTAssertTrue(r.step(t).reason?.contains("no usable trace") ?? false, r.dump)
    }

    /// Several names for one public key must not make verification depend on dictionary order:
    /// a policy listing one key twice is refused, or a trace by that key counts for the name the
    /// rule uses, every time.
    func testKeyListedUnderSeveralNamesIsRefusedOrCountsDeterministically() throws {
        let g = Graph()
        let t = try g.add("x", srcs: [g.source("s.txt")])
        let alice = Builder("alice")
        let text = """
            [keys]
            \((0..<16).map { "alias\($0) = \"\(alice.publicKey)\"" }.joined(separator: "\n"))
            [trust]
            threshold = 1
            of = ["alias7"]
            """
        let traces = try g.build(t, by: alice).signed()
        var outcomes: [Bool] = []
        for _ in 0..<64 {
            let policy: Policy
            do { policy = try Policy(toml: text, source: "dup.toml") } catch { return }  // refusing is fine
            outcomes.append(try Fixture.verify(g, t, policy: policy, traces: traces).verified)
        }
        XCTAssertEqual(Set(outcomes), [true], "one key under 16 names, rule names one of them: verified \(outcomes.filter { $0 }.count) of 64 times (Policy.countedSigner takes the first name for the key in dictionary order)")
    }

    // MARK: per-key criteria

    func testValidityWindow() throws {
        let g = Graph()
        let t = try g.add("timed", srcs: [g.source("s.txt")])
        var carol = Builder("carol")
        let window = "not-before = \"2026-01-01T00:00:00Z\", not-after = \"2026-10-31T23:59:59Z\""
        let policy = try Fixture.policy([carol], criteria: ["carol": window], trust: "threshold = 1\nof = [\"carol\"]")

        for (time, counts, why) in [("2026-06-01T12:00:00Z", true, ""), ("2026-01-01T00:00:00Z", true, ""), ("2026-10-31T23:59:59Z", true, ""),
                                    ("2026-11-01T00:00:00Z", false, "after its validity window"),
                                    ("2025-12-31T23:59:59Z", false, "before its validity window")] as [(String, Bool, String)] {
            carol.finishedOn = time
            let r = try Fixture.verify(g, t, policy: policy, traces: try g.build(t, by: carol).signed())
            XCTAssertEqual(r.verified, counts, "\(time)\n\(r.dump)")
            if !counts {
                XCTAssertTrue(r.step(t).rejected.contains { $0.contains(why) && $0.contains(time) }, r.dump)
                XCTAssertEqual(r.step(t).signers, [])
            }
        }
        carol.finishedOn = nil
        let r = try Fixture.verify(g, t, policy: policy, traces: try g.build(t, by: carol).signed())
        XCTAssertFalse(r.verified)
        XCTAssertTrue(r.step(t).rejected.contains { $0.contains("no time") }, r.dump)
    }

    func testRotationOldKeyStopsCountingNewKeyCounts() throws {
        let ch = try Chain()
        var old = Builder("carol"), new = Builder("carol2")
        let policy = try Fixture.policy([old, new], criteria: [
            "carol": "not-after = \"2026-03-31T23:59:59Z\"", "carol2": "not-before = \"2026-04-01T00:00:00Z\"",
        ], trust: "threshold = 1\nof = [\"carol\", \"carol2\"]")
        old.finishedOn = "2026-06-01T00:00:00Z"
        new.finishedOn = "2026-06-01T00:00:00Z"
        let stale = try ch.g.build(ch.c, by: old).signed()
        XCTAssertFalse(try Fixture.verify(ch.g, ch.c, policy: policy, traces: stale).verified)
        XCTAssertTrue(try Fixture.verify(ch.g, ch.c, policy: policy, traces: stale + (try ch.g.build(ch.c, by: new).signed())).verified)
        old.finishedOn = "2026-03-01T00:00:00Z"
        XCTAssertTrue(try Fixture.verify(ch.g, ch.c, policy: policy, traces: try ch.g.build(ch.c, by: old).signed()).verified)
    }

    func testSystemsCriterion() throws {
        let g = Graph(platform: "aarch64-linux")
        let t = try g.add("arm", srcs: [g.source("s.txt")])
        var bob = Builder("bob")
        let policy = try Fixture.policy([bob], criteria: ["bob": "systems = [\"x86_64-linux\"]"], trust: "threshold = 1\nof = [\"bob\"]")
        let r = try Fixture.verify(g, t, policy: policy, traces: try g.build(t, by: bob).signed())
        XCTAssertFalse(r.verified, r.dump)
        XCTAssertTrue(r.step(t).rejected.contains { $0.contains("not trusted for system aarch64-linux") }, r.dump)

        let x86 = Graph(platform: "x86_64-linux")
        let u = try x86.add("intel", srcs: [x86.source("s.txt")])
        XCTAssertTrue(try Fixture.verify(x86, u, policy: policy, traces: try x86.build(u, by: bob).signed()).verified)

        // A trace claiming a system the derivation is not for is not evidence for it: otherwise a
        // key restricted to x86_64-linux vouches for aarch64-linux builds by saying "x86_64-linux".
        bob.system = "x86_64-linux"
        let lying = try Fixture.verify(g, t, policy: policy, traces: try g.build(t, by: bob).signed())
        XCTAssertFalse(lying.verified, "trace.system is not checked against the derivation's platform (Verifier.check / Policy.countedSigner)\n\(lying.dump)")
    }

    func testMustHaveBuiltAndAttestation() throws {
        let g = Graph()
        let t = try g.add("x", srcs: [g.source("s.txt")])
        let dave = Builder("dave")
        var trace = try g.build(t, by: dave).traces[0]
        trace.builtBySigner = false
        let copied = try SignedTrace(signing: trace, with: dave.key)

        let strict = try Fixture.policy([dave], trust: "threshold = 1\nof = [\"dave\"]")
        let r = try Fixture.verify(g, t, policy: strict, traces: [copied])
        XCTAssertFalse(r.verified)
        XCTAssertTrue(r.step(t).rejected.contains { $0.contains("does not claim to have built it") }, r.dump)
        let lax = try Fixture.policy([dave], criteria: ["dave": "must-have-built = false"], trust: "threshold = 1\nof = [\"dave\"]")
        XCTAssertTrue(try Fixture.verify(g, t, policy: lax, traces: [copied]).verified)

        let attested = try Fixture.policy([dave], criteria: ["dave": "attestation = \"tpm2-quote\""], trust: "threshold = 1\nof = [\"dave\"]")
        let plain = try g.build(t, by: dave).signed()
        let r2 = try Fixture.verify(g, t, policy: attested, traces: plain)
        XCTAssertFalse(r2.verified)
        XCTAssertTrue(r2.step(t).rejected.contains { $0.contains("tpm2-quote") }, r2.dump)
        var withQuote = try g.build(t, by: dave).traces[0]
        withQuote.attestations = [.init(type: "tpm2-quote", evidence: [1, 2, 3])]
        XCTAssertTrue(try Fixture.verify(g, t, policy: attested, traces: [try SignedTrace(signing: withQuote, with: dave.key)]).verified)
    }
}
