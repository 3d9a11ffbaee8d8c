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
