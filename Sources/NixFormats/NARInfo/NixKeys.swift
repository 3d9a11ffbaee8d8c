import Crypto

/// A key file or signature that could not be read.
public struct KeyError: Error, Sendable, Hashable, CustomStringConvertible {
    public let source: String
    public let reason: String
    public init(source: String, _ reason: String) {
        self.source = source
        self.reason = reason
    }
    public var description: String { "\(source): \(reason)" }
}

/// Splits `name:base64` at the first colon; the name must be non-empty, the payload must decode
/// to exactly `length` bytes. A single trailing newline (as some editors add) is tolerated.
func splitNamed(_ text: String, length: Int, what: String, source: String) throws(KeyError) -> (String, [UInt8]) {
    var body = Substring(text)
    if body.hasSuffix("\n") { body = body.dropLast() }
    guard let colon = body.firstIndex(of: ":") else { throw KeyError(source: source, "\(what) must be 'name:base64'") }
    let name = String(body[..<colon])
    guard !name.isEmpty else { throw KeyError(source: source, "\(what) has an empty key name") }
    guard let bytes = Base64.decode(body[body.index(after: colon)...]), bytes.count == length else {
        throw KeyError(source: source, "\(what) '\(name)' is not valid: expected base64 of \(length) bytes")
    }
    return (name, bytes)
}

/// A Nix public key, `name:base64(32-byte Ed25519 key)`.
public struct NixPublicKey: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    public let key: Curve25519.Signing.PublicKey
    /// The 32 key bytes.
    public let raw: [UInt8]

    public init(parsing text: String, source: String = "public key") throws(KeyError) {
        let (name, bytes) = try splitNamed(text, length: 32, what: "public key", source: source)
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: bytes) else {
            throw KeyError(source: source, "public key '\(name)' is not a valid Ed25519 point")
        }
        self.name = name
        self.key = key
        self.raw = bytes
    }

    public init(name: String, key: Curve25519.Signing.PublicKey) {
        self.name = name
        self.key = key
        self.raw = Array(key.rawRepresentation)
    }

    public var description: String { "\(name):\(Base64.encode(raw))" }

    /// Verifies `signature` over `message` (pure Ed25519).
    public func isValid(signature: NixSignature, for message: [UInt8]) -> Bool {
        signature.keyName == name && key.isValidSignature(signature.bytes, for: message)
    }

    public static func == (lhs: NixPublicKey, rhs: NixPublicKey) -> Bool { lhs.name == rhs.name && lhs.raw == rhs.raw }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        raw.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

/// A Nix secret key, `name:base64(64 bytes)` = 32-byte seed ‖ 32-byte public key (libsodium layout).
public struct NixSecretKey: Sendable {
    public let name: String
    public let key: Curve25519.Signing.PrivateKey

    public init(parsing text: String, source: String = "secret key") throws(KeyError) {
        let (name, bytes) = try splitNamed(text, length: 64, what: "secret key", source: source)
        guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: bytes[0..<32]) else {
            throw KeyError(source: source, "secret key '\(name)' is not valid")
        }
        guard Array(key.publicKey.rawRepresentation) == Array(bytes[32..<64]) else {
            throw KeyError(source: source, "secret key '\(name)' is not valid: its public half does not match its seed")
        }
        self.name = name
        self.key = key
    }

    /// A fresh random key pair named `name`.
    public init(generatingNamed name: String) throws(KeyError) {
        guard !name.isEmpty, !name.contains(":") else { throw KeyError(source: name, "key name must be non-empty and contain no ':'") }
        self.name = name
        self.key = Curve25519.Signing.PrivateKey()
    }

    public var publicKey: NixPublicKey { NixPublicKey(name: name, key: key.publicKey) }

    /// The secret key file contents (no trailing newline, as Nix writes it).
    public var fileContents: String {
        "\(name):\(Base64.encode(Array(key.rawRepresentation) + Array(key.publicKey.rawRepresentation)))"
    }

    public func sign(_ message: [UInt8]) -> NixSignature {
        // Ed25519 is deterministic in libsodium; swift-crypto may randomise on some platforms, both verify identically.
        let signature = try! key.signature(for: message)
        return NixSignature(keyName: name, bytes: Array(signature))
    }
}

/// A signature line value, `keyName:base64(64-byte Ed25519 signature)`.
public struct NixSignature: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let keyName: String
    public let bytes: [UInt8]

    public init(keyName: String, bytes: [UInt8]) {
        self.keyName = keyName
        self.bytes = bytes
    }

    public init(parsing text: String, source: String = "signature") throws(KeyError) {
        let (name, bytes) = try splitNamed(text, length: 64, what: "signature", source: source)
        self.keyName = name
        self.bytes = bytes
    }

    public var description: String { "\(keyName):\(Base64.encode(bytes))" }
    public static func < (lhs: NixSignature, rhs: NixSignature) -> Bool { lhs.description.utf8.lexicographicallyPrecedes(rhs.description.utf8) }
}

/// The outcome of checking one signature against a set of trusted keys.
public enum SignatureStatus: Sendable, Hashable {
    case valid(NixPublicKey)
    /// Signed by a trusted key name, but the signature does not verify.
    case invalid(keyName: String)
    /// No trusted key has this name.
    case untrusted(keyName: String)

    /// Checks each of `signatures` over `message` against the trusted keys of the same name.
    public static func check(_ signatures: [NixSignature], over message: [UInt8], trusting keys: [NixPublicKey]) -> [SignatureStatus] {
        signatures.map { signature in
            let named = keys.filter { $0.name == signature.keyName }
            if named.isEmpty { return .untrusted(keyName: signature.keyName) }
            if let key = named.first(where: { $0.isValid(signature: signature, for: message) }) { return .valid(key) }
            return .invalid(keyName: signature.keyName)
        }
    }
}
