// libFuzzer entry point for the derivation ATerm parser.
//
// Invariants: the parser never traps, and whatever it accepts re-serialises to exactly the
// input bytes (`Derivation.aterm`), since Vouch hashes and signs those bytes.
import CLibFuzzer
import NixFormats

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzATermParser(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    if let derivation = try? Derivation(aterm: bytes, name: "fuzz") {
        precondition(derivation.aterm == bytes, "accepted derivation does not re-serialise to the input")
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
let status = LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzATermParser(data, size) }
exit(status)
