// libFuzzer entry point for trust policy files: the TOML subset parser (`PolicyTOML.parse`) and
// `Policy(toml:source:)` on top of it. Policy files are the verifier's own configuration, but
// they are often fetched or shared, and a parser that traps takes `vouch verify` down with it.
//
// Invariants: neither traps, whatever the bytes (decoded as UTF-8 text); the TOML tree the
// parser returns is an object whose canonical JSON parses back to an equal value (when no deeper
// than the JSON parser's limit); a policy that
// is accepted has a rule that names only its own keys, and evaluating it never traps.
import CLibFuzzer
import VouchTrace
import VouchVerify

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Containers nested in `value`, counting itself (JSONValue's parser accepts up to its maximumDepth).
func nesting(_ value: JSONValue) -> Int {
    switch value {
    case .array(let items): 1 + (items.map(nesting).max() ?? 0)
    case .object(let members): 1 + (members.values.map(nesting).max() ?? 0)
    default: 0
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPolicyTOML(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    if let tree = try? PolicyTOML.parse(text) {
        precondition(tree.object != nil, "a TOML document must read as a table")
        if nesting(tree) <= JSONValue.maximumDepth {
            precondition((try? JSONValue(parsing: tree.canonicalBytes)) == tree, "TOML tree does not survive a canonical JSON round trip")
        }
    }
    guard let policy = try? Policy(toml: text, source: "fuzz.toml") else { return 0 }
    for rule in [policy.rule] + (policy.fixedOutputRule.map { [$0] } ?? []) {
        precondition(rule.keyNames.allSatisfy { policy.keys[$0] != nil }, "policy rule names a key the policy does not define")
        _ = rule.description
        _ = rule.isSatisfied(by: Set(policy.keys.keys))
        _ = rule.isSatisfied(by: [])
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
let status = LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzPolicyTOML(data, size) }
exit(status)
