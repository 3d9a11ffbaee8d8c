import CEd25519
import Crypto
import Foundation

/// An Ed25519 public key prepared for checking many signatures: decoded once, with a table of its
/// multiples, so that a verification is two sums of 32 precomputed points each and one field
/// inversion, about a quarter of the time of `Curve25519.Signing.PublicKey.isValidSignature`
/// (SHA-512 of the message aside). The table (480 KiB, owned by this object) is built by the key's
/// first verification, about as long as 130 verifications; a key never used costs no time. The base
/// point's table, of the same size, is shared and built on first use.
///
/// Accepts exactly what swift-crypto's `Curve25519.Signing.PublicKey.isValidSignature` accepts on
/// Linux (BoringSSL's `ED25519_verify`): a 64-byte signature R ‖ S with S below the group order,
/// such that the canonical encoding of [S]B − [k]A, k = SHA-512(R ‖ A ‖ M) mod L, equals R. Keys
/// decode leniently, as there: y may be ≥ p, x = 0 may carry the sign bit, and points of small
/// order are keys like any other.
public final class Ed25519VerifyingKey: Sendable {
    /// The 32-byte public key.
    public let rawRepresentation: [UInt8]
    /// The C `vouch_ed25519_key`: decoded by `init`; its table is written once, by the first
    /// verification, which the C code makes safe across threads (the others wait), then only read.
    nonisolated(unsafe) private let prepared: OpaquePointer

    /// Nil if `rawRepresentation` is not 32 bytes or not the encoding of a curve point (swift-crypto
    /// rejects every signature under such a key).
    public init?(rawRepresentation: some ContiguousBytes) {
        let raw = rawRepresentation.withUnsafeBytes { Array($0) }
        guard raw.count == 32 else { return nil }
        let memory = UnsafeMutableRawPointer.allocate(byteCount: vouch_ed25519_key_size(), alignment: 64)
        guard vouch_ed25519_key_prepare(OpaquePointer(memory), raw) == 1 else {
            memory.deallocate()
            return nil
        }
        self.rawRepresentation = raw
        self.prepared = OpaquePointer(memory)
    }

    /// Nil if the key is not the encoding of a curve point.
    public convenience init?(_ key: NixPublicKey) {
        self.init(rawRepresentation: key.raw)
    }

    deinit {
        UnsafeMutableRawPointer(prepared).deallocate()
    }

    /// Whether `signature` (R ‖ S, 64 bytes) is a valid signature of `message` under this key.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        message.withUnsafeBytes { message in
            Ed25519PreparedSignature(signature, publicKey: rawRepresentation, message: message).map(isValid) ?? false
        }
    }

    /// Whether `signature` is valid under this key: false if it was prepared for another key.
    public func isValid(_ signature: Ed25519PreparedSignature) -> Bool {
        guard signature.publicKey == rawRepresentation else { return false }
        return withUnsafeBytes(of: signature.challenge) { k in
            vouch_ed25519_verify_prehashed(prepared, signature.bytes, k.bindMemory(to: UInt8.self).baseAddress!) == 1
        }
    }
}

/// An Ed25519 signature with its challenge k = SHA-512(R ‖ A ‖ M) computed for one public key A, so
/// that it can be checked under A (``Ed25519VerifyingKey/isValid(_:)``) after the message is gone:
/// 64 bytes in place of the message.
public struct Ed25519PreparedSignature: Sendable {
    /// R ‖ S, 64 bytes.
    public let bytes: [UInt8]
    /// The 32-byte key the challenge was computed for.
    public let publicKey: [UInt8]
    /// SHA-512(R ‖ A ‖ M).
    let challenge: SIMD64<UInt8>

    private init(bytes: [UInt8], publicKey: [UInt8], challenge: SIMD64<UInt8>) {
        self.bytes = bytes
        self.publicKey = publicKey
        self.challenge = challenge
    }

    /// Nil unless `signature` has 64 bytes and `publicKey` 32 (no other signature can verify);
    /// `message` is the concatenation of the given buffers.
    public init?(_ signature: [UInt8], publicKey: [UInt8], message parts: UnsafeRawBufferPointer...) {
        guard signature.count == 64, publicKey.count == 32 else { return nil }
        var sha = SHA512()
        signature.withUnsafeBytes { sha.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0.prefix(32))) }
        publicKey.withUnsafeBytes { sha.update(bufferPointer: $0) }
        for part in parts { sha.update(bufferPointer: part) }
        var challenge = SIMD64<UInt8>()
        sha.finalize().withUnsafeBytes { digest in withUnsafeMutableBytes(of: &challenge) { $0.copyMemory(from: digest) } }
        self.init(bytes: signature, publicKey: publicKey, challenge: challenge)
    }

    /// What `init?(_:publicKey:message:)` gives for each request (its message the concatenation of
    /// `message`), with the hashing done four messages at a time where the CPU allows.
    public static func prepare(_ requests: [(signature: [UInt8], publicKey: [UInt8], message: [[UInt8]])]) -> [Ed25519PreparedSignature?] {
        var results = [Ed25519PreparedSignature?](repeating: nil, count: requests.count)
        let valid = requests.indices.filter { requests[$0].signature.count == 64 && requests[$0].publicKey.count == 32 }
        // R ‖ A ‖ M of up to four requests, one buffer each.
        var buffers = [[UInt8]](repeating: [], count: 4)
        var digests = [SIMD64<UInt8>](repeating: SIMD64(), count: 4)
        for start in stride(from: 0, to: valid.count, by: 4) {
            let group = valid[start..<min(start + 4, valid.count)]
            for (lane, index) in group.enumerated() {
                let request = requests[index]
                buffers[lane].removeAll(keepingCapacity: true)
                buffers[lane] += request.signature.prefix(32)
                buffers[lane] += request.publicKey
                for part in request.message { buffers[lane] += part }
            }
            hash(&digests, buffers, count: group.count)
            for (lane, index) in group.enumerated() {
                results[index] = Ed25519PreparedSignature(bytes: requests[index].signature, publicKey: requests[index].publicKey, challenge: digests[lane])
            }
        }
        return results
    }

    private static func hash(_ digests: inout [SIMD64<UInt8>], _ buffers: [[UInt8]], count: Int) {
        buffers[0].withUnsafeBufferPointer { b0 in buffers[1].withUnsafeBufferPointer { b1 in
            buffers[2].withUnsafeBufferPointer { b2 in buffers[3].withUnsafeBufferPointer { b3 in
                var messages: [UnsafePointer<UInt8>?] = [b0.baseAddress, b1.baseAddress, b2.baseAddress, b3.baseAddress]
                var lengths = [b0.count, b1.count, b2.count, b3.count]
                digests.withUnsafeMutableBytes { out in
                    messages.withUnsafeMutableBufferPointer { m in
                        vouch_sha512_x4(out.baseAddress!.assumingMemoryBound(to: UInt8.self), m.baseAddress!, &lengths, Int32(count))
                    }
                }
            }}
        }}
    }
}
