import NixFormats

/// A signed trace kept for verification: the trace and its envelope's signatures prepared under
/// the trace's builder key, the only key that can make it count. The payload (a few KiB) is not
/// kept: each signature carries its Ed25519 challenge instead.
public struct PreparedTrace: Sendable {
    public let trace: BuildTrace
    /// The envelope's 64-byte signatures, prepared for `trace.builderKey` (no other signature can
    /// verify, so none is kept).
    public let signatures: [Ed25519PreparedSignature]

    public init(_ signed: SignedTrace) {
        trace = signed.trace
        let key = signed.trace.builderKey.raw
        let envelope = signed.envelope
        let head = Self.paeHead(envelope)
        signatures = head.withUnsafeBytes { head in
            envelope.payload.withUnsafeBytes { payload in
                envelope.signatures.compactMap { Ed25519PreparedSignature($0.bytes, publicKey: key, message: head, payload) }
            }
        }
    }

    private init(trace: BuildTrace, signatures: [Ed25519PreparedSignature]) {
        self.trace = trace
        self.signatures = signatures
    }

    /// `init(_:)` of each, with the signatures' hashing done four at a time where the CPU allows.
    public static func preparing(_ signed: consuming [SignedTrace]) -> [PreparedTrace] {
        var traces = signed
        var requests: [(signature: [UInt8], publicKey: [UInt8], message: [[UInt8]])] = []
        for i in traces.indices {
            let head = paeHead(traces[i].envelope)
            for signature in traces[i].envelope.signatures {
                requests.append((signature.bytes, traces[i].trace.builderKey.raw, [head, traces[i].envelope.payload]))
            }
        }
        var prepared = Ed25519PreparedSignature.prepare(requests)[...]
        // Each trace moved out of `traces`, so its fields are not retained again for the copy.
        traces.reverse()
        var result: [PreparedTrace] = []
        result.reserveCapacity(traces.count)
        while let trace = traces.popLast() {
            let count = trace.envelope.signatures.count
            result.append(PreparedTrace(trace: trace.trace, signatures: prepared.prefix(count).compactMap { $0 }))
            prepared = prepared.dropFirst(count)
        }
        return result
    }

    /// PAE(type, payload) = "DSSEv1 <len(type)> <type> <len(payload)> " ‖ payload: the part before the payload.
    private static func paeHead(_ envelope: DSSEEnvelope) -> [UInt8] {
        var head: [UInt8] = Array("DSSEv1 ".utf8)
        appendDecimal(envelope.payloadType.utf8.count, to: &head)
        head.append(UInt8(ascii: " "))
        head += envelope.payloadType.utf8
        head.append(UInt8(ascii: " "))
        appendDecimal(envelope.payload.count, to: &head)
        head.append(UInt8(ascii: " "))
        return head
    }

    private static func appendDecimal(_ value: Int, to bytes: inout [UInt8]) {
        let start = bytes.count
        var rest = value
        repeat {
            bytes.append(UInt8(ascii: "0") + UInt8(rest % 10))
            rest /= 10
        } while rest > 0
        bytes[start...].reverse()
    }

    /// Parses an envelope as ``SignedTrace/init(parsing:source:cache:)`` does and prepares it.
    public init(parsing bytes: [UInt8], source: String, cache: TraceValueCache?) throws(TraceError) {
        self.init(try SignedTrace(parsing: bytes, source: source, cache: cache))
    }

    /// True when one of the signatures verifies under `key`, the builder key prepared: what
    /// ``SignedTrace/isSignedByBuilder(trusting:)`` says once the builder key is known to be trusted.
    public func isSignedByBuilder(_ key: Ed25519VerifyingKey) -> Bool {
        key.rawRepresentation == trace.builderKey.raw && signatures.contains { key.isValid($0) }
    }
}
