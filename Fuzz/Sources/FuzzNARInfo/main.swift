// libFuzzer entry point for the narinfo parser (`NARInfo(parsing:)`), which reads what any
// client PUTs to `vouch serve` and what any cache serves to `vouch verify`.
//
// Invariants:
// 1. The parser never traps, whatever the bytes (decoded as UTF-8 text, as the server does).
// 2. Whatever it accepts serialises (`text`) to narinfo that parses again to the same `text`
//    and the same `fingerprint` (the bytes a `Sig:` covers).
// 3. Computing the fingerprint and checking signatures against a trusted key never traps.
import CLibFuzzer
import NixFormats

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The golden-vector key, so seeds' `Sig:` lines reach the Ed25519 check.
let trusted = [try! NixPublicKey(parsing: "vouch-vectors-1:U/arF/UnceLpOH3BgLdWllkgLVMTXw5B00W6eWXsAuQ=")]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNARInfo(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    guard let info = try? NARInfo(parsing: text) else { return 0 }
    let serialised = info.text
    let fingerprint = info.fingerprint
    _ = info.checkSignatures(trusting: trusted)
    let again: NARInfo
    do { again = try NARInfo(parsing: serialised) } catch {
        preconditionFailure("accepted narinfo re-serialises to text the parser refuses: \(error)\n\(serialised)")
    }
    precondition(again.text == serialised, "narinfo text is not stable under a round trip:\n\(serialised)\n--\n\(again.text)")
    precondition(again.fingerprint == fingerprint, "narinfo fingerprint changed under a round trip")
    precondition(again == info, "round-tripped narinfo is not equal to the original")
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
let status = LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzNARInfo(data, size) }
exit(status)
