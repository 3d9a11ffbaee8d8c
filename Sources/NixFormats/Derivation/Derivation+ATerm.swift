/// ATerm text of a `.drv` file, as Nix 2.8 writes it:
///
/// ```
/// Derive([("out","/nix/store/…-x","",""),…],[("/nix/store/…-y.drv",["out"]),…],["/nix/store/…-src",…],
///        "x86_64-linux","/bin/sh",["-c","…"],[("key","value"),…])
/// ```
/// No whitespace, no trailing newline. Lists are sorted bytewise (args keep their order).
/// Builder, args, env keys and values are escaped (`"` `\` LF CR TAB only); every other field
/// is written verbatim and must not contain `"` or `\`.
public enum ATerm {
    /// Largest `.drv` file the parser accepts.
    public static let maximumSize = 256 << 20
}

extension Derivation {
    /// Parses a `.drv` file strictly: exact layout, sorted and unique keys, valid paths.
    /// - Parameters:
    ///   - aterm: the file's bytes.
    ///   - name: the derivation name (the `.drv` store path name without `.drv`).
    ///   - source: how to name the input in errors (defaults to `name`).
    /// - Throws: ``DerivationError`` with the byte offset of the problem.
    public init(aterm: [UInt8], name: String, source: String? = nil) throws(DerivationError) {
        var parser = ATermParser(bytes: aterm, source: source ?? "\(name).drv")
        self = try parser.parseDerivation(name: name)
    }

    /// The ATerm serialisation (the `.drv` file contents).
    public var aterm: [UInt8] { atermBytes(maskOutputs: false, inputDrvsOverride: nil) }

    func atermBytes(maskOutputs: Bool, inputDrvsOverride: [(String, [String])]?) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(4096)
        appendLiteral("Derive([", to: &out)
        for (index, name) in outputNames.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            let output = outputs[name]!
            out.append(UInt8(ascii: "("))
            appendRaw(name, to: &out); out.append(UInt8(ascii: ","))
            appendRaw(maskOutputs ? "" : output.path, to: &out); out.append(UInt8(ascii: ","))
            appendRaw(output.hashAlgo, to: &out); out.append(UInt8(ascii: ","))
            appendRaw(output.hash, to: &out)
            out.append(UInt8(ascii: ")"))
        }
        appendLiteral("],[", to: &out)
        let drvs = inputDrvsOverride ?? inputDrvs.keys.sorted(by: bytewise).map { ($0, inputDrvs[$0]!.sorted(by: bytewise)) }
        for (index, (path, names)) in drvs.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "("))
            appendRaw(path, to: &out)
            appendLiteral(",[", to: &out)
            for (i, name) in names.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                appendRaw(name, to: &out)
            }
            appendLiteral("])", to: &out)
        }
        appendLiteral("],[", to: &out)
        for (index, path) in inputSrcs.sorted(by: bytewise).enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            appendRaw(path, to: &out)
        }
        appendLiteral("],", to: &out)
        appendRaw(platform.bytes, to: &out); out.append(UInt8(ascii: ","))
        appendEscaped(builder.bytes, to: &out)
        appendLiteral(",[", to: &out)
        for (index, arg) in args.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            appendEscaped(arg.bytes, to: &out)
        }
        appendLiteral("],[", to: &out)
        // Masked (for hashModulo): the values of variables named after an output; only ASCII keys match.
        let outputKeys = maskOutputs ? Set(outputs.keys.map(ByteString.init)) : []
        for (index, key) in env.keys.sorted().enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "("))
            appendEscaped(key.bytes, to: &out)
            out.append(UInt8(ascii: ","))
            let masked = maskOutputs && outputKeys.contains(key) && key.bytes.allSatisfy { $0 < 0x80 }
            appendEscaped(masked ? [] : env[key]!.bytes, to: &out)
            out.append(UInt8(ascii: ")"))
        }
        appendLiteral("])", to: &out)
        return out
    }
}

private func appendLiteral(_ literal: StaticString, to out: inout [UInt8]) {
    out.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
}

private func appendRaw(_ string: String, to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    out.append(contentsOf: string.utf8)
    out.append(UInt8(ascii: "\""))
}

private func appendRaw(_ bytes: [UInt8], to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    out.append(contentsOf: bytes)
    out.append(UInt8(ascii: "\""))
}

/// `bytes` quoted, with `"` `\` LF CR TAB escaped; runs without them are copied at once.
private func appendEscaped(_ bytes: [UInt8], to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    bytes.withUnsafeBufferPointer { bytes in
        var run = 0
        for (i, byte) in bytes.enumerated() {
            let escape: UInt8
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): escape = byte
            case 0x0a: escape = UInt8(ascii: "n")
            case 0x0d: escape = UInt8(ascii: "r")
            case 0x09: escape = UInt8(ascii: "t")
            default: continue
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<i]))
            out.append(UInt8(ascii: "\\"))
            out.append(escape)
            run = i + 1
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run...]))
    }
    out.append(UInt8(ascii: "\""))
}

/// Strict recursive-descent parser over the ATerm bytes.
struct ATermParser {
    let bytes: [UInt8]
    let source: String
    var index = 0

    init(bytes: [UInt8], source: String) {
        self.bytes = bytes
        self.source = source
    }

    func fail(_ code: DerivationError.Code, _ reason: String, at offset: Int? = nil) -> DerivationError {
        DerivationError(code, source: source, offset: offset ?? index, reason)
    }

    func fail(_ reason: String, at offset: Int? = nil) -> DerivationError {
        DerivationError(.syntax, source: source, offset: offset ?? index, reason)
    }

    mutating func expect(_ literal: StaticString) throws(DerivationError) {
        let expected = literal.utf8Start
        for k in 0..<literal.utf8CodeUnitCount {
            guard index < bytes.count else { throw fail("unexpected end of input, expected '\(literal)'") }
            guard bytes[index] == expected[k] else { throw fail("expected '\(literal)'") }
            index += 1
        }
    }

    /// Consumes `byte` if it is next.
    mutating func take(_ byte: UInt8) -> Bool {
        if index < bytes.count && bytes[index] == byte { index += 1; return true }
        return false
    }

    /// A quoted string; `escaped` selects the escaped form.
    mutating func string(escaped: Bool) throws(DerivationError) -> [UInt8] {
        guard escaped else { return Array(bytes[try unescapedSpan()]) }
        try expect("\"")
        // Up to the first byte that needs care, copied at once (most strings are plain).
        var end = index
        while end < bytes.count {
            let byte = bytes[end]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte == 0x0a || byte == 0x0d || byte == 0x09 { break }
            end += 1
        }
        var out = Array(bytes[index..<end])
        index = end
        while true {
            guard index < bytes.count else { throw fail("unterminated string") }
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "\"") { return out }
            if byte == UInt8(ascii: "\\") {
                guard index < bytes.count else { throw fail("unterminated escape") }
                let next = bytes[index]
                index += 1
                switch next {
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "r"): out.append(0x0d)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(next)
                default:
                    // Nix's parser accepts "\x" as x, but never writes it; it would not round-trip.
                    throw fail(.notCanonical, "non-canonical escape '\\\(Character(Unicode.Scalar(next)))'", at: index - 2)
                }
            } else {
                if byte == 0x0a || byte == 0x0d || byte == 0x09 {
                    // Nix always writes these escaped; a raw one would not round-trip.
                    throw fail(.notCanonical, "raw control byte 0x\(Base16.encode([byte])) where Nix writes an escape", at: index - 1)
                }
                out.append(byte)
            }
        }
    }

    /// The contents of a quoted string in the unescaped form (no backslash), as a span of the input.
    mutating func unescapedSpan() throws(DerivationError) -> Range<Int> {
        try expect("\"")
        var end = index
        while end < bytes.count && bytes[end] != UInt8(ascii: "\"") && bytes[end] != UInt8(ascii: "\\") { end += 1 }
        guard end < bytes.count else { index = end; throw fail("unterminated string") }
        guard bytes[end] == UInt8(ascii: "\"") else { throw fail("backslash in an unescaped field", at: end) }
        defer { index = end + 1 }
        return index..<end
    }

    mutating func plainString() throws(DerivationError) -> String {
        let span = try unescapedSpan()
        // Paths, output names and hash columns are printable ASCII in every derivation Nix writes;
        // refusing anything else keeps String comparison identical to Nix's byte order.
        if let bad = bytes[span].firstIndex(where: { $0 < 0x20 || $0 > 0x7e }) {
            throw fail(.unsupported, "byte 0x\(Base16.encode([bytes[bad]])) in a path, output name or hash field", at: bad)
        }
        return String(decoding: bytes[span], as: UTF8.self)
    }

    mutating func path() throws(DerivationError) -> String {
        let start = index
        let text = try plainString()
        guard text.hasPrefix("/") else { throw fail(.invalidPath, "path '\(text)' is not absolute", at: start) }
        return text
    }

    mutating func list<T>(_ element: (inout ATermParser) throws(DerivationError) -> T) throws(DerivationError) -> [T] {
        try expect("[")
        var items = [T]()
        if take(UInt8(ascii: "]")) { return items }
        repeat {
            items.append(try element(&self))
        } while take(UInt8(ascii: ","))
        try expect("]")
        return items
    }

    /// Checks strictly ascending bytewise order (sorted and unique), as Nix writes.
    func requireAscending(_ keys: [[UInt8]], what: String, at offset: Int) throws(DerivationError) {
        for i in keys.indices.dropFirst() where !keys[i - 1].lexicographicallyPrecedes(keys[i]) {
            let dup = keys[i - 1] == keys[i]
            throw fail(.notCanonical, "\(what) \(dup ? "repeated" : "not sorted"): '\(String(decoding: keys[i], as: UTF8.self))'", at: offset)
        }
    }

    /// As for byte strings, compared in place (no copies).
    func requireAscending<T>(_ items: [T], what: String, at offset: Int, key: (T) -> String) throws(DerivationError) {
        for i in items.indices.dropFirst() {
            let (previous, current) = (key(items[i - 1]), key(items[i]))
            guard !bytewise(previous, current) else { continue }
            throw fail(.notCanonical, "\(what) \(previous == current ? "repeated" : "not sorted"): '\(current)'", at: offset)
        }
    }

    mutating func parseDerivation(name: String) throws(DerivationError) -> Derivation {
        guard bytes.count <= ATerm.maximumSize else { throw fail(.tooLarge, "larger than \(ATerm.maximumSize) bytes", at: 0) }
        try expect("Derive(")
        let outputsStart = index
        let outputList = try list { (p: inout ATermParser) throws(DerivationError) -> (String, Derivation.Output) in
            try p.expect("(")
            let nameStart = p.index
            let name = try p.plainString()
            guard !name.isEmpty else { throw p.fail(.invalidOutput, "empty output name", at: nameStart) }
            try p.expect(",")
            let pathStart = p.index
            let path = try p.plainString()
            if !path.isEmpty && !path.hasPrefix("/") { throw p.fail(.invalidPath, "output path '\(path)' is not absolute", at: pathStart) }
            try p.expect(",")
            let algo = try p.plainString()
            try p.expect(",")
            let hash = try p.plainString()
            try p.expect(")")
            return (name, Derivation.Output(path: path, hashAlgo: algo, hash: hash))
        }
        try requireAscending(outputList, what: "output name", at: outputsStart) { $0.0 }
        guard !outputList.isEmpty else { throw fail(.invalidOutput, "derivation has no outputs", at: outputsStart) }
        try expect(",")
        let inputsStart = index
        let inputList = try list { (p: inout ATermParser) throws(DerivationError) -> (String, [String]) in
            try p.expect("(")
            let path = try p.path()
            try p.expect(",")
            let namesStart = p.index
            let names = try p.list { (q: inout ATermParser) throws(DerivationError) in try q.plainString() }
            try p.requireAscending(names, what: "input output name", at: namesStart) { $0 }
            try p.expect(")")
            return (path, names)
        }
        try requireAscending(inputList, what: "input derivation", at: inputsStart) { $0.0 }
        try expect(",")
        let srcsStart = index
        let srcs = try list { (p: inout ATermParser) throws(DerivationError) in try p.path() }
        try requireAscending(srcs, what: "input source", at: srcsStart) { $0 }
        try expect(",")
        let platform = try string(escaped: false)
        try expect(",")
        let builder = try string(escaped: true)
        try expect(",")
        let args = try list { (p: inout ATermParser) throws(DerivationError) in ByteString(try p.string(escaped: true)) }
        try expect(",")
        let envStart = index
        let envList = try list { (p: inout ATermParser) throws(DerivationError) -> (ByteString, ByteString) in
            try p.expect("(")
            let key = try p.string(escaped: true)
            try p.expect(",")
            let value = try p.string(escaped: true)
            try p.expect(")")
            return (ByteString(key), ByteString(value))
        }
        try requireAscending(envList.map { $0.0.bytes }, what: "environment variable", at: envStart)
        try expect(")")
        guard index == bytes.count else { throw fail("trailing bytes after the derivation") }
        return Derivation(
            name: name,
            outputs: Dictionary(uniqueKeysWithValues: outputList),
            inputDrvs: Dictionary(uniqueKeysWithValues: inputList.map { ($0.0, Set($0.1)) }),
            inputSrcs: Set(srcs),
            platform: ByteString(platform), builder: ByteString(builder), args: args,
            env: Dictionary(uniqueKeysWithValues: envList))
    }
}
