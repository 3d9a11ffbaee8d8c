import CEd25519
import Crypto
import Foundation

/// An Ed25519 public key prepared for checking many signatures: decoded once, with a table of its
/// multiples, so that a verification is two sums of precomputed points and one field inversion,
/// about a third of the time of `Curve25519.Signing.PublicKey.isValidSignature` (SHA-512 of the
/// message included). Preparing costs about as much as 20 verifications; the table takes 96 KiB per
/// key, owned by this object (plus one 278 KiB table for the base point, shared, built on first use).
///
/// Accepts exactly what swift-crypto's `Curve25519.Signing.PublicKey.isValidSignature` accepts on
/// Linux (BoringSSL's `ED25519_verify`): a 64-byte signature R ‖ S with S below the group order,
/// such that the canonical encoding of [S]B − [k]A, k = SHA-512(R ‖ A ‖ M) mod L, equals R. Keys
/// decode leniently, as there: y may be ≥ p, x = 0 may carry the sign bit, and points of small
/// order are keys like any other.
public final class Ed25519VerifyingKey: Sendable {
    /// The 32-byte public key.
    public let rawRepresentation: [UInt8]
    /// The C `vouch_ed25519_key`: written once by `init`, then only read.
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
        return signature.challenge.withUnsafeBytes { k in
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
    let challenge: SHA512Digest

    /// Nil unless `signature` has 64 bytes and `publicKey` 32 (no other signature can verify);
    /// `message` is the concatenation of the given buffers.
    public init?(_ signature: [UInt8], publicKey: [UInt8], message parts: UnsafeRawBufferPointer...) {
        guard signature.count == 64, publicKey.count == 32 else { return nil }
        var sha = SHA512()
        signature.withUnsafeBytes { sha.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0.prefix(32))) }
        publicKey.withUnsafeBytes { sha.update(bufferPointer: $0) }
        for part in parts { sha.update(bufferPointer: part) }
        bytes = signature
        self.publicKey = publicKey
        challenge = sha.finalize()
    }
}
