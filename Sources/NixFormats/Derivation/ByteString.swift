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

    static func replace(_ needle: [UInt8], with replacement: [UInt8], in haystack: [UInt8]) -> [UInt8] {
        guard haystack.count >= needle.count else { return haystack }
        var output = [UInt8]()
        output.reserveCapacity(haystack.count)
        var index = 0
        let first = needle[0]
        while index < haystack.count {
            if haystack[index] == first, index + needle.count <= haystack.count,
               haystack[index..<(index + needle.count)].elementsEqual(needle) {
                output.append(contentsOf: replacement)
                index += needle.count
            } else {
                output.append(haystack[index])
                index += 1
            }
        }
        return output
    }
}
