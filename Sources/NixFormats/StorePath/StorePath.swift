/// A store path: `<storeDir>/<32 nix32 chars>-<name>`.
///
/// Invariants: the digest is 20 bytes; the name is 1…211 bytes of `[0-9A-Za-z+\-._?=]`.
/// Ordering and equality follow the printed base name (hash part, then name).
public struct StorePath: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Nix's default logical store directory.
    public static let defaultStoreDir = "/nix/store"
    /// Characters in the printed hash part.
    public static let hashPartLength = 32
    /// Longest name Nix 2.8 accepts.
    public static let maximumNameLength = 211

    /// The 32 nix32 characters of the hash part, held inline: a path costs no allocation for
    /// them, and equality, hashing and ordering read four words.
    private let hashCharacters: (UInt64, UInt64, UInt64, UInt64)
    public let name: String
    public let storeDir: String

    /// The 32-character nix32 hash part.
    public var hashPart: String { withHashPartBytes { String(decoding: $0, as: UTF8.self) } }

    /// `body` given the 32 bytes of the hash part, read in place.
    public func withHashPartBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try withUnsafeBytes(of: hashCharacters) { try body($0.assumingMemoryBound(to: UInt8.self)) }
    }

    /// The path's 20-byte digest.
    public var digest: [UInt8] { NixBase32.decode(hashPart)! }
    public var baseName: String { joined(prefix: nil) }

    public var absolute: String {
        // Written into one buffer of the final size: interpolating was measured at twice the cost.
        joined(prefix: storeDir)
    }

    /// `[<prefix>/]<hash part>-<name>`.
    private func joined(prefix: String?) -> String {
        var name = self.name
        let count = (prefix.map { $0.utf8.count + 1 } ?? 0) + Self.hashPartLength + 1 + name.utf8.count
        return String(unsafeUninitializedCapacity: count) { buffer in
            var at = 0
            func append(_ bytes: UnsafeBufferPointer<UInt8>) {
                _ = UnsafeMutableBufferPointer(rebasing: buffer[at..<(at + bytes.count)]).initialize(from: bytes)
                at += bytes.count
            }
            if var prefix {
                prefix.withUTF8(append)
                buffer[at] = UInt8(ascii: "/"); at += 1
            }
            withHashPartBytes(append)
            buffer[at] = UInt8(ascii: "-"); at += 1
            name.withUTF8(append)
            return at
        }
    }

    /// Reads exactly 32 hash-part bytes (checked by the caller) into the inline words.
    private static func hashCharacters<C: Collection<UInt8>>(_ bytes: C) -> (UInt64, UInt64, UInt64, UInt64) {
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &words) { raw in
            for (k, byte) in bytes.prefix(hashPartLength).enumerated() { raw[k] = byte }
        }
        return words
    }

    public var description: String { absolute }
    public var isDerivation: Bool { name.hasSuffix(".drv") }

    public init(digest: [UInt8], name: String, storeDir: String = StorePath.defaultStoreDir) throws(StorePathError) {
        guard digest.count == 20 else { throw StorePathError(path: name, reason: "digest must be 20 bytes") }
        try Self.validate(name: name, in: name)
        self.hashCharacters = Self.hashCharacters(NixBase32.encode(digest).utf8)
        self.name = name
        self.storeDir = storeDir
    }

    /// Parses `<hash>-<name>` (no directory).
    public init(baseName: String, storeDir: String = StorePath.defaultStoreDir) throws(StorePathError) {
        var text = baseName
        self = try text.withUTF8 { bytes in
            Result { () throws(StorePathError) in try StorePath(base: bytes, storeDir: storeDir) { baseName } }
        }.get()
    }

    /// Parses an absolute path directly inside `storeDir`.
    public init(absolutePath: String, storeDir: String = StorePath.defaultStoreDir) throws(StorePathError) {
        var text = absolutePath
        var directory = storeDir
        self = try text.withUTF8 { path in
            directory.withUTF8 { dir in
                Result { () throws(StorePathError) in
                    guard path.count > dir.count, UnsafeBufferPointer(rebasing: path[..<dir.count]).elementsEqual(dir),
                          path[dir.count] == UInt8(ascii: "/") else {
                        throw StorePathError(path: absolutePath, reason: "not in the store directory \(storeDir)")
                    }
                    let rest = UnsafeBufferPointer(rebasing: path[(dir.count + 1)...])
                    guard !rest.contains(UInt8(ascii: "/")) else {
                        throw StorePathError(path: absolutePath, reason: "not directly inside \(storeDir)")
                    }
                    return try StorePath(base: rest, storeDir: storeDir) { String(decoding: rest, as: UTF8.self) }
                }
            }
        }.get()
    }

    /// Parses the bytes of `<hash>-<name>`; `baseName` names them in errors (made only then).
    private init(base bytes: UnsafeBufferPointer<UInt8>, storeDir: String, baseName: () -> String) throws(StorePathError) {
        guard bytes.count > Self.hashPartLength + 1 else {
            throw StorePathError(path: baseName(), reason: "store path base name is too short")
        }
        // 32 nix32 characters encode exactly 20 bytes with no spare bits, so any alphabet string is valid.
        guard bytes[..<Self.hashPartLength].allSatisfy({ NixBase32.isDigit($0) }) else {
            let hash = String(decoding: bytes[..<Self.hashPartLength], as: UTF8.self)
            throw StorePathError(path: baseName(), reason: "hash part '\(hash)' is not nix32")
        }
        guard bytes[Self.hashPartLength] == UInt8(ascii: "-") else {
            throw StorePathError(path: baseName(), reason: "expected '-' after the hash part")
        }
        let nameBytes = UnsafeBufferPointer(rebasing: bytes[(Self.hashPartLength + 1)...])
        // The rules checked on the bytes; the message (which needs the text) only on failure.
        if nameBytes.count > Self.maximumNameLength || !nameBytes.allSatisfy(Self.isNameByte) {
            try Self.validate(name: String(decoding: nameBytes, as: UTF8.self), in: baseName())
        }
        self.hashCharacters = Self.hashCharacters(bytes[..<Self.hashPartLength])
        self.name = String(decoding: nameBytes, as: UTF8.self)
        self.storeDir = storeDir
    }

    /// Checks Nix's name rules.
    public static func validate(name: String, in path: String) throws(StorePathError) {
        let bytes = name.utf8
        guard !bytes.isEmpty else { throw StorePathError(path: path, reason: "store path name is empty") }
        guard bytes.count <= maximumNameLength else {
            throw StorePathError(path: path, reason: "store path name is longer than \(maximumNameLength) bytes")
        }
        for byte in bytes where !isNameByte(byte) {
            throw StorePathError(path: path, reason: "store path name contains illegal character \(describe(byte))")
        }
    }

    static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
            return true
        case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "?"), UInt8(ascii: "="):
            return true
        default:
            return false
        }
    }

    private static func describe(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7f ? "'\(Character(Unicode.Scalar(byte)))'" : "0x\(Base16.encode([byte]))"
    }

    public static func == (lhs: StorePath, rhs: StorePath) -> Bool {
        lhs.hashCharacters == rhs.hashCharacters && lhs.name == rhs.name && lhs.storeDir == rhs.storeDir
    }

    /// The hash part alone: equal paths have equal hash parts, and it is already a digest.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(hashCharacters.0)
        hasher.combine(hashCharacters.1)
        hasher.combine(hashCharacters.2)
        hasher.combine(hashCharacters.3)
    }

    /// Byte order of the absolute paths. Within one store directory that is the order of the
    /// hash parts (all 32 characters), then of the names: no path needs to be built.
    public static func < (lhs: StorePath, rhs: StorePath) -> Bool {
        guard lhs.storeDir == rhs.storeDir else { return lhs.absolute.utf8.lexicographicallyPrecedes(rhs.absolute.utf8) }
        if lhs.hashCharacters != rhs.hashCharacters {
            return lhs.withHashPartBytes { l in rhs.withHashPartBytes { r in l.lexicographicallyPrecedes(r) } }
        }
        return lhs.name.utf8.lexicographicallyPrecedes(rhs.name.utf8)
    }
}

/// A store path or store path name that breaks Nix's rules.
public struct StorePathError: Error, Sendable, Hashable, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "invalid store path '\(path)': \(reason)" }
}
