// libFuzzer entry point for the build-trace readers that face uploads and cache responses:
// DSSE envelopes with in-toto statements (`SignedTrace(parsing:source:)`) and laut JWS traces
// (`LautTrace(compact:source:)`, `LautTrace.parseFile`).
//
// Each input is read five ways, so the fuzzer reaches the statement and JWS checks without
// having to forge base64 first:
// 1. as an envelope;
// 2. as a statement, wrapped in Vouch's canonical envelope (the fast canonical reader's path);
// 3. as a compact JWS;
// 4. split at its first two NUL bytes into header, payload and signature, each base64url-encoded
//    into a compact JWS;
// 5. as a laut `{"signatures":[…]}` trace file.
//
// Invariants: no reader traps; errors are fine. `SignedTrace(parsing:)` (fast canonical reader
// first) accepts exactly what the general path (`DSSEEnvelope` + `JSONValue` + `BuildTrace`)
// accepts, with the same envelope and trace, with or without a cache (fresh, or filled by earlier inputs); an accepted trace's envelope JSON parses again to
// the same signed trace, and its statement re-encodes to a statement with the same canonical bytes.
import CLibFuzzer
import NixFormats
import VouchTrace

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let source = "fuzz"
/// Keys named as in the seeds. Signatures are checked against them only when no signature has the
/// Ed25519 length (64 bytes), so the keyid and length handling runs on every input while the
/// Ed25519 arithmetic itself (milliseconds each in an unoptimised sanitizer build, and not parsing)
/// does not run: with it the target managed under 100 inputs a second.
let trusted = [
    try! NixPublicKey(parsing: "builder-a:OQ6n75lsl+Wx1SRhDlK7V7Y/BFR/PEuzzdBk5KRoqUs="),
    try! NixPublicKey(parsing: "builderA:diZIhvLSthXHFH+qz5dY/Fegz/u7Z+8aMekjrabc+fI="),
]

nonisolated(unsafe) let sharedCache = TraceValueCache()

/// The strict general path, without the canonical fast reader.
func generalPath(_ bytes: [UInt8]) -> (DSSEEnvelope, BuildTrace)? {
    guard let envelope = try? DSSEEnvelope(parsing: bytes, source: source),
          envelope.payloadType == DSSEEnvelope.inTotoPayloadType,
          let statement = try? JSONValue(parsing: envelope.payload),
          let trace = try? BuildTrace(statement: statement, source: source) else { return nil }
    return (envelope, trace)
}

func checkEnvelope(_ bytes: [UInt8]) {
    let parsed = try? SignedTrace(parsing: bytes, source: source)
    let cached = try? SignedTrace(parsing: bytes, source: source, cache: TraceValueCache())
    // A cache that lives across inputs, as the loader's does across files: what earlier inputs
    // left in it (paths, hashes, dependency elements) must not change how this one reads.
    let shared = try? SignedTrace(parsing: bytes, source: source, cache: sharedCache)
    precondition(parsed == shared, "parsing with a TraceValueCache filled by earlier inputs gives a different result")
    let general = generalPath(bytes)
    precondition((parsed == nil) == (general == nil),
                 "SignedTrace(parsing:) \(parsed == nil ? "refuses" : "accepts") what the general path \(general == nil ? "refuses" : "accepts")")
    precondition(parsed == cached, "parsing with a TraceValueCache gives a different result")
    guard let parsed, let general else { return }
    precondition(parsed.envelope == general.0, "fast and general paths read different envelopes")
    precondition(parsed.trace == general.1, "fast and general paths read different traces")
    let keys = parsed.envelope.signatures.contains { $0.bytes.count == 64 } ? [] : trusted
    _ = parsed.verify(trusting: keys)
    _ = parsed.isSignedByBuilder(trusting: keys)
    let again: SignedTrace
    do { again = try SignedTrace(parsing: parsed.envelope.json, source: source) } catch {
        preconditionFailure("accepted envelope re-serialises to JSON that is refused: \(error)")
    }
    precondition(again == parsed, "envelope JSON round trip changes the signed trace")
    let statementBytes = parsed.trace.statementBytes
    let reread: BuildTrace
    do { reread = try BuildTrace(statement: try JSONValue(parsing: statementBytes), source: source) } catch {
        preconditionFailure("accepted trace re-encodes to a statement that is refused: \(error)")
    }
    precondition(reread.statementBytes == statementBytes, "statement canonical bytes change under a round trip")
}

func checkJWS(_ compact: String) {
    guard let trace = try? LautTrace(compact: compact, source: source) else { return }
    _ = trace.signer(trusting: [])  // every laut signature is 64 bytes (checked by the parser)
    precondition(trace.compact == compact, "LautTrace does not keep the compact JWS it read")
}

func base64URL(_ bytes: ArraySlice<UInt8>) -> String {
    var text = Base64.encode(Array(bytes))
    while text.hasSuffix("=") { text.removeLast() }
    return String(text.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTraceEnvelope(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    checkEnvelope(bytes)
    checkEnvelope(DSSEEnvelope(payloadType: DSSEEnvelope.inTotoPayloadType, payload: bytes,
                               signatures: [.init(keyID: trusted[0].description, bytes: [UInt8](repeating: 7, count: 63))]).json)
    checkJWS(String(decoding: bytes, as: UTF8.self))
    let parts = bytes.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
    if parts.count == 3 { checkJWS(parts.map(base64URL).joined(separator: ".")) }
    if let traces = try? LautTrace.parseFile(bytes, source: source) {
        for trace in traces { _ = trace.signer(trusting: []) }
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
let status = LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzTraceEnvelope(data, size) }
exit(status)
