/// Receives the events of a NAR stream from ``NARDecoder``, in stream order.
///
/// A directory produces `enterDirectory`, then for each entry `enterEntry(name:)`, the events of
/// the entry's node, and `exitEntry`, then `exitDirectory`. A regular file produces
/// `beginRegularFile`, zero or more `regularFileContents` chunks, then `endRegularFile`.
/// Names and targets have already been checked against ``NARGrammar`` when they arrive.
/// Every method has an empty default, so a visitor implements only what it needs. An error
/// thrown by the visitor stops decoding and is passed on to the caller unchanged.
public protocol NARVisitor {
    /// A directory node starts.
    mutating func enterDirectory() throws
    /// The directory node that started last ends.
    mutating func exitDirectory() throws
    /// An entry of the current directory starts; its node's events follow.
    /// - Parameter name: 1 to ``NARGrammar/maximumNameLength`` bytes; not `.`/`..`, no `/` or NUL;
    ///   greater than the previous entry's name.
    mutating func enterEntry(name: [UInt8]) throws
    /// The entry that started last ends.
    mutating func exitEntry() throws
    /// A regular file node starts.
    /// - Parameters:
    ///   - executable: whether the `executable` marker was present.
    ///   - size: the declared content length; the contents may still turn out truncated.
    mutating func beginRegularFile(executable: Bool, size: UInt64) throws
    /// The next chunk of the current file's contents. The buffer is only valid during the call.
    mutating func regularFileContents(_ chunk: UnsafeRawBufferPointer) throws
    /// All contents of the current file (and their padding) have been read.
    mutating func endRegularFile() throws
    /// A symlink node.
    /// - Parameter target: 1 to ``NARGrammar/maximumTargetLength`` bytes, no NUL, verbatim.
    mutating func symlink(target: [UInt8]) throws
}

extension NARVisitor {
    public mutating func enterDirectory() throws {}
    public mutating func exitDirectory() throws {}
    public mutating func enterEntry(name: [UInt8]) throws {}
    public mutating func exitEntry() throws {}
    public mutating func beginRegularFile(executable: Bool, size: UInt64) throws {}
    public mutating func regularFileContents(_ chunk: UnsafeRawBufferPointer) throws {}
    public mutating func endRegularFile() throws {}
    public mutating func symlink(target: [UInt8]) throws {}
}

/// A strict, push-style NAR decoder: feed it the stream in chunks of any size, it checks every
/// rule of ``NARGrammar`` and reports the archive's structure to a ``NARVisitor``.
///
/// It never buffers file contents: each content chunk is handed to the visitor straight out of
/// the input buffer. Its own memory is bounded by the limits in ``NARGrammar`` (one name or
/// target at a time, plus one name per open directory).
///
/// Contract:
/// * Call ``decode(_:into:)`` with consecutive chunks, then ``finish()`` once the input ended.
///   `finish()` throws ``NARError/Code/truncated`` unless the root node is complete.
/// * After `decode` throws, the decoder is poisoned: a later call throws the same ``NARError``
///   again, or traps if the first error came from the visitor.
///
/// ```swift
/// var decoder = NARDecoder()
/// var visitor = MyVisitor()
/// try decoder.decode(chunk1, into: &visitor)
/// try decoder.decode(chunk2, into: &visitor)
/// try decoder.finish()
/// ```
public struct NARDecoder: Sendable {
    /// What the next string must be.
    private enum Expect: Sendable, Equatable {
        case magic, nodeOpen, typeKeyword, typeValue
        case regularAttribute, executableValue, contentsKeyword, contentsBody
        case symlinkTargetKeyword, symlinkTarget
        case nodeClose, directoryItem, entryOpen, nameKeyword, nameValue, nodeKeyword, entryClose
        case done
    }

    /// Where the decoder is inside the current string.
    private enum Lexer: Sendable {
        /// Reading the 8-byte length; `have` bytes of it read so far.
        case length(value: UInt64, have: Int)
        /// Reading a bounded string's bytes then padding; `have` of `length + padding` read.
        case string(length: Int, have: Int)
        /// Streaming file contents to the visitor.
        case contents(remaining: UInt64, padding: Int)
        /// Checking the zero padding after file contents.
        case padding(remaining: Int)
    }

    private var expect = Expect.magic
    private var lexer = Lexer.length(value: 0, have: 0)
    /// The body of the string being read (never longer than ``NARGrammar/maximumTargetLength``).
    private var scratch: [UInt8] = []
    /// Offset of the length field of the string being read.
    private var stringStart: UInt64 = 0
    /// Names from the root to the current node.
    private var names: [[UInt8]] = []
    /// For each open directory, the name of its last entry so far.
    private var lastNames: [[UInt8]?] = []
    private var executable = false
    private var failure: NARError?
    private var visitorFailed = false

    /// Number of bytes consumed so far.
    public private(set) var offset: UInt64 = 0

    /// Whether the root node is complete (any further byte is an error).
    public var isComplete: Bool { expect == .done }

    public init() {
        scratch.reserveCapacity(NARGrammar.maximumTargetLength + 1)
    }

    /// Decodes the next chunk of the stream, calling `visitor` for each event it completes.
    /// - Parameters:
    ///   - input: the next bytes of the stream, of any length (empty is fine).
    ///   - visitor: receives the events; partial strings are kept until the next call.
    /// - Throws: ``NARError`` if the stream breaks a rule, or whatever `visitor` throws.
    public mutating func decode<Visitor: NARVisitor>(
        _ input: UnsafeRawBufferPointer, into visitor: inout Visitor
    ) throws {
        if let failure { throw failure }
        precondition(!visitorFailed, "NARDecoder used again after its visitor threw")
        do {
            try run(input, &visitor)
        } catch let error as NARError {
            failure = error
            throw error
        } catch {
            visitorFailed = true
            throw error
        }
    }

    /// Declares the end of the stream.
    /// - Throws: ``NARError/Code/truncated`` unless the root node is complete, or the error
    ///   that poisoned the decoder.
    public mutating func finish() throws(NARError) {
        if let failure { throw failure }
        precondition(!visitorFailed, "NARDecoder used again after its visitor threw")
        guard expect == .done else {
            let error = NARError(.truncated, at: offset, path: currentPath(), "stream ended while expecting \(expectation)")
            failure = error
            throw error
        }
    }

    // MARK: - Lexer

    private mutating func run<Visitor: NARVisitor>(_ input: UnsafeRawBufferPointer, _ visitor: inout Visitor) throws {
        var position = 0
        let end = input.count
        while true {
            switch lexer {
            case .length(var value, var have):
                if have == 0 {
                    if expect == .done {
                        if position < end {
                            throw NARError(.trailingBytes, at: offset, path: "/", "\(end - position)+ bytes after the end of the archive")
                        }
                        return
                    }
                    stringStart = offset
                }
                if position == end { return }
                if have == 0 && end - position >= 8 {
                    value = UInt64(littleEndian: input.loadUnaligned(fromByteOffset: position, as: UInt64.self))
                    have = 8
                    position += 8
                    offset += 8
                } else {
                    while have < 8 && position < end {
                        value |= UInt64(input[position]) << (8 * UInt64(have))
                        have += 1
                        position += 1
                        offset += 1
                    }
                    if have < 8 {
                        lexer = .length(value: value, have: have)
                        return
                    }
                }
                try beginString(length: value, &visitor)

            case .string(let length, var have):
                if have < length {
                    if position == end { return }
                    let take = min(length - have, end - position)
                    scratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[position ..< position + take]))
                    have += take
                    position += take
                    offset += UInt64(take)
                }
                let total = length + NARGrammar.paddingLength(UInt64(length))
                while have < total && position < end {
                    guard input[position] == 0 else {
                        throw NARError(.nonZeroPadding, at: offset, path: currentPath(), "padding byte is 0x\(String(input[position], radix: 16))")
                    }
                    have += 1
                    position += 1
                    offset += 1
                }
                if have < total {
                    lexer = .string(length: length, have: have)
                    return
                }
                lexer = .length(value: 0, have: 0)
                try endString(&visitor)

            case .contents(var remaining, let padding):
                if remaining > 0 {
                    if position == end { return }
                    let take = Int(min(remaining, UInt64(end - position)))
                    try visitor.regularFileContents(UnsafeRawBufferPointer(rebasing: input[position ..< position + take]))
                    position += take
                    offset += UInt64(take)
                    remaining -= UInt64(take)
                    if remaining > 0 {
                        lexer = .contents(remaining: remaining, padding: padding)
                        return
                    }
                }
                lexer = .padding(remaining: padding)

            case .padding(var remaining):
                while remaining > 0 && position < end {
                    guard input[position] == 0 else {
                        throw NARError(.nonZeroPadding, at: offset, path: currentPath(), "padding byte is 0x\(String(input[position], radix: 16))")
                    }
                    remaining -= 1
                    position += 1
                    offset += 1
                }
                if remaining > 0 {
                    lexer = .padding(remaining: remaining)
                    return
                }
                lexer = .length(value: 0, have: 0)
                try visitor.endRegularFile()
                expect = .nodeClose
            }
        }
    }

    /// A string's length has been read: check it against the limit for this place, before
    /// reading (let alone allocating) anything for it.
    private mutating func beginString<Visitor: NARVisitor>(length: UInt64, _ visitor: inout Visitor) throws {
        let limit: Int
        switch expect {
        case .contentsBody:
            try visitor.beginRegularFile(executable: executable, size: length)
            lexer = .contents(remaining: length, padding: NARGrammar.paddingLength(length))
            return
        case .executableValue:
            guard length == 0 else {
                throw NARError(.nonEmptyExecutableMarker, at: stringStart, path: currentPath(), "executable marker has a \(length)-byte value")
            }
            limit = 0
        case .magic:
            guard length == UInt64(NARGrammar.magic.count) else {
                throw NARError(.badMagic, at: stringStart, path: "/", "not a NAR: first string has length \(length), not 13")
            }
            limit = NARGrammar.magic.count
        case .nameValue:
            guard length <= UInt64(NARGrammar.maximumNameLength) else {
                throw NARError(.nameTooLong, at: stringStart, path: currentPath(), "entry name of \(length) bytes exceeds \(NARGrammar.maximumNameLength)")
            }
            limit = NARGrammar.maximumNameLength
        case .symlinkTarget:
            guard length <= UInt64(NARGrammar.maximumTargetLength) else {
                throw NARError(.targetTooLong, at: stringStart, path: currentPath(), "symlink target of \(length) bytes exceeds \(NARGrammar.maximumTargetLength)")
            }
            limit = NARGrammar.maximumTargetLength
        case .done:
            preconditionFailure("NARDecoder read a string after the root node")
        default:
            guard length <= UInt64(NARGrammar.maximumTokenLength) else {
                throw NARError(.tokenTooLong, at: stringStart, path: currentPath(), "token of \(length) bytes where \(expectation) was expected")
            }
            limit = NARGrammar.maximumTokenLength
        }
        assert(length <= UInt64(limit))
        scratch.removeAll(keepingCapacity: true)
        lexer = .string(length: Int(length), have: 0)
    }

    // MARK: - Parser

    /// A bounded string is complete in `scratch`.
    private mutating func endString<Visitor: NARVisitor>(_ visitor: inout Visitor) throws {
        switch expect {
        case .magic:
            try require(NARGrammar.magic, code: .badMagic)
            expect = .nodeOpen
        case .nodeOpen:
            try require(NARGrammar.openParen)
            expect = .typeKeyword
        case .typeKeyword:
            try require(NARGrammar.type)
            expect = .typeValue
        case .typeValue:
            if scratch == NARGrammar.regular {
                executable = false
                expect = .regularAttribute
            } else if scratch == NARGrammar.symlink {
                expect = .symlinkTargetKeyword
            } else if scratch == NARGrammar.directory {
                try visitor.enterDirectory()
                lastNames.append(nil)
                expect = .directoryItem
            } else {
                throw unexpected()
            }
        case .regularAttribute:
            if scratch == NARGrammar.executable {
                executable = true
                expect = .executableValue
            } else if scratch == NARGrammar.contents {
                expect = .contentsBody
            } else {
                throw unexpected()
            }
        case .executableValue:
            // beginString only lets the empty string through.
            expect = .contentsKeyword
        case .contentsKeyword:
            try require(NARGrammar.contents)
            expect = .contentsBody
        case .symlinkTargetKeyword:
            try require(NARGrammar.target)
            expect = .symlinkTarget
        case .symlinkTarget:
            if scratch.isEmpty {
                throw NARError(.invalidSymlinkTarget, at: stringStart, path: currentPath(), "symlink target is empty")
            }
            if scratch.contains(0) {
                throw NARError(.invalidSymlinkTarget, at: stringStart, path: currentPath(), "symlink target contains NUL")
            }
            try visitor.symlink(target: scratch)
            expect = .nodeClose
        case .nodeClose:
            try require(NARGrammar.closeParen)
            closeNode()
        case .directoryItem:
            if scratch == NARGrammar.entry {
                expect = .entryOpen
            } else if scratch == NARGrammar.closeParen {
                lastNames.removeLast()
                try visitor.exitDirectory()
                closeNode()
            } else {
                throw unexpected()
            }
        case .entryOpen:
            try require(NARGrammar.openParen)
            expect = .nameKeyword
        case .nameKeyword:
            try require(NARGrammar.name)
            expect = .nameValue
        case .nameValue:
            let name = scratch
            if let problem = NARGrammar.entryNameProblem(name) {
                throw NARError(.invalidEntryName, at: stringStart, path: currentPath(), problem)
            }
            if let previous = lastNames[lastNames.count - 1] {
                if previous == name {
                    throw NARError(.duplicateEntry, at: stringStart, path: currentPath(appending: name), "duplicate entry name \(Self.quote(name))")
                }
                if !NARGrammar.precedes(previous, name) {
                    throw NARError(
                        .entriesNotSorted, at: stringStart, path: currentPath(appending: name),
                        "entry names not sorted: \(Self.quote(name)) after \(Self.quote(previous))")
                }
            }
            guard names.count < NARGrammar.maximumDepth else {
                throw NARError(.tooDeep, at: stringStart, path: currentPath(appending: name), "nesting deeper than \(NARGrammar.maximumDepth)")
            }
            lastNames[lastNames.count - 1] = name
            names.append(name)
            try visitor.enterEntry(name: name)
            expect = .nodeKeyword
        case .nodeKeyword:
            try require(NARGrammar.node)
            expect = .nodeOpen
        case .entryClose:
            try require(NARGrammar.closeParen)
            names.removeLast()
            try visitor.exitEntry()
            expect = .directoryItem
        case .contentsBody, .done:
            preconditionFailure("NARDecoder: no bounded string is read in state \(expect)")
        }
    }

    private mutating func closeNode() {
        expect = names.isEmpty ? .done : .entryClose
    }

    private func require(_ token: [UInt8], code: NARError.Code = .unexpectedToken) throws(NARError) {
        guard scratch == token else {
            if code == .badMagic {
                throw NARError(.badMagic, at: stringStart, path: "/", "not a NAR: magic is \(Self.quote(scratch))")
            }
            throw unexpected()
        }
    }

    private func unexpected() -> NARError {
        NARError(.unexpectedToken, at: stringStart, path: currentPath(), "expected \(expectation), found \(Self.quote(scratch))")
    }

    /// The tokens allowed in the current state, for messages.
    private var expectation: String {
        switch expect {
        case .magic: "\"nix-archive-1\""
        case .nodeOpen, .entryOpen: "\"(\""
        case .typeKeyword: "\"type\""
        case .typeValue: "\"regular\", \"symlink\" or \"directory\""
        case .regularAttribute: "\"executable\" or \"contents\""
        case .executableValue: "\"\""
        case .contentsKeyword: "\"contents\""
        case .contentsBody: "file contents"
        case .symlinkTargetKeyword: "\"target\""
        case .symlinkTarget: "a symlink target"
        case .nodeClose, .entryClose: "\")\""
        case .directoryItem: "\"entry\" or \")\""
        case .nameKeyword: "\"name\""
        case .nameValue: "an entry name"
        case .nodeKeyword: "\"node\""
        case .done: "the end of the stream"
        }
    }

    private func currentPath(appending extra: [UInt8]? = nil) -> String {
        var components = names
        if let extra { components.append(extra) }
        if components.isEmpty { return "/" }
        return components.map { "/" + String(decoding: $0, as: UTF8.self) }.joined()
    }

    /// `bytes` as a double-quoted string, with non-printable bytes escaped as `\xNN`.
    static func quote(_ bytes: [UInt8]) -> String {
        var out = "\""
        for byte in bytes.prefix(64) {
            switch byte {
            case 0x20 ..< 0x7F where byte != 0x22 && byte != 0x5C: out.unicodeScalars.append(Unicode.Scalar(byte))
            default: out += "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
            }
        }
        if bytes.count > 64 { out += "…" }
        return out + "\""
    }
}
