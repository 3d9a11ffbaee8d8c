/// An immutable byte string compared and sorted bytewise, as Nix's `std::string` is.
///
/// Derivation strings (builder, args, environment) are arbitrary bytes; Swift's `String`
/// would compare them by Unicode canonical equivalence and replace invalid UTF-8, which
/// breaks byte-exact round trips and Nix's sort order.
public struct ByteString: Sendable, Hashable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init<S: StringProtocol>(_ string: S) { self.bytes = Array(string.utf8) }
    public init(stringLiteral value: String) { self.bytes = Array(value.utf8) }

    /// The bytes decoded as UTF-8 (invalid sequences become U+FFFD).
    public var string: String { String(decoding: bytes, as: UTF8.self) }
    public var description: String { string }
    public var isEmpty: Bool { bytes.isEmpty }

    public static func < (lhs: ByteString, rhs: ByteString) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }

    /// Replaces every non-overlapping occurrence of each key, scanning left to right, as Nix's `rewriteStrings`
    /// does (rules applied one after another in key order).
    public func rewriting(_ rules: [(from: [UInt8], to: [UInt8])]) -> ByteString {
        var current = bytes
        for rule in rules where !rule.from.isEmpty {
            current = Self.replace(rule.from, with: rule.to, in: current)
        }
        return ByteString(current)
    }

    /// `haystack` with each non-overlapping occurrence of `needle`, left to right, replaced; the
    /// same array when there is none (the common case: most strings hold no placeholder).
    static func replace(_ needle: [UInt8], with replacement: [UInt8], in haystack: [UInt8]) -> [UInt8] {
        guard !needle.isEmpty, haystack.count >= needle.count else { return haystack }
        return haystack.withUnsafeBufferPointer { h in
            needle.withUnsafeBufferPointer { n in
                guard var match = firstMatch(n, in: h, from: 0) else { return haystack }
                var output = [UInt8]()
                output.reserveCapacity(h.count + max(0, replacement.count - n.count))
                var copied = 0
                while true {
                    output.append(contentsOf: UnsafeBufferPointer(rebasing: h[copied..<match]))
                    output.append(contentsOf: replacement)
                    copied = match + n.count
                    guard let next = firstMatch(n, in: h, from: copied) else { break }
                    match = next
                }
                output.append(contentsOf: UnsafeBufferPointer(rebasing: h[copied...]))
                return output
            }
        }
    }

    /// The first index at or after `start` where `needle` (not empty) occurs in `haystack`.
    private static func firstMatch(_ needle: UnsafeBufferPointer<UInt8>, in haystack: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        let first = needle[0]
        var i = start
        while i + needle.count <= haystack.count {
            if haystack[i] == first {
                var k = 1
                while k < needle.count && haystack[i + k] == needle[k] { k += 1 }
                if k == needle.count { return i }
            }
            i += 1
        }
        return nil
    }
}
