import NixFormats
import VouchTrace
import VouchVerify
import XCTest

/// Steps are judged in parallel as their inputs complete: the report must be the same every time.
final class LargeClosureTests: XCTestCase {
    /// 8 levels of 40 steps (every fifth floating CA, every seventh with a `dev` output), each
    /// using three steps of the level below, and a root using the top level: 321 steps.
    struct Wide {
        let g = Graph()
        var levels: [[String]] = []
        var root = ""
        init() throws {
            let src = g.source("src-wide.txt")
            for level in 0..<8 {
                var names: [String] = []
                for i in 0..<40 {
                    let kind: Graph.Kind = i % 5 == 0 ? .ca : .ia
                    let outputs = i % 7 == 0 ? ["out", "dev"] : ["out"]
                    let inputs = level == 0 ? [] : [i, (i * 3 + 1) % 40, (i + 17) % 40].map { (levels[level - 1][$0], "out") }
                    names.append(try g.add("w\(level)-\(i)", kind, outputs: outputs, inputs: inputs, srcs: level == 0 ? [src] : []))
                }
                levels.append(names)
            }
            root = try g.add("root", inputs: levels[7].map { ($0, "out") })
        }
    }

    /// A closure built from already loaded derivations has the order and contents of one loaded
    /// step by step (inputs before their users, shared inputs once), without the unreachable ones.
    func testClosureFromLoadedDerivationsMatchesTheLoadedOne() throws {
        let w = try Wide()
        let loaded = try Verifier.Closure(target: w.root) { path in
            try XCTUnwrap(w.g.drvs[path], path)
        }
        let given = try Verifier.Closure(target: w.root, derivations: w.g.drvs)
        XCTAssertTrue(given.order == loaded.order, "the orders differ")
        XCTAssertEqual(Set(given.derivations.keys), Set(loaded.derivations.keys))
        XCTAssertTrue(given.derivations.allSatisfy { loaded.derivations[$0.key] == $0.value }, "a derivation differs")
        var position: [String: Int] = [:]
        for (i, path) in given.order.enumerated() { position[path] = i }
        for (i, path) in given.order.enumerated() {
            for input in given.derivations[path]!.inputDrvs.keys { XCTAssertLessThan(position[input]!, i, "\(input) before \(path)") }
        }
        // From an inner step: only its own closure is kept.
        let inner = try Verifier.Closure(target: w.levels[2][0], derivations: w.g.drvs)
        XCTAssertEqual(inner.order.last, w.levels[2][0])
        XCTAssertEqual(Set(inner.derivations.keys), Set(inner.order))
        XCTAssertLessThan(inner.order.count, given.order.count)
        XCTAssertThrowsError(try Verifier.Closure(target: w.root, derivations: w.g.drvs.filter { $0.key != w.levels[0][0] }))

        // An input that is also an input of another input comes before both.
        let g = Graph()
        let y = try g.add("y", inputs: [])
        let x = try g.add("x", inputs: [(y, "out")])
        let a = try g.add("a", inputs: [(x, "out"), (y, "out")])
        let small = try Verifier.Closure(target: a, derivations: g.drvs)
        XCTAssertEqual(small.order, [y, x, a])
    }

    func testWideClosureIsJudgedTheSameEveryTime() throws {
        let w = try Wide()
        var carol = Builder("carol")
        carol.lie["w3-7!out"] = "carol's"
        let alice = Builder("alice"), bob = Builder("bob")
        let policy = try Fixture.policy([alice, bob, carol], trust: Fixture.threshold(2, [alice, bob, carol]))
        let traces = try [alice, bob, carol].flatMap { try w.g.build(w.root, by: $0).signed() }

        var first: [UInt8]?
        for _ in 0..<3 {
            let r = try Fixture.verify(w.g, w.root, policy: policy, traces: traces)
            XCTAssertTrue(r.verified, r.dump)
            XCTAssertEqual(r.steps.count, 321)
            XCTAssertEqual(Set(r.steps.map(\.status)), [.verified], r.dump)
            let lied = try XCTUnwrap(r.steps.first { $0.derivation == w.levels[3][7] })
            // carol's divergent content is kept beside the agreed one (maximal bundle).
            XCTAssertEqual(lied.outputs["out"]?.map(\.signers).sorted { $0.count > $1.count }, [["alice", "bob"], ["carol"]], r.dump)
            // Parallel judging: the same bytes every time.
            let bytes = r.canonicalJSON
            if let first { XCTAssertEqual(bytes, first) } else { first = bytes }
        }

        // Without bob, alice and carol diverge from w3-7 up; intermediate divergence is admitted,
        // the root fails because no content of its output satisfies the rule.
        let withoutBob = try [alice, carol].flatMap { try w.g.build(w.root, by: $0).signed() }
        let r = try Fixture.verify(w.g, w.root, policy: policy, traces: withoutBob)
        XCTAssertFalse(r.verified)
        XCTAssertEqual(r.lowestFailures.map(\.derivation), [w.root], r.dump)
        XCTAssertTrue(r.reason?.contains("builders disagree on output 'out'") ?? false, r.dump)
        XCTAssertEqual(r.steps.filter { $0.status != .verified }.map(\.derivation), [w.root], r.dump)
    }
}
