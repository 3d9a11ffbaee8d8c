// libFuzzer entry point for the realisation (`.doi`) parser, which reads what clients PUT to
// `vouch serve` under `realisations/` and what caches serve to `vouch verify`.
//
// Invariants:
// 1. The parser never traps, whatever the bytes.
// 2. Whatever it accepts serialises (`json`) to a document that parses again to the same
//    realisation: same id, out path, dependent realisations, signatures (as a set), and the same
//    `json` and `fingerprint` bytes.
// 3. Checking signatures against a trusted key never traps.
import CLibFuzzer
import NixFormats

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The golden-vector key, so seeds' signatures reach the Ed25519 check.
let trusted = [try! NixPublicKey(parsing: "vouch-vectors-1:U/arF/UnceLpOH3BgLdWllkgLVMTXw5B00W6eWXsAuQ=")]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRealisation(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    guard let realisation = try? Realisation(parsing: bytes) else { return 0 }
    let json = realisation.json
    let fingerprint = realisation.fingerprint
    _ = realisation.checkSignatures(trusting: trusted)
    let again: Realisation
    do { again = try Realisation(parsing: Array(json.utf8)) } catch {
        preconditionFailure("accepted realisation re-serialises to JSON the parser refuses: \(error)\n\(json)")
    }
    precondition(again.id == realisation.id && again.outPath == realisation.outPath, "id or outPath changed under a round trip\n\(json)")
    precondition(again.dependentRealisations == realisation.dependentRealisations, "dependentRealisations changed under a round trip\n\(json)")
    precondition(Set(again.signatures) == Set(realisation.signatures), "signatures changed under a round trip\n\(json)")
    precondition(again.json == json, "realisation JSON is not stable under a round trip:\n\(json)\n--\n\(again.json)")
    precondition(again.fingerprint == fingerprint, "realisation fingerprint changed under a round trip")
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
let status = LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzRealisation(data, size) }
exit(status)
