import Crypto
import HTTPTypes
import NixFormats
import VouchStore
import VouchTrace

/// Turns an uploaded trace into a ``StoredTrace`` after checking it: well-formed, and signed by
/// a key registered with the server — for DSSE, by the builder the trace itself names; for laut
/// JWS, by any registered key.
struct TraceIntake: Sendable {
    /// - Parameters:
    ///   - bytes: the body exactly as received.
    ///   - isJWS: whether the client said `application/jose` (or the body is not a JSON object).
    ///   - keys: the keys registered now.
    ///   - receivedAt: server time.
    /// - Throws: `400` for a malformed trace, `403` for a signature problem.
    static func check(_ bytes: [UInt8], isJWS: Bool, keys: [NixPublicKey], receivedAt: Int64) throws(ServerError) -> StoredTrace {
        let id = Base16.encode(Array(SHA256.hash(data: bytes)))
        if isJWS { return try checkLaut(bytes, id: id, keys: keys, receivedAt: receivedAt) }
        let signed: SignedTrace
        do { signed = try SignedTrace(parsing: bytes, source: "trace") } catch { throw .badRequest("\(error)") }
        let builder = signed.trace.builderKey
        guard keys.contains(builder) else {
            throw ServerError(.forbidden, "trace for \(signed.trace.derivation): builder key '\(builder)' is not registered with this server")
        }
        guard signed.validSigners(trusting: [builder]).contains(builder) else {
            throw ServerError(.forbidden, "trace for \(signed.trace.derivation): no valid signature by its builder '\(builder.name)'")
        }
        return StoredTrace(id: id, format: .dsse, bytes: bytes, derivation: signed.trace.derivation,
                           builtDerivationHashPart: signed.trace.builtDerivation.hashPart,
                           resolvedDerivation: signed.trace.resolvedDerivation, outputs: signed.trace.outputs.map(\.path),
                           signer: builder, receivedAt: receivedAt)
    }

    private static func checkLaut(_ bytes: [UInt8], id: String, keys: [NixPublicKey], receivedAt: Int64) throws(ServerError) -> StoredTrace {
        var text = String(decoding: bytes, as: UTF8.self)
        guard text.utf8.elementsEqual(bytes) else { throw .badRequest("laut trace is not UTF-8") }
        if text.hasSuffix("\n") { text.removeLast() }
        let trace: LautTrace
        do { trace = try LautTrace(compact: text, source: "laut trace") } catch { throw .badRequest("\(error)") }
        guard let signer = trace.signer(trusting: keys) else {
            throw ServerError(.forbidden, "laut trace for \(trace.resolvedDerivationHash): not signed by any key registered with this server")
        }
        let outputs = trace.outputs.keys.sorted().map { trace.outputs[$0]!.path }
        return StoredTrace(id: id, format: .laut, bytes: bytes, derivation: nil, builtDerivationHashPart: trace.resolvedDerivationHash,
                           resolvedDerivation: nil, outputs: outputs, signer: signer, receivedAt: receivedAt)
    }
}
