import VouchTrace

/// The TOML subset policy files use, read into a ``JSONValue`` tree.
///
/// Supported: `# comments`, `[table]` and `[dotted.table]` headers, `key = value` with bare or
/// quoted keys, basic strings `"…"` (escapes `\" \\ \n \t \uXXXX`), literal strings `'…'`,
/// integers, booleans, arrays (may span lines) and inline tables. Not supported (refused with
/// the line number): dates as bare values (write timestamps as strings), floats, multi-line
/// strings, arrays of tables. Keys must not repeat.
public enum PolicyTOML {
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public let line: Int
        public let reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    public static func parse(_ text: String) throws(ParseError) -> JSONValue {
        var parser = Parser(bytes: Array(text.utf8))
        return try parser.document()
    }

    struct Parser {
        let bytes: [UInt8]
        var index = 0
        var line = 1

        init(bytes: [UInt8]) { self.bytes = bytes }

        func fail(_ reason: String) -> ParseError { ParseError(line: line, reason: reason) }
        var atEnd: Bool { index >= bytes.count }
        var peek: UInt8? { atEnd ? nil : bytes[index] }

        mutating func skipSpaces() { while let c = peek, c == 0x20 || c == 0x09 { index += 1 } }

        /// Skips spaces, comments and newlines.
        mutating func skipBlank() {
            while let c = peek {
                if c == 0x20 || c == 0x09 || c == 0x0d { index += 1 }
                else if c == 0x0a { index += 1; line += 1 }
                else if c == UInt8(ascii: "#") { while let d = peek, d != 0x0a { index += 1 } }
                else { return }
            }
        }

        mutating func endOfLine() throws(ParseError) {
            skipSpaces()
            if peek == UInt8(ascii: "#") { while let d = peek, d != 0x0a { index += 1 } }
            if peek == 0x0d { index += 1 }
            guard atEnd || peek == 0x0a else { throw fail("unexpected text after a value") }
        }

        mutating func document() throws(ParseError) -> JSONValue {
            var root: [String: JSONValue] = [:]
            var current: [String] = []
            var definedTables: Set<[String]> = []
            var inlineTables: Set<[String]> = []
            while true {
                skipBlank()
                guard let c = peek else { break }
                if c == UInt8(ascii: "[") {
                    index += 1
                    guard peek != UInt8(ascii: "[") else { throw fail("arrays of tables are not supported") }
                    skipSpaces()
                    let path = try dottedKey()
                    skipSpaces()
                    guard peek == UInt8(ascii: "]") else { throw fail("expected ']' after table name") }
                    index += 1
                    try endOfLine()
                    guard definedTables.insert(path).inserted else { throw fail("table [\(path.joined(separator: "."))] defined twice") }
                    for n in 1...path.count where inlineTables.contains(Array(path.prefix(n))) {
                        throw fail("table [\(path.joined(separator: "."))] defined twice (it was given inline)")
                    }
                    try Self.insert(.object([:]), at: path, into: &root, mergeTables: true, line: line)
                    current = path
                } else {
                    let key = try dottedKey()
                    skipSpaces()
                    guard peek == UInt8(ascii: "=") else { throw fail("expected '=' after key") }
                    index += 1
                    skipSpaces()
                    let value = try self.value()
                    try endOfLine()
                    try Self.insert(value, at: current + key, into: &root, mergeTables: false, line: line)
                    if case .object = value { inlineTables.insert(current + key) }
                }
            }
            return .object(root)
        }

        static func insert(_ value: JSONValue, at path: [String], into object: inout [String: JSONValue], mergeTables: Bool, line: Int) throws(ParseError) {
            let key = path[0]
            if path.count == 1 {
                if let existing = object[key] {
                    if mergeTables, case .object = existing, case .object = value { return }
                    throw ParseError(line: line, reason: "key '\(key)' defined twice")
                }
                object[key] = value
                return
            }
            var child: [String: JSONValue]
            switch object[key] {
            case .none: child = [:]
            case .some(.object(let o)): child = o
            default: throw ParseError(line: line, reason: "'\(key)' is not a table")
            }
            try insert(value, at: Array(path.dropFirst()), into: &child, mergeTables: mergeTables, line: line)
            object[key] = .object(child)
        }

        mutating func dottedKey() throws(ParseError) -> [String] {
            var parts = [try simpleKey()]
            while true {
                skipSpaces()
                guard peek == UInt8(ascii: ".") else { return parts }
                index += 1
                skipSpaces()
                parts.append(try simpleKey())
            }
        }

        mutating func simpleKey() throws(ParseError) -> String {
            if peek == UInt8(ascii: "\"") { return try basicString() }
            if peek == UInt8(ascii: "'") { return try literalString() }
            let start = index
            while let c = peek, (0x30...0x39).contains(c) || (0x41...0x5a).contains(c) || (0x61...0x7a).contains(c) || c == 0x2d || c == 0x5f {
                index += 1
            }
            guard index > start else { throw fail("expected a key") }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        /// Arrays and inline tables deeper than this are refused (hostile input must not exhaust the stack).
        static let maximumDepth = 32

        mutating func value(depth: Int = 0) throws(ParseError) -> JSONValue {
            guard let c = peek else { throw fail("expected a value") }
            if c == UInt8(ascii: "[") || c == UInt8(ascii: "{") {
                guard depth < Self.maximumDepth else { throw fail("arrays and inline tables nest deeper than \(Self.maximumDepth) levels") }
            }
            switch c {
            case UInt8(ascii: "\""):
                if bytes[index...].starts(with: Array("\"\"\"".utf8)) { throw fail("multi-line strings are not supported") }
                return .string(try basicString())
            case UInt8(ascii: "'"): return .string(try literalString())
            case UInt8(ascii: "["):
                index += 1
                var items = [JSONValue]()
                while true {
                    skipBlank()
                    if peek == UInt8(ascii: "]") { index += 1; return .array(items) }
                    items.append(try value(depth: depth + 1))
                    skipBlank()
                    if peek == UInt8(ascii: ",") { index += 1; continue }
                    guard peek == UInt8(ascii: "]") else { throw fail("expected ',' or ']' in array") }
                }
            case UInt8(ascii: "{"):
                index += 1
                var members: [String: JSONValue] = [:]
                skipSpaces()
                if peek == UInt8(ascii: "}") { index += 1; return .object(members) }
                while true {
                    skipSpaces()
                    let key = try dottedKey()
                    skipSpaces()
                    guard peek == UInt8(ascii: "=") else { throw fail("expected '=' in inline table") }
                    index += 1
                    skipSpaces()
                    try Self.insert(try value(depth: depth + 1), at: key, into: &members, mergeTables: false, line: line)
                    skipSpaces()
                    if peek == UInt8(ascii: ",") { index += 1; continue }
                    guard peek == UInt8(ascii: "}") else { throw fail("expected ',' or '}' in inline table") }
                    index += 1
                    return .object(members)
                }
            default:
                let start = index
                while let d = peek, !(d == 0x20 || d == 0x09 || d == 0x0a || d == 0x0d || d == 0x2c || d == 0x5d || d == 0x7d || d == 0x23) { index += 1 }
                let word = String(decoding: bytes[start..<index], as: UTF8.self)
                if word == "true" { return .bool(true) }
                if word == "false" { return .bool(false) }
                let digits = word.replacingUnderscores()
                if let n = Int64(digits), !digits.isEmpty { return .int(n) }
                throw fail("unsupported value '\(word)' (write timestamps as quoted strings; floats are not used)")
            }
        }

        mutating func literalString() throws(ParseError) -> String {
            index += 1
            let start = index
            while let c = peek, c != UInt8(ascii: "'") {
                guard c != 0x0a else { throw fail("unterminated string") }
                index += 1
            }
            guard peek != nil else { throw fail("unterminated string") }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            index += 1
            return text
        }

        mutating func basicString() throws(ParseError) -> String {
            index += 1
            var out = [UInt8]()
            while true {
                guard let c = peek, c != 0x0a else { throw fail("unterminated string") }
                index += 1
                if c == UInt8(ascii: "\"") { break }
                if c == UInt8(ascii: "\\") {
                    guard let e = peek else { throw fail("unterminated escape") }
                    index += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(e)
                    case UInt8(ascii: "n"): out.append(0x0a)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        guard index + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[index..<(index + 4)], as: UTF8.self), radix: 16),
                              let scalar = Unicode.Scalar(v) else { throw fail("invalid \\u escape") }
                        index += 4
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                    default: throw fail("unsupported escape '\\\(Character(Unicode.Scalar(e)))'")
                    }
                } else {
                    out.append(c)
                }
            }
            guard let text = String(validating: out, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
            return text
        }
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}
