import Crypto
import NixFormats

/// A DSSE envelope carrying a ``BuildTrace``.
public struct SignedTrace: Sendable, Hashable {
    public let envelope: DSSEEnvelope
    /// The trace read from exactly the payload bytes the signatures cover.
    public let trace: BuildTrace

    /// Signs `trace` with its builder's key.
    /// - Throws: ``TraceError`` `.invalidField` if `key` is not the trace's builder key.
    public init(signing trace: BuildTrace, with key: NixSecretKey) throws(TraceError) {
        guard key.publicKey == trace.builderKey else {
            throw TraceError(.invalidField, source: "trace", "signing key '\(key.name)' is not the trace's builder key '\(trace.builderKey.name)'")
        }
        var envelope = DSSEEnvelope(payloadType: DSSEEnvelope.inTotoPayloadType, payload: trace.statementBytes)
        envelope.sign(with: key)
        self.envelope = envelope
        self.trace = trace
    }

    /// Parses an envelope and its statement (signatures are not checked here; see ``verify(trusting:)``).
    public init(parsing bytes: [UInt8], source: String) throws(TraceError) {
        try self.init(parsing: bytes, source: source, cache: nil)
    }

    /// Parses an envelope and its statement, sharing paths and hashes with earlier traces read
    /// through the same `cache` (one cache per thread).
    public init(parsing bytes: [UInt8], source: String, cache: TraceValueCache?) throws(TraceError) {
        // Vouch's own envelopes are canonical: read them directly; anything else takes the general path.
        if let envelope = CanonicalTraceReader.envelope(bytes), envelope.payloadType == DSSEEnvelope.inTotoPayloadType,
           let trace = CanonicalTraceReader.trace(envelope.payload, source: source, cache: cache) {
            self.envelope = envelope
            self.trace = trace
            return
        }
        let envelope = try DSSEEnvelope(parsing: bytes, source: source)
        guard envelope.payloadType == DSSEEnvelope.inTotoPayloadType else {
            throw TraceError(.unsupported, source: source, "payloadType '\(envelope.payloadType)' is not \(DSSEEnvelope.inTotoPayloadType)")
        }
        let statement: JSONValue
        do throws(JSONError) { statement = try JSONValue(parsing: envelope.payload) } catch {
            throw TraceError(.malformed, source: source, "statement: \(error)")
        }
        self.envelope = envelope
        self.trace = try BuildTrace(statement: statement, source: source)
    }

    /// What one signature on the envelope amounts to.
    public enum SignatureOutcome: Sendable, Hashable {
        /// Verifies under a trusted key that is the trace's builder: this signature counts.
        case valid(NixPublicKey)
        /// Verifies under a trusted key that is not the builder named in the trace: does not count.
        case notBuilder(NixPublicKey)
        /// Fails to verify under every trusted key it could be from.
        case invalid(keyID: String)
        /// No trusted key has the name the keyid hints at, and none verifies it.
        case untrusted(keyID: String)
    }

    /// The outcome of checking every signature against `keys` (the keyid is only a hint; every
    /// trusted key whose name matches it, then every other trusted key, is tried).
    public func verify(trusting keys: [NixPublicKey]) -> [SignatureOutcome] {
        let message = envelope.signedBytes
        return envelope.signatures.map { signature in
            let hintedName = signature.keyID.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
            let ordered = keys.filter { $0.name == hintedName } + keys.filter { $0.name != hintedName }
            guard signature.bytes.count == 64 else {
                return ordered.contains { $0.name == hintedName } ? .invalid(keyID: signature.keyID) : .untrusted(keyID: signature.keyID)
            }
            for key in ordered where key.key.isValidSignature(signature.bytes, for: message) {
                return key == trace.builderKey ? .valid(key) : .notBuilder(key)
            }
            return ordered.contains { $0.name == hintedName } ? .invalid(keyID: signature.keyID) : .untrusted(keyID: signature.keyID)
        }
    }

    /// True when the trace's builder key is trusted and one of the envelope's signatures verifies
    /// under it: what ``validSigners(trusting:)`` containing the builder says, trying only the one
    /// key that can make the trace count.
    public func isSignedByBuilder(trusting keys: [NixPublicKey]) -> Bool {
        let builder = trace.builderKey
        guard keys.contains(builder) else { return false }
        let message = envelope.signedBytes
        return envelope.signatures.contains { $0.bytes.count == 64 && builder.key.isValidSignature($0.bytes, for: message) }
    }

    /// Trusted keys whose valid signature counts (each key once).
    public func validSigners(trusting keys: [NixPublicKey]) -> [NixPublicKey] {
        var seen: [NixPublicKey] = []
        for case .valid(let key) in verify(trusting: keys) where !seen.contains(key) { seen.append(key) }
        return seen
    }
}
