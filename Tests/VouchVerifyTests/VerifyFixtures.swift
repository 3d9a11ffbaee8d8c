import NixFormats
import VouchTrace
import VouchVerify
import XCTest

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// An in-memory derivation graph, each `.drv` made the way Nix 2.8's `derivationStrict` makes it:
/// input-addressed outputs from the masked modulo hash, floating CA outputs as placeholders,
/// inputs from floating CA derivations as upstream placeholders, deferred outputs blank.
final class Graph {
    enum Kind {
        /// Input-addressed (deferred when an input is floating CA or deferred).
        case ia
        /// Floating content-addressed, `r:sha256`.
        case ca
        /// Fixed-output, recursive sha256 of `seed`'s fake NAR.
        case fod(seed: String)
    }

    private(set) var drvs: [String: Derivation] = [:]
    let platform: String

    init(platform: String = "x86_64-linux") { self.platform = platform }

    var loader: Verifier.Loader {
        { path in
            guard let drv = self.drvs[path] else { throw FixtureError("no derivation \(path) in the graph") }
            return drv
        }
    }

    subscript(path: String) -> Derivation { drvs[path]! }

    /// A source (`inputSrcs`) path, like `builtins.toFile`.
    func source(_ name: String, _ text: String = "") -> String {
        try! StorePath.text(name: name, contents: Array("source \(name) \(text)".utf8)).absolute
    }

    static func fodHash(_ seed: String) -> NixHash { HashAlgorithm.sha256.digest(Array("fod-nar:\(seed)".utf8)) }

    /// Adds a derivation; returns its `.drv` path.
    @discardableResult
    func add(_ name: String, _ kind: Kind = .ia, outputs: [String] = ["out"], inputs: [(String, String)] = [], srcs: [String] = [],
             script: String = "", platform: String? = nil, env extra: [String: String] = [:]) throws -> String {
        let platform = platform ?? self.platform
        var inputDrvs: [String: Set<String>] = [:]
        var refs: [String] = []
        var deferred = false
        for (path, output) in inputs {
            guard let input = drvs[path], let o = input.outputs[output] else { throw FixtureError("unknown input \(path)!\(output)") }
            inputDrvs[path, default: []].insert(output)
            if o.path.isEmpty {
                deferred = true
                refs.append(Derivation.upstreamPlaceholder(drvPath: try StorePath(absolutePath: path), output: output))
            } else {
                refs.append(o.path)
            }
        }
        refs += srcs.sorted()
        var env: [ByteString: ByteString] = [
            "builder": "/bin/sh", "name": ByteString(name), "system": ByteString(platform),
            "deps": ByteString(refs.joined(separator: " ")),
        ]
        for (k, v) in extra { env[ByteString(k)] = ByteString(v) }
        var outs: [String: Derivation.Output] = [:]
        switch kind {
        case .ia:
            for o in outputs {
                outs[o] = .init(path: "")
                env[ByteString(o)] = ""
            }
        case .ca:
            env["__contentAddressed"] = "1"
            env["outputHashAlgo"] = "sha256"
            env["outputHashMode"] = "recursive"
            for o in outputs {
                outs[o] = .init(path: "", hashAlgo: "r:sha256")
                env[ByteString(o)] = ByteString(Derivation.placeholder(output: o))
            }
        case .fod(let seed):
            precondition(outputs == ["out"])
            let hash = Self.fodHash(seed)
            let path = try StorePath.fixedOutput(name: name, method: .recursive, hash: hash)
            outs["out"] = .init(path: path.absolute, hashAlgo: "r:sha256", hash: hash.base16)
            env["out"] = ByteString(path.absolute)
            env["outputHash"] = ByteString(hash.base16)
            env["outputHashAlgo"] = "sha256"
            env["outputHashMode"] = "recursive"
        }
        var drv = Derivation(name: name, outputs: outs, inputDrvs: inputDrvs, inputSrcs: Set(srcs), platform: ByteString(platform),
                             builder: "/bin/sh", args: ["-c", ByteString(script.isEmpty ? "echo \(name) > $out" : script)], env: env)
        if case .ia = kind, !deferred {
            // derivationStrict: hash with blank outputs (masked), then fill in paths and env.
            var hasher = DerivationHasher(loader: loader)
            let modulo = try hasher.hashModulo(drv, masked: true)
            for o in outputs {
                let path = try StorePath.inputAddressedOutput(derivationName: name, output: o, hashModulo: modulo.hashes[o]!)
                drv.outputs[o] = .init(path: path.absolute)
                drv.env[ByteString(o)] = ByteString(path.absolute)
            }
            try hasher.checkOutputPaths(drv)
        }
        let path = try drv.storePath().absolute
        drvs[path] = drv
        return path
    }

    /// The kind of `path` as Nix sees it.
    func kind(_ path: String) throws -> Derivation.Kind { try drvs[path]!.kind() }

    /// The `.drv` path `drv` resolves to with `realised`.
    func resolvedPath(_ path: String, with realised: [InputOutput: StorePath]) throws -> StorePath {
        try drvs[path]!.resolved(with: realised).storePath()
    }
}

/// A builder that builds a closure and writes traces the way `vouch sign` does from Nix 2.8's
/// post-build hook (docs/trace-format.md, "what each hook call yields").
struct Builder {
    let name: String
    let key: NixSecretKey
    /// "drvName!output" → seed of the content this builder's build yields (non-reproducible steps).
    var content: [String: String] = [:]
    /// "drvName!output" → seed of a NAR hash this builder *claims* instead of the real one; its own
    /// later builds use the claimed content too.
    var lie: [String: String] = [:]
    var finishedOn: String? = "2026-06-01T12:00:00Z"
    /// Claimed `system` (default: the derivation's platform).
    var system: String?

    init(_ name: String) {
        self.name = name
        key = try! NixSecretKey(generatingNamed: "\(name)-1")
    }

    var publicKey: NixPublicKey { key.publicKey }
}

/// One output as a builder has it.
struct Realised: Hashable {
    var path: StorePath
    var narHash: NixHash
}

/// What a builder's run of a closure left behind.
struct Run {
    var builder: Builder
    /// Traces in build order (a resolved step's resolved trace just before its unresolved one).
    var traces: [BuildTrace] = []
    /// drv path → output → what the builder has.
    var outputs: [String: [String: Realised]] = [:]
    /// drv path → resolved drv path, for steps the builder resolved.
    var resolved: [String: StorePath] = [:]

    func signed() throws -> [SignedTrace] { try traces.map { try SignedTrace(signing: $0, with: builder.key) } }

    /// Traces naming `drvPath` (unresolved) or its resolution.
    func stepTraces(_ drvPath: String) -> [BuildTrace] {
        traces.filter { $0.derivation.absolute == drvPath || $0.derivation == resolved[drvPath] }
    }
}

extension Graph {
    static func srcHash(_ path: String) -> NixHash { HashAlgorithm.sha256.digest(Array("src-nar:\(path)".utf8)) }

    /// Builds `target`'s closure as `builder` would, inputs first.
    func build(_ target: String, by builder: Builder) throws -> Run {
        var run = Run(builder: builder)
        try build(target, into: &run)
        return run
    }

    private func build(_ path: String, into run: inout Run) throws {
        if run.outputs[path] != nil { return }
        let drv = drvs[path]!
        for input in drv.inputDrvs.keys.sorted() { try build(input, into: &run) }
        let b = run.builder
        var realised: [InputOutput: StorePath] = [:]
        var origin: [StorePath: InputOutput] = [:]
        var hashOf: [StorePath: NixHash] = [:]
        for (input, outs) in drv.inputDrvs {
            for o in outs {
                let r = run.outputs[input]![o]!
                realised[InputOutput(drvPath: input, output: o)] = r.path
                origin[r.path] = InputOutput(drvPath: input, output: o)
                hashOf[r.path] = r.narHash
            }
        }
        let kind = try drv.kind()
        let resolvable: Bool
        switch kind {
        case .inputAddressed: resolvable = false
        default: resolvable = !drv.inputDrvs.isEmpty
        }
        let built = resolvable ? try drv.resolved(with: realised) : drv
        let builtPath = try built.storePath()
        let builtKind = try built.kind()

        // The build: content from the built derivation and the input contents it saw.
        let inputPaths: [StorePath] = resolvable
            ? try built.inputSrcs.sorted().map { try StorePath(absolutePath: $0) }
            : try drv.inputSrcs.sorted().map { try StorePath(absolutePath: $0) } + realised.values.sorted()
        func narHash(_ p: StorePath) -> NixHash { hashOf[p] ?? Self.srcHash(p.absolute) }
        let seen = inputPaths.map { "\($0.absolute)=\(narHash($0).base16)" }.sorted().joined(separator: ",")
        var outputs: [String: Realised] = [:]
        var claimed: [String: Realised] = [:]
        for o in built.outputNames {
            let key = "\(drv.name)!\(o)"
            var hash: NixHash
            if case .fixedOutput(_, let declared) = builtKind {
                hash = HashAlgorithm.sha256.digest(Array("fod-content:\(declared.base16)".utf8))
                if case .fixedOutput(.recursive, _) = builtKind { hash = declared }
            } else if let seed = b.content[key] {
                hash = HashAlgorithm.sha256.digest(Array("nar:\(seed)".utf8))
            } else {
                hash = HashAlgorithm.sha256.digest(Array("nar:\(builtPath.absolute)!\(o)|\(seen)".utf8))
            }
            if let seed = b.lie[key] { hash = HashAlgorithm.sha256.digest(Array("lie:\(seed)".utf8)) }
            let outPath: StorePath
            if built.outputs[o]!.path.isEmpty {
                outPath = try StorePath.fixedOutput(name: StorePath.outputPathName(derivationName: drv.name, output: o), method: .recursive, hash: hash)
            } else {
                outPath = try StorePath(absolutePath: built.outputs[o]!.path)
            }
            outputs[o] = Realised(path: outPath, narHash: hash)
            claimed[o] = outputs[o]
        }
        let traceOutputs = built.outputNames.map { BuildTrace.Output(name: $0, path: claimed[$0]!.path, narHash: claimed[$0]!.narHash, narSize: 4096) }
        func trace(_ derivation: StorePath, resolved: StorePath?, annotated: Bool) -> BuildTrace {
            let inputs = inputPaths.map { p in
                BuildTrace.Input(path: p, narHash: narHash(p),
                                 derivation: annotated ? origin[p].map { try! StorePath(absolutePath: $0.drvPath) } : nil,
                                 output: annotated ? origin[p]?.output : nil)
            }
            return BuildTrace(derivation: derivation, resolvedDerivation: resolved, system: b.system ?? drv.platform.string, outputs: traceOutputs,
                              inputs: inputs, builderKey: b.publicKey, implementationVersion: "2.8.0",
                              startedOn: b.finishedOn, finishedOn: b.finishedOn,
                              invocationID: "\(b.name)-\(run.traces.count)")
        }
        let drvPath = try StorePath(absolutePath: path)
        if resolvable {
            var floating = false
            if case .floatingContentAddressed = builtKind { floating = true }
            run.traces.append(trace(builtPath, resolved: floating ? builtPath : nil, annotated: false))
            run.traces.append(trace(drvPath, resolved: builtPath, annotated: true))
            run.resolved[path] = builtPath
        } else {
            var floating = false
            if case .floatingContentAddressed = kind { floating = true }
            run.traces.append(trace(drvPath, resolved: floating ? drvPath : nil, annotated: true))
        }
        run.outputs[path] = outputs
    }
}

extension Builder {
    /// `name = "key"` or `name = { key = "…", extra }` for a policy's [keys].
    func policyLine(_ extra: String = "") -> String {
        extra.isEmpty ? "\(name) = \"\(publicKey)\"" : "\(name) = { key = \"\(publicKey)\", \(extra) }"
    }
}

enum Fixture {
    /// A policy from `[keys]` lines and a `[trust]` body.
    static func policy(_ builders: [Builder], criteria: [String: String] = [:], trust: String, more: String = "",
                       file: StaticString = #filePath, line: UInt = #line) throws -> Policy {
        let text = """
            [keys]
            \(builders.map { $0.policyLine(criteria[$0.name] ?? "") }.joined(separator: "\n"))

            [trust]
            \(trust)
            \(more)
            """
        return try Policy(toml: text, source: "test.toml")
    }

    /// `threshold = k, of = [names]`.
    static func threshold(_ k: Int, _ builders: [Builder]) -> String {
        "threshold = \(k)\nof = [\(builders.map { "\"\($0.name)\"" }.joined(separator: ", "))]"
    }

    static func verify(_ graph: Graph, _ target: String, policy: Policy, traces: [SignedTrace], narinfos: [NARInfo] = [],
                       outputs: Set<String>? = nil) throws -> VerificationReport {
        let report = try Verifier(policy: policy, loader: graph.loader).verify(target: target, wantedOutputs: outputs,
                                                                               evidence: Evidence(traces: traces, narinfos: narinfos))
        // The CLI prints canonicalJSON (steps encoded in parallel); it must be the canonical encoding.
        XCTAssertEqual(report.canonicalJSON, report.json.canonicalBytes, "canonicalJSON is not json.canonicalBytes")
        return report
    }

    /// An envelope whose payload is `trace`'s statement but whose signatures are `signatures`
    /// (what an attacker gets by editing a statement and keeping the signature).
    static func reSigned(_ trace: BuildTrace, signatures: [DSSEEnvelope.Signature]) throws -> SignedTrace {
        let envelope = DSSEEnvelope(payloadType: DSSEEnvelope.inTotoPayloadType, payload: trace.statementBytes, signatures: signatures)
        return try SignedTrace(parsing: envelope.json, source: "edited")
    }

    /// An envelope for `trace` signed by `key`, whoever the trace names as builder.
    static func signed(_ trace: BuildTrace, by key: NixSecretKey) throws -> SignedTrace {
        var envelope = DSSEEnvelope(payloadType: DSSEEnvelope.inTotoPayloadType, payload: trace.statementBytes)
        envelope.sign(with: key)
        return try SignedTrace(parsing: envelope.json, source: "signed-by-\(key.name)")
    }
}

extension VerificationReport {
    func step(_ derivation: String, file: StaticString = #filePath, line: UInt = #line) -> StepReport {
        guard let s = steps.first(where: { $0.derivation == derivation }) else {
            XCTFail("no step \(derivation) in the report", file: file, line: line)
            return steps[steps.count - 1]
        }
        return s
    }

    var statuses: [String: StepReport.Status] { Dictionary(uniqueKeysWithValues: steps.map { ($0.derivation, $0.status) }) }

    /// A readable dump for failure messages.
    var dump: String {
        "verified=\(verified) reason=\(reason ?? "-")\n" + steps.map { s in
            "  \(s.name) \(s.derivation) [\(s.kind)] \(s.status.rawValue) signers=\(s.signers) lowest=\(s.isLowestFailure) traces=\(s.traceCount) reason=\(s.reason ?? "-") rejected=\(s.rejected) outputs=\(s.outputs.mapValues { $0.map { "\($0.path) \($0.narHash ?? "-") \($0.signers)" } })"
        }.joined(separator: "\n")
    }
}
