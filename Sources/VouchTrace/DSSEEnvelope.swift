import NixFormats

/// A DSSE v1 envelope (`payload`, `payloadType`, `signatures[{keyid, sig}]`).
///
/// Signatures cover `PAE(payloadType, payload)` only; `keyid` is an unauthenticated hint.
/// Vouch writes standard padded base64 and sorted members; it reads standard or URL-safe
/// base64, padded or not, as the DSSE protocol requires of verifiers.
public struct DSSEEnvelope: Sendable, Hashable {
    public struct Signature: Sendable, Hashable {
        /// Unauthenticated hint; Vouch writes the signer's Nix public key `name:base64`.
        public var keyID: String
        public var bytes: [UInt8]
        public init(keyID: String, bytes: [UInt8]) {
            self.keyID = keyID
            self.bytes = bytes
        }
    }

    public static let inTotoPayloadType = "application/vnd.in-toto+json"
    /// Largest envelope accepted.
    public static let maximumSize = 8 << 20

    public var payloadType: String
    public var payload: [UInt8]
    public var signatures: [Signature]

    public init(payloadType: String, payload: [UInt8], signatures: [Signature] = []) {
        self.payloadType = payloadType
        self.payload = payload
        self.signatures = signatures
    }

    /// Pre-Authentication Encoding: `DSSEv1 SP len(type) SP type SP len(body) SP body`.
    public static func pae(payloadType: String, payload: [UInt8]) -> [UInt8] {
        let type = Array(payloadType.utf8)
        var out = Array("DSSEv1 \(type.count) ".utf8)
        out.append(contentsOf: type)
        out.append(contentsOf: Array(" \(payload.count) ".utf8))
        out.append(contentsOf: payload)
        return out
    }

    public var signedBytes: [UInt8] { Self.pae(payloadType: payloadType, payload: payload) }

    /// Adds a signature by `key` (its `name:base64` public key as keyid).
    public mutating func sign(with key: NixSecretKey) {
        let signature = key.sign(signedBytes)
        signatures.append(Signature(keyID: key.publicKey.description, bytes: signature.bytes))
    }

    /// The envelope JSON: members sorted, no whitespace.
    public var json: [UInt8] {
        JSONValue.object([
            "payload": .string(Base64.encode(payload)),
            "payloadType": .string(payloadType),
            "signatures": .array(signatures.map { .object(["keyid": .string($0.keyID), "sig": .string(Base64.encode($0.bytes))]) }),
        ]).canonicalBytes
    }

    /// Parses envelope JSON.
    /// - Throws: ``TraceError`` naming `source` and the malformed member.
    public init(parsing bytes: [UInt8], source: String) throws(TraceError) {
        guard bytes.count <= Self.maximumSize else { throw TraceError(.malformed, source: source, "envelope larger than \(Self.maximumSize) bytes") }
        let value: JSONValue
        do throws(JSONError) { value = try JSONValue(parsing: bytes) } catch {
            throw TraceError(.malformed, source: source, "envelope: \(error)")
        }
        guard let payloadText = value["payload"]?.string else { throw TraceError(.malformed, source: source, "envelope 'payload' must be a string") }
        guard let type = value["payloadType"]?.string else { throw TraceError(.malformed, source: source, "envelope 'payloadType' must be a string") }
        guard let sigs = value["signatures"]?.array else { throw TraceError(.malformed, source: source, "envelope 'signatures' must be an array") }
        guard let payload = Self.decodeBase64(payloadText) else { throw TraceError(.malformed, source: source, "envelope 'payload' is not base64") }
        var signatures = [Signature]()
        for (index, sig) in sigs.enumerated() {
            guard let sigText = sig["sig"]?.string, let sigBytes = Self.decodeBase64(sigText) else {
                throw TraceError(.malformed, source: source, "signature \(index): 'sig' must be base64")
            }
            let keyID: String
            switch sig["keyid"] {
            case .none, .some(.null): keyID = ""
            case .some(.string(let s)): keyID = s
            default: throw TraceError(.malformed, source: source, "signature \(index): 'keyid' must be a string")
            }
            signatures.append(Signature(keyID: keyID, bytes: sigBytes))
        }
        self.init(payloadType: type, payload: payload, signatures: signatures)
    }

    /// Standard or URL-safe base64, with or without padding.
    static func decodeBase64(_ text: String) -> [UInt8]? {
        var chars = Array(text.utf8)
        for i in chars.indices {
            if chars[i] == UInt8(ascii: "-") { chars[i] = UInt8(ascii: "+") } else if chars[i] == UInt8(ascii: "_") { chars[i] = UInt8(ascii: "/") }
        }
        if chars.last != UInt8(ascii: "=") {
            guard chars.count % 4 != 1 else { return nil }
            while chars.count % 4 != 0 { chars.append(UInt8(ascii: "=")) }
        }
        return chars.withUnsafeBufferPointer { Base64.decode($0) }
    }
}
