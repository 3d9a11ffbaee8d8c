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

    /// The 32-character nix32 hash part.
    public let hashPart: String
    public let name: String
    public let storeDir: String

    /// The path's 20-byte digest.
    public var digest: [UInt8] { NixBase32.decode(hashPart)! }
    public var baseName: String {
        var text = String()
        text.reserveCapacity(hashPart.utf8.count + 1 + name.utf8.count)
        text += hashPart
        text += "-"
        text += name
        return text
    }

    public var absolute: String {
        // Appended into one buffer of the final size: interpolating was measured at twice the cost.
        var text = String()
        text.reserveCapacity(storeDir.utf8.count + 1 + hashPart.utf8.count + 1 + name.utf8.count)
        text += storeDir
        text += "/"
        text += hashPart
        text += "-"
        text += name
        return text
    }
    public var description: String { absolute }
    public var isDerivation: Bool { name.hasSuffix(".drv") }

    public init(digest: [UInt8], name: String, storeDir: String = StorePath.defaultStoreDir) throws(StorePathError) {
        guard digest.count == 20 else { throw StorePathError(path: name, reason: "digest must be 20 bytes") }
        try Self.validate(name: name, in: name)
        self.hashPart = NixBase32.encode(digest)
        self.name = name
        self.storeDir = storeDir
    }

    /// Parses `<hash>-<name>` (no directory).
    public init(baseName: String, storeDir: String = StorePath.defaultStoreDir) throws(StorePathError) {
        let bytes = Array(baseName.utf8)
        guard bytes.count > Self.hashPartLength + 1 else {
            throw StorePathError(path: baseName, reason: "store path base name is too short")
        }
        let hash = String(decoding: bytes[..<Self.hashPartLength], as: UTF8.self)
        // 32 nix32 characters encode exactly 20 bytes with no spare bits, so any alphabet string is valid.
        guard bytes[..<Self.hashPartLength].allSatisfy({ NixBase32.isDigit($0) }) else {
            throw StorePathError(path: baseName, reason: "hash part '\(hash)' is not nix32")
        }
        guard bytes[Self.hashPartLength] == UInt8(ascii: "-") else {
            throw StorePathError(path: baseName, reason: "expected '-' after the hash part")
        }
        let name = String(decoding: bytes[(Self.hashPartLength + 1)...], as: UTF8.self)
        try Self.validate(name: name, in: baseName)
        self.hashPart = hash
        self.name = name
        self.storeDir = storeDir
    }

    /// Parses an absolute path directly inside `storeDir`.
    public init(absolutePath: String, storeDir: String = StorePath.defaultStoreDir) throws(StorePathError) {
        let path = absolutePath.utf8
        let dir = storeDir.utf8
        guard path.count > dir.count, path.starts(with: dir), path[path.index(path.startIndex, offsetBy: dir.count)] == UInt8(ascii: "/") else {
            throw StorePathError(path: absolutePath, reason: "not in the store directory \(storeDir)")
        }
        let rest = path.dropFirst(dir.count + 1)
        guard !rest.contains(UInt8(ascii: "/")) else {
            throw StorePathError(path: absolutePath, reason: "not directly inside \(storeDir)")
        }
        try self.init(baseName: String(decoding: rest, as: UTF8.self), storeDir: storeDir)
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

    /// The hash part alone: equal paths have equal hash parts, and it is already a digest.
    public func hash(into hasher: inout Hasher) { hasher.combine(hashPart) }

    /// Byte order of the absolute paths. Within one store directory that is the order of the
    /// hash parts (all 32 characters), then of the names: no path needs to be built.
    public static func < (lhs: StorePath, rhs: StorePath) -> Bool {
        guard lhs.storeDir == rhs.storeDir else { return lhs.absolute.utf8.lexicographicallyPrecedes(rhs.absolute.utf8) }
        if lhs.hashPart != rhs.hashPart { return lhs.hashPart.utf8.lexicographicallyPrecedes(rhs.hashPart.utf8) }
        return lhs.name.utf8.lexicographicallyPrecedes(rhs.name.utf8)
    }
}

/// A store path or store path name that breaks Nix's rules.
public struct StorePathError: Error, Sendable, Hashable, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "invalid store path '\(path)': \(reason)" }
}
