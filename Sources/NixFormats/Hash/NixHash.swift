/// A hash value with its algorithm; the byte count always matches the algorithm.
public struct NixHash: Sendable, Hashable, CustomStringConvertible {
    public let algorithm: HashAlgorithm
    public let bytes: [UInt8]

    /// The text encodings Nix prints.
    public enum Encoding: Sendable, CaseIterable {
        case base16, nix32, base64, sri
    }

    /// The digest bytes in one call (an array would feed them one at a time).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(algorithm)
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    public init(algorithm: HashAlgorithm, bytes: [UInt8]) throws(HashParseError) {
        guard bytes.count == algorithm.byteCount else {
            throw HashParseError(input: Base16.encode(bytes), reason: "\(bytes.count) bytes is the wrong length for \(algorithm.rawValue)")
        }
        self.algorithm = algorithm
        self.bytes = bytes
    }

    init(uncheckedAlgorithm algorithm: HashAlgorithm, bytes: [UInt8]) {
        self.algorithm = algorithm
        self.bytes = bytes
    }

    public var base16: String { Base16.encode(bytes) }
    public var nix32: String { NixBase32.encode(bytes) }
    public var base64: String { Base64.encode(bytes) }
    /// `<algo>-<base64>`.
    public var sri: String { "\(algorithm.rawValue)-\(base64)" }

    /// The digest in `encoding`; `prefixed` adds `<algo>:` (ignored for SRI, which always names its algorithm).
    public func encoded(_ encoding: Encoding, prefixed: Bool = true) -> String {
        let body: String
        switch encoding {
        case .base16: body = base16
        case .nix32: body = nix32
        case .base64: body = base64
        case .sri: return sri
        }
        return prefixed ? "\(algorithm.rawValue):\(body)" : body
    }

    /// `<algo>:<nix32>`, the form in narinfo files and `nix-store -q --hash`.
    public var description: String { encoded(.nix32) }

    /// Parses any text form Nix accepts: `algo:<base16|nix32|base64>`, SRI `algo-<base64>`,
    /// or a bare digest when `algorithm` is given. The encoding of a non-SRI body is chosen by
    /// its length, as in Nix.
    /// - Parameter algorithm: the algorithm the context implies; must agree with a prefix if both exist.
    /// - Throws: ``HashParseError`` naming the input and what is wrong.
    public init(parsing text: String, algorithm expected: HashAlgorithm? = nil) throws(HashParseError) {
        let utf8 = Array(text.utf8)
        var algorithm = expected
        var body: Substring = Substring(text)
        var isSRI = false
        if let colon = utf8.firstIndex(of: UInt8(ascii: ":")) {
            let name = String(decoding: utf8[..<colon], as: UTF8.self)
            guard let named = HashAlgorithm(rawValue: name) else {
                throw HashParseError(input: text, reason: "unknown hash algorithm '\(name)'")
            }
            algorithm = try Self.agree(named, expected, text)
            body = Substring(String(decoding: utf8[(colon + 1)...], as: UTF8.self))
        } else if let dash = utf8.firstIndex(of: UInt8(ascii: "-")) {
            let name = String(decoding: utf8[..<dash], as: UTF8.self)
            guard let named = HashAlgorithm(rawValue: name) else {
                throw HashParseError(input: text, reason: "unknown hash algorithm '\(name)'")
            }
            algorithm = try Self.agree(named, expected, text)
            body = Substring(String(decoding: utf8[(dash + 1)...], as: UTF8.self))
            isSRI = true
        }
        guard let algorithm else {
            throw HashParseError(input: text, reason: "hash has no algorithm prefix and none is implied")
        }
        let decoded: [UInt8]?
        if isSRI {
            decoded = Base64.decode(body)
        } else if body.utf8.count == algorithm.byteCount * 2 {
            decoded = Base16.decode(body)
        } else if body.utf8.count == NixBase32.encodedLength(algorithm.byteCount) {
            decoded = NixBase32.decode(body)
        } else if body.utf8.count == Base64.encodedLength(algorithm.byteCount) {
            decoded = Base64.decode(body)
        } else {
            throw HashParseError(input: text, reason: "wrong length for hash type '\(algorithm.rawValue)'")
        }
        guard let decoded, decoded.count == algorithm.byteCount else {
            throw HashParseError(input: text, reason: "invalid \(isSRI ? "SRI" : "encoded") \(algorithm.rawValue) digest")
        }
        self.init(uncheckedAlgorithm: algorithm, bytes: decoded)
    }

    private static func agree(_ named: HashAlgorithm, _ expected: HashAlgorithm?, _ text: String) throws(HashParseError) -> HashAlgorithm {
        if let expected, expected != named {
            throw HashParseError(input: text, reason: "hash is \(named.rawValue) but \(expected.rawValue) was expected")
        }
        return named
    }

    /// Nix's `compressHash`: XOR-folds the digest into `size` bytes (used for the 20-byte store path digest).
    public func compressed(to size: Int) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: size)
        for (index, byte) in bytes.enumerated() { output[index % size] ^= byte }
        return output
    }
}

/// A hash string that could not be parsed.
public struct HashParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public let input: String
    public let reason: String
    public var description: String { "invalid hash '\(input)': \(reason)" }
}
