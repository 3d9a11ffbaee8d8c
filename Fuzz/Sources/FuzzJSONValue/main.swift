// libFuzzer entry point for VouchTrace's strict JSON parser (`JSONValue(parsing:)`), which reads
// every envelope, statement and laut JWS part that reaches the server and the verifier.
//
// Invariants:
// 1. The parser never traps (depth and size are bounded), whatever the bytes.
// 2. Whatever it accepts re-encodes canonically (`canonicalBytes`) to a document that parses to
//    an equal value, whose canonical encoding is the same bytes (canonical form is a fixpoint).
import CLibFuzzer
import VouchTrace

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONValue(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    guard let value = try? JSONValue(parsing: bytes) else { return 0 }
    let canonical = value.canonicalBytes
    let again: JSONValue
    do { again = try JSONValue(parsing: canonical) } catch {
        preconditionFailure("canonical encoding of an accepted value does not parse: \(error)\n\(String(decoding: canonical, as: UTF8.self))")
    }
    precondition(again == value, "canonical encoding parses to a different value")
    precondition(again.canonicalBytes == canonical, "canonical encoding is not a fixpoint")
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
let status = LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzJSONValue(data, size) }
exit(status)
