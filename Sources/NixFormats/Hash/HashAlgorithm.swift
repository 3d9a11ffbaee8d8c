import Crypto

/// The hash algorithms Nix names in hashes, fixed-output derivations and content addresses.
public enum HashAlgorithm: String, Sendable, CaseIterable, Hashable {
    case md5, sha1, sha256, sha512

    /// Digest size in bytes.
    public var byteCount: Int {
        switch self {
        case .md5: 16
        case .sha1: 20
        case .sha256: 32
        case .sha512: 64
        }
    }

    /// Hashes `bytes` in one call.
    public func digest<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> NixHash {
        var hasher = NixHasher(self)
        hasher.update(Array(bytes))
        return hasher.finalize()
    }
}

/// An incremental hasher for any ``HashAlgorithm``.
public struct NixHasher: Sendable {
    private enum State: Sendable {
        case md5(Insecure.MD5)
        case sha1(Insecure.SHA1)
        case sha256(SHA256)
        case sha512(SHA512)
    }

    private var state: State
    public let algorithm: HashAlgorithm

    public init(_ algorithm: HashAlgorithm) {
        self.algorithm = algorithm
        switch algorithm {
        case .md5: state = .md5(Insecure.MD5())
        case .sha1: state = .sha1(Insecure.SHA1())
        case .sha256: state = .sha256(SHA256())
        case .sha512: state = .sha512(SHA512())
        }
    }

    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        switch state {
        case .md5(var h): h.update(bufferPointer: buffer); state = .md5(h)
        case .sha1(var h): h.update(bufferPointer: buffer); state = .sha1(h)
        case .sha256(var h): h.update(bufferPointer: buffer); state = .sha256(h)
        case .sha512(var h): h.update(bufferPointer: buffer); state = .sha512(h)
        }
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public func finalize() -> NixHash {
        let bytes: [UInt8]
        switch state {
        case .md5(let h): bytes = Array(h.finalize())
        case .sha1(let h): bytes = Array(h.finalize())
        case .sha256(let h): bytes = Array(h.finalize())
        case .sha512(let h): bytes = Array(h.finalize())
        }
        return NixHash(uncheckedAlgorithm: algorithm, bytes: bytes)
    }
}
