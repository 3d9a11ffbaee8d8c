import NixFormats
import VouchTrace

// Operations per second on one thread, median of `--rounds` rounds of at least `--seconds` each.
// Output: one line per figure, `name  <median>/s  (min <x>, max <y>)  what`, then `statement_base64 <statement>`;
// parsed by benchmarks/bench.py.

var rounds = 5
var seconds = 1.0
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--rounds": rounds = Int(arguments.popFirst() ?? "") ?? rounds
    case "--seconds": seconds = Double(arguments.popFirst() ?? "") ?? seconds
    default:
        fatalError("usage: TraceBench [--rounds N] [--seconds S]")
    }
}

func path(_ seed: String, _ name: String) -> StorePath {
    try! StorePath(digest: Array(HashAlgorithm.sha256.digest(Array("path:\(seed)".utf8)).bytes.prefix(20)), name: name)
}

func hash(_ seed: String) -> NixHash { HashAlgorithm.sha256.digest(Array("nar:\(seed)".utf8)) }

/// A realistic trace: a CA step with 3 outputs and 40 inputs (a third plain sources, the rest annotated derivation outputs).
func realisticTrace(builder: NixPublicKey) -> BuildTrace {
    let outputs = ["out", "dev", "lib"].enumerated().map { i, name in
        BuildTrace.Output(name: name, path: path("openssl-\(name)", name == "out" ? "openssl-3.0.19" : "openssl-3.0.19-\(name)"),
                          narHash: hash(name), narSize: UInt64(1_000_000 * (i + 1)))
    }
    let inputs = (0..<40).map { i -> BuildTrace.Input in
        let name = "dep\(i)-1.\(i)"
        if i % 3 == 0 { return BuildTrace.Input(path: path("src\(i)", "\(name).tar.gz"), narHash: hash("src\(i)")) }
        return BuildTrace.Input(path: path(name, name), narHash: hash(name), derivation: path("\(name).drv", "\(name).drv"), output: "out")
    }
    return BuildTrace(derivation: path("openssl.drv", "openssl-3.0.19.drv"), resolvedDerivation: path("openssl-resolved.drv", "openssl-3.0.19.drv"),
                      system: "x86_64-linux", outputs: outputs.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) },
                      inputs: inputs.sorted { $0.path.absolute.utf8.lexicographicallyPrecedes($1.path.absolute.utf8) }, builderKey: builder, implementationVersion: "2.8.0",
                      startedOn: "2026-11-22T03:07:31Z", finishedOn: "2026-11-22T03:57:13Z",
                      invocationID: "d6b72924-f194-461d-af5a-dfddc90b7d5b")
}

var sink = 0

/// Median, min and max operations per second of `body` over `rounds` rounds.
@MainActor func measure(_ body: () -> Int) -> (median: Double, min: Double, max: Double) {
    let clock = ContinuousClock()
    for _ in 0..<100 { sink &+= body() }  // warm-up
    var rates = [Double]()
    for _ in 0..<rounds {
        var count = 0
        let start = clock.now
        var elapsed = Duration.zero
        let budget = Duration.milliseconds(Int64(seconds * 1000))
        while elapsed < budget {
            for _ in 0..<20 { sink &+= body() }
            count += 20
            elapsed = clock.now - start
        }
        let (s, atto) = elapsed.components
        rates.append(Double(count) / (Double(s) + Double(atto) / 1e18))
    }
    rates.sort()
    return (rates[rates.count / 2], rates.first!, rates.last!)
}

@MainActor func report(_ name: String, _ what: String, _ body: () -> Int) {
    let r = measure(body)
    let line = "\(name.padding(30))\(format(r.median))/s  (min \(format(r.min)), max \(format(r.max)))  \(what)"
    print(line)
}

func format(_ value: Double) -> String { String(Int((value * 10).rounded())).inserting(".", fromEnd: 1) }

extension String {
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
    func inserting(_ text: String, fromEnd offset: Int) -> String {
        let padded = count <= offset ? String(repeating: "0", count: offset + 1 - count) + self : self
        return String(padded.dropLast(offset)) + text + String(padded.suffix(offset))
    }
}

let key = try! NixSecretKey(generatingNamed: "bench-builder")
let trusted = [try! NixSecretKey(generatingNamed: "other-builder").publicKey, key.publicKey]
let trace = realisticTrace(builder: key.publicKey)
let statement = trace.statementBytes
let signed = try! SignedTrace(signing: trace, with: key)
let envelope = signed.envelope.json
let pae = signed.envelope.signedBytes
let rawSignature = key.sign(pae)
precondition(try! SignedTrace(parsing: envelope, source: "bench").validSigners(trusting: trusted) == [key.publicKey])
precondition(try! BuildTrace(statement: JSONValue(parsing: statement), source: "bench") == trace)

print("trace: \(trace.outputs.count) outputs, \(trace.inputs.count) inputs; statement \(statement.count) B, envelope \(envelope.count) B; "
      + "median of \(rounds) rounds of \(seconds) s, one thread")
report("sign_trace", "SignedTrace(signing:) + envelope JSON (encode statement, PAE, Ed25519 sign)") {
    (try! SignedTrace(signing: trace, with: key)).envelope.json.count
}
report("verify_trace", "SignedTrace(parsing:) + validSigners(trusting: 2 keys) (parse envelope, base64, JSON, fields, Ed25519 verify)") {
    (try! SignedTrace(parsing: envelope, source: "bench")).validSigners(trusting: trusted).count
}
report("verify_signature_only", "verify(trusting:) on an already parsed envelope") {
    signed.verify(trusting: trusted).count
}
report("ed25519_sign_raw", "NixSecretKey.sign over the PAE bytes (swift-crypto)") {
    key.sign(pae).bytes.count
}
report("ed25519_verify_raw", "NixPublicKey.isValid over the PAE bytes (swift-crypto)") {
    key.publicKey.isValid(signature: rawSignature, for: pae) ? 1 : 0
}
report("canonical_encode", "BuildTrace.statementBytes (build JSONValue + canonical bytes)") {
    trace.statementBytes.count
}
report("json_parse", "JSONValue(parsing:) of the statement") {
    (try? JSONValue(parsing: statement)) == nil ? 0 : 1
}
report("canonical_encode_parse", "statementBytes -> JSONValue(parsing:) -> BuildTrace(statement:)") {
    (try! BuildTrace(statement: JSONValue(parsing: trace.statementBytes), source: "bench")).inputs.count
}
// The statement itself, so a baseline JSON implementation can be timed on the same bytes.
print("statement_base64 \(Base64.encode(statement))")
if sink == 42 { print("") }
