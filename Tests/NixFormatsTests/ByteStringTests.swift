import NixFormats
import XCTest

/// `ByteString.rewriting` is how a derivation is resolved (placeholders → realised paths), so its
/// bytes decide the resolved derivation's path: it must be exactly Nix's `rewriteStrings`.
final class ByteStringTests: XCTestCase {
    /// Nix's algorithm spelled out byte by byte: rules one after another in the given order, each
    /// replacing non-overlapping occurrences left to right.
    static func reference(_ bytes: [UInt8], _ rules: [(from: [UInt8], to: [UInt8])]) -> [UInt8] {
        var current = bytes
        for rule in rules where !rule.from.isEmpty {
            var output: [UInt8] = []
            var i = 0
            while i < current.count {
                if i + rule.from.count <= current.count, Array(current[i..<(i + rule.from.count)]) == rule.from {
                    output += rule.to
                    i += rule.from.count
                } else {
                    output.append(current[i])
                    i += 1
                }
            }
            current = output
        }
        return current
    }

    func rewrite(_ text: String, _ rules: [(String, String)]) -> String {
        ByteString(text).rewriting(rules.map { (Array($0.0.utf8), Array($0.1.utf8)) }).string
    }

    func testCases() {
        XCTAssertEqual(rewrite("no placeholder here", [("/abc", "/nix/store/x")]), "no placeholder here")
        XCTAssertEqual(rewrite("/abc/abc-/abc", [("/abc", "X")]), "XX-X")
        XCTAssertEqual(rewrite("aaa", [("aa", "b")]), "ba", "non-overlapping, left to right")
        XCTAssertEqual(rewrite("aaaa", [("aa", "b")]), "bb")
        XCTAssertEqual(rewrite("xab", [("ab", "")]), "x", "a match at the very end")
        XCTAssertEqual(rewrite("ab", [("abc", "z")]), "ab", "a needle longer than the string")
        XCTAssertEqual(rewrite("", [("a", "b")]), "")
        XCTAssertEqual(rewrite("abc", [("", "z")]), "abc", "an empty key replaces nothing")
        XCTAssertEqual(rewrite("ab", [("a", "b"), ("bb", "c")]), "c", "a later rule sees what an earlier one wrote")
    }

    /// Random strings over a small alphabet (so keys match often, overlap and chain) against the reference.
    func testAgreesWithTheReferenceOnRandomInput() {
        var rng = SplitMix64(seed: 0x5eed_b17e)
        let alphabet: [UInt8] = Array("ab/c".utf8)
        func word(_ maxLength: Int) -> [UInt8] {
            (0..<Int.random(in: 0...maxLength, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
        }
        for _ in 0..<3_000 {
            let text = word(40)
            let rules = (0..<Int.random(in: 0...4, using: &rng)).map { _ in (from: word(4), to: word(6)) }
            XCTAssertEqual(ByteString(text).rewriting(rules).bytes, Self.reference(text, rules), "\(text) \(rules)")
        }
    }
}
