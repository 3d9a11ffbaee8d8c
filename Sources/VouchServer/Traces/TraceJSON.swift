import NixFormats
import VouchStore
import VouchTrace

/// JSON answers of the trace API, through VouchTrace's canonical encoder.
enum TraceJSON {
    /// `{"traces":[{"id","format":"dsse","signer","envelope":{…}} | {"id","format":"laut","signer","jws"}]}`.
    static func traces(_ traces: [StoredTrace]) -> [UInt8] {
        JSONValue.object(["traces": .array(traces.map(entry))]).canonicalBytes
    }

    static func entry(_ trace: StoredTrace) -> JSONValue {
        var members: [String: JSONValue] = [
            "id": .string(trace.id),
            "format": .string(trace.format.rawValue),
            "signer": .string(trace.signer.description),
        ]
        switch trace.format {
        case .dsse:
            // Stored bytes were parsed on upload; should they not parse now, show them as a string.
            members["envelope"] = (try? JSONValue(parsing: trace.bytes)) ?? .string(String(decoding: trace.bytes, as: UTF8.self))
        case .laut:
            var jws = String(decoding: trace.bytes, as: UTF8.self)
            if jws.hasSuffix("\n") { jws.removeLast() }
            members["jws"] = .string(jws)
        }
        return .object(members)
    }

    /// `{"signers":[{"publicKey":"name:base64","traces":N,"registered":true}]}`.
    static func signers(_ signers: [SignerSummary]) -> [UInt8] {
        JSONValue.object(["signers": .array(signers.map {
            .object(["publicKey": .string($0.key.description), "traces": .int(Int64($0.traceCount)), "registered": .bool($0.registered)])
        })]).canonicalBytes
    }

    /// laut's trace file: `{"signatures":["<JWS>",…]}`.
    static func lautSignatures(_ traces: [StoredTrace]) -> [UInt8] {
        JSONValue.object(["signatures": .array(traces.compactMap { entry($0)["jws"] })]).canonicalBytes
    }
}
