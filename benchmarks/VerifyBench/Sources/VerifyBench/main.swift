import Foundation
import NixFormats
import VouchTrace
import VouchVerify

// Input and baseline for `vouch verify` (parsed by benchmarks/bench.py, `--only verify`).
//
//   VerifyBench generate --out DIR [--count 10000] [--builders 3] [--seed N] [--ca-fraction F]
//     writes a nixpkgs-shaped closure of COUNT derivations and every builder's signed traces:
//       DIR/drv/<hash>-<name>.drv          ATerm, store paths as Nix 2.8 computes them
//       DIR/keys/<builder>.sk, .pk         Nix Ed25519 keys
//       DIR/traces/<builder>/<drv>.json    one DSSE envelope per trace (`vouch sign` shapes)
//       DIR/policy.toml                    [trust] 2 of the builders (majority)
//       DIR/stats.json                     shape figures
//     and prints the root .drv file.
//   VerifyBench floor --dir DIR [--rounds N]
//     one-thread Ed25519 verification of exactly the signatures the policy needs (for each step
//     that needs traces, the first builders in name order that satisfy [trust], one signature
//     each), over prepared PAE bytes: no file reading, no JSON. Median of N rounds.

// MARK: - Arguments

var arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first else {
    fatalError("usage: VerifyBench generate --out DIR [--count N] [--builders B] [--seed S] [--ca-fraction F] | floor --dir DIR [--rounds N]")
}
arguments.removeFirst()
var options: [String: String] = [:]
while !arguments.isEmpty {
    let name = arguments.removeFirst()
    guard name.hasPrefix("--"), !arguments.isEmpty else { fatalError("bad argument \(name)") }
    options[String(name.dropFirst(2))] = arguments.removeFirst()
}

// MARK: - Helpers

/// SplitMix64: a small seeded generator, so a seed always gives the same closure.
struct Random {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }
    mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < p }
    mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }
}

func write(_ path: String, _ bytes: [UInt8]) {
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { fatalError("cannot write \(path)") }
}

func mkdir(_ path: String) {
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
}

func sha256(_ text: String) -> NixHash { HashAlgorithm.sha256.digest(Array(text.utf8)) }

/// Seconds of wall time `body` takes.
func seconds(_ body: () -> Void) -> Double {
    let clock = ContinuousClock()
    let start = clock.now
    body()
    let (s, atto) = (clock.now - start).components
    return Double(s) + Double(atto) / 1e18
}

final class Graph {
    var drvs: [String: Derivation] = [:]
    lazy var hasher = DerivationHasher { [unowned self] path in
        guard let drv = self.drvs[path] else { throw DerivationError(.missingInput, source: path, "not generated") }
        return drv
    }
}

// MARK: - generate

@MainActor func generate() throws {
    guard let out = options["out"] else { fatalError("generate needs --out DIR") }
    let count = Int(options["count"] ?? "10000")!
    let builderCount = Int(options["builders"] ?? "3")!
    var rng = Random(state: UInt64(options["seed"] ?? "1")!)
    let caFraction = Double(options["ca-fraction"] ?? "0")!
    let platform = "x86_64-linux"
    precondition(builderCount >= 2 && count >= 200, "need at least 2 builders and 200 derivations")

    let fodCount = max(1, count * 5 / 100)
    let stepCount = count - fodCount - 1
    let layers = rng.int(30...58)  // + FOD leaf + root: depth 32–60 derivations
    let graph = Graph()

    // Sources (inputSrcs): the generic builder, a few setup hooks, per-package patches.
    func source(_ name: String) -> String {
        try! StorePath.text(name: name, contents: Array("# \(name)\nset -e\nsource $stdenv/setup\ngenericBuild\n".utf8)).absolute
    }
    let defaultBuilder = source("default-builder.sh")
    let hooks = (0..<20).map { source("setup-hook-\($0).sh") }

    // FOD leaves: source tarballs, recursive sha256 (flat for every third).
    var fods: [String] = []
    for i in 0..<fodCount {
        let name = "src-\(i)-\(i % 7).\(i % 13).tar.gz"
        let hash = sha256("fod-nar:\(i)")
        let method: FileIngestionMethod = i % 3 == 0 ? .flat : .recursive
        let path = try StorePath.fixedOutput(name: name, method: method, hash: hash)
        let env: [ByteString: ByteString] = [
            "builder": "/bin/sh", "name": ByteString(name), "system": ByteString(platform), "out": ByteString(path.absolute),
            "outputHash": ByteString(hash.base16), "outputHashAlgo": "sha256", "outputHashMode": method == .flat ? "flat" : "recursive",
            "urls": ByteString("https://example.org/releases/\(name) https://mirror.example.net/\(name)"),
            "impureEnvVars": "http_proxy https_proxy ftp_proxy all_proxy no_proxy NIX_CURL_FLAGS",
            "preferLocalBuild": "1",
        ]
        let drv = Derivation(name: name, outputs: ["out": .init(path: path.absolute, hashAlgo: method.prefix + "sha256", hash: hash.base16)],
                             inputDrvs: [:], inputSrcs: [], platform: ByteString(platform), builder: "/bin/sh",
                             args: ["-c", "fetchurl \"$urls\""], env: env)
        let drvPath = try drv.storePath().absolute
        graph.drvs[drvPath] = drv
        fods.append(drvPath)
    }

    // Steps in layers: one per layer first (so every layer exists), the rest at random.
    var layerOf = (0..<layers).map { $0 } + (layers..<stepCount).map { _ in rng.int(0...(layers - 1)) }
    layerOf.sort()
    var byLayer = [[String]](repeating: [], count: layers)
    var outputsOf: [String: [String]] = Dictionary(uniqueKeysWithValues: fods.map { ($0, ["out"]) })
    var used: Set<String> = []
    var dependents: [String: Int] = [:]
    var layerOfPath: [String: Int] = [:]
    var stats = (multi: 0, ca: 0, deferred: 0, fanIn: 0, envBytes: 0)
    /// A few very popular steps (stdenv, glibc, gcc, …): a third of all edges go to them.
    var core: [String] = []

    func wantedOutputs(_ input: String) -> [String] {
        let outs = outputsOf[input]!
        guard outs.count > 1 else { return outs }
        var wanted = [rng.chance(0.5) ? "dev" : rng.chance(0.5) ? "lib" : "out"]
        if rng.chance(0.15) && wanted[0] != "out" { wanted.append("out") }
        return wanted
    }

    /// Adds one derivation the way Nix 2.8's `derivationStrict` writes it; returns its path.
    func add(name: String, version: String, inputs: [String: Set<String>], srcs: Set<String>, ca: Bool, multi: Bool, index: Int) throws -> String {
        var refs: [String] = []
        for (path, outs) in inputs.sorted(by: { $0.key < $1.key }) {
            let input = graph.drvs[path]!
            for o in outs.sorted() {
                let p = input.outputs[o]!.path
                refs.append(p.isEmpty ? Derivation.upstreamPlaceholder(drvPath: try StorePath(absolutePath: path), output: o) : p)
            }
        }
        let outputNames = multi ? ["dev", "lib", "out"] : ["out"]
        var srcRef: String?
        for input in inputs.keys.sorted() where srcRef == nil {
            if let o = graph.drvs[input]!.outputs["out"], !o.hash.isEmpty { srcRef = o.path }  // a fixed-output input: the source
        }
        var env: [ByteString: ByteString] = [
            "builder": "/bin/sh", "name": ByteString("\(name)-\(version)"), "pname": ByteString(name), "version": ByteString(version),
            "system": ByteString(platform), "stdenv": ByteString(refs.first ?? ""),
            "buildInputs": ByteString(refs.dropFirst().joined(separator: " ")),
            "nativeBuildInputs": ByteString(srcs.sorted().joined(separator: " ")),
            "configureFlags": ByteString("--enable-shared --disable-static --with-\(name)-data=/usr/share/\(name)"),
            "preConfigure": ByteString("patchShebangs ./configure\nsubstituteInPlace Makefile --replace /usr/bin/env env\n"),
            "outputs": ByteString(outputNames.joined(separator: " ")),
            "strictDeps": "1", "enableParallelBuilding": "1", "doCheck": "",
        ]
        if let srcRef { env["src"] = ByteString(srcRef) }
        var outs: [String: Derivation.Output] = [:]
        if ca {
            env["__contentAddressed"] = "1"
            env["outputHashAlgo"] = "sha256"
            env["outputHashMode"] = "recursive"
            for o in outputNames {
                outs[o] = .init(path: "", hashAlgo: "r:sha256")
                env[ByteString(o)] = ByteString(Derivation.placeholder(output: o))
            }
        } else {
            for o in outputNames {
                outs[o] = .init(path: "")
                env[ByteString(o)] = ""
            }
        }
        var drv = Derivation(name: "\(name)-\(version)", outputs: outs, inputDrvs: inputs, inputSrcs: srcs, platform: ByteString(platform),
                             builder: "/bin/sh", args: ["-e", ByteString(defaultBuilder)], env: env)
        if !ca {
            // derivationStrict: hash with blank outputs (masked); fill paths unless an input is
            // floating CA or deferred. (Not `modulo.isDeferred`: DerivationHasher counts the
            // blank-output derivation itself as deferred, Nix 2.8's hashDerivationModulo does not.)
            let modulo = try graph.hasher.hashModulo(drv, masked: true)
            if refs.contains(where: { !$0.hasPrefix(StorePath.defaultStoreDir) }) {
                stats.deferred += 1
            } else {
                for o in outputNames {
                    let path = try StorePath.inputAddressedOutput(derivationName: drv.name, output: o, hashModulo: modulo.hashes[o]!)
                    drv.outputs[o] = .init(path: path.absolute)
                    drv.env[ByteString(o)] = ByteString(path.absolute)
                }
                try graph.hasher.checkOutputPaths(drv)
            }
        }
        if ca { stats.ca += 1 }
        if multi { stats.multi += 1 }
        stats.fanIn += inputs.count
        stats.envBytes += drv.env.reduce(0) { $0 + $1.key.bytes.count + $1.value.bytes.count }
        let path = try drv.storePath().absolute
        graph.drvs[path] = drv
        outputsOf[path] = outputNames
        _ = index
        return path
    }

    for (index, layer) in layerOf.enumerated() {
        var inputs: [String: Set<String>] = [:]
        func use(_ input: String) {
            if inputs[input] == nil { dependents[input, default: 0] += 1 }
            inputs[input, default: []].formUnion(wantedOutputs(input))
            used.insert(input)
        }
        let fanIn = rng.int(4...8)
        if layer == 0 {
            // Bootstrap: a few tarballs.
            while inputs.count < rng.int(2...4) { use(rng.pick(fods)) }
        } else {
            use(rng.pick(byLayer[layer - 1]))  // depth: one input from the layer just below
            if rng.chance(0.7) { use(rng.pick(fods)) }  // its source tarball
            var attempts = 0
            while inputs.count < fanIn && attempts < 50 {
                attempts += 1
                if !core.isEmpty && rng.chance(0.33) {
                    use(rng.pick(core))
                } else {
                    let l = rng.int(max(0, layer - 8)...(layer - 1))
                    use(rng.pick(byLayer[l]))
                }
            }
        }
        var srcs: Set<String> = [defaultBuilder]
        if rng.chance(0.3) { srcs.insert(rng.pick(hooks)) }
        if rng.chance(0.25) { srcs.insert(source("p\(index)-fix-build.patch")) }
        let ca = rng.chance(caFraction)
        let multi = rng.chance(0.2)
        let path = try add(name: "p\(index)", version: "\(index % 9).\(index % 17).\(index % 5)", inputs: inputs, srcs: srcs, ca: ca, multi: multi, index: index)
        byLayer[layer].append(path)
        layerOfPath[path] = layer
        if layer <= 2 && core.count < 24 { core.append(path) }
    }

    // The root (a system closure): everything nothing else uses, so the closure is all COUNT derivations.
    var rootInputs: [String: Set<String>] = [:]
    for path in byLayer.joined() where !used.contains(path) { rootInputs[path] = ["out"] }
    for path in fods where !used.contains(path) { rootInputs[path] = ["out"] }
    let root = try add(name: "system-closure", version: "1", inputs: rootInputs, srcs: [defaultBuilder], ca: false, multi: false, index: stepCount)
    layerOfPath[root] = layers
    precondition(graph.drvs.count == count, "generated \(graph.drvs.count) derivations, expected \(count)")

    // Longest chain (derivations), inputs first.
    var depth: [String: Int] = [:]
    for path in fods { depth[path] = 1 }
    for path in byLayer.joined() + [root] { depth[path] = 1 + graph.drvs[path]!.inputDrvs.keys.map { depth[$0]! }.max()! }

    // Files: derivations and keys.
    mkdir("\(out)/drv")
    mkdir("\(out)/keys")
    for (path, drv) in graph.drvs { write("\(out)/drv/\(try StorePath(absolutePath: path).baseName)", drv.aterm) }
    let builders = try (0..<builderCount).map { try NixSecretKey(generatingNamed: "builder-\($0)") }
    for key in builders {
        write("\(out)/keys/\(key.name).sk", Array(key.fileContents.utf8))
        write("\(out)/keys/\(key.name).pk", Array(key.publicKey.description.utf8))
        mkdir("\(out)/traces/\(key.name)")
    }
    let policy = """
        [keys]
        \(builders.map { "\($0.name) = \"\($0.publicKey)\"" }.joined(separator: "\n"))

        [trust]
        threshold = \(builderCount / 2 + 1)
        of = [\(builders.map { "\"\($0.name)\"" }.joined(separator: ", "))]

        """
    write("\(out)/policy.toml", Array(policy.utf8))

    // Builds: every builder builds every step the same way (reproducible), so one build record
    // serves all; each builder signs its own traces. Shapes as `vouch sign` writes them
    // (docs/trace-format.md): a resolvable step gets the resolved trace and the unresolved one.
    struct Realised { var path: StorePath; var narHash: NixHash }
    var realisedOutputs: [String: [String: Realised]] = [:]
    let order = fods + Array(byLayer.joined()) + [root]
    var traceCount = 0
    var signatureCount = 0
    var tamperCandidate = ""
    for (stepIndex, path) in order.enumerated() {
        let drv = graph.drvs[path]!
        var realised: [InputOutput: StorePath] = [:]
        var origin: [StorePath: InputOutput] = [:]
        var hashOf: [StorePath: NixHash] = [:]
        for (input, outs) in drv.inputDrvs {
            for o in outs {
                let r = realisedOutputs[input]![o]!
                realised[InputOutput(drvPath: input, output: o)] = r.path
                origin[r.path] = InputOutput(drvPath: input, output: o)
                hashOf[r.path] = r.narHash
            }
        }
        let kind = try drv.kind()
        let resolvable: Bool
        if case .inputAddressed = kind { resolvable = false } else { resolvable = !drv.inputDrvs.isEmpty }
        let built = resolvable ? try drv.resolved(with: realised) : drv
        let builtPath = try built.storePath()
        let builtKind = try built.kind()
        let inputPaths: [StorePath] = resolvable
            ? try built.inputSrcs.sorted().map { try StorePath(absolutePath: $0) }
            : try drv.inputSrcs.sorted().map { try StorePath(absolutePath: $0) } + realised.values.sorted()
        func narHash(_ p: StorePath) -> NixHash { hashOf[p] ?? sha256("src-nar:\(p.absolute)") }
        var outputs: [String: Realised] = [:]
        for o in built.outputNames {
            let fixed = built.outputs[o]!.path
            if case .fixedOutput(let method, let declared) = builtKind {
                // A flat FOD's NAR hash is not its declared (file) hash.
                outputs[o] = Realised(path: try StorePath(absolutePath: fixed), narHash: method == .recursive ? declared : sha256("nar-of-flat:\(declared.base16)"))
            } else if fixed.isEmpty {
                let hash = sha256("nar:\(builtPath.absolute)!\(o)")
                outputs[o] = Realised(path: try StorePath.fixedOutput(name: StorePath.outputPathName(derivationName: drv.name, output: o), method: .recursive, hash: hash),
                                      narHash: hash)
            } else {
                outputs[o] = Realised(path: try StorePath(absolutePath: fixed), narHash: sha256("nar:\(fixed)"))
            }
        }
        realisedOutputs[path] = outputs
        let traceOutputs = built.outputNames.map { BuildTrace.Output(name: $0, path: outputs[$0]!.path, narHash: outputs[$0]!.narHash, narSize: UInt64(4096 + $0.utf8.count * 512)) }
        let drvPath = try StorePath(absolutePath: path)
        var floatingBuilt = false
        if case .floatingContentAddressed = builtKind { floatingBuilt = true }
        var floating = false
        if case .floatingContentAddressed = kind { floating = true }
        // (derivation, resolvedDerivation, annotated)
        let shapes: [(StorePath, StorePath?, Bool)] = resolvable
            ? [(builtPath, floatingBuilt ? builtPath : nil, false), (drvPath, builtPath, true)]
            : [(drvPath, floating ? drvPath : nil, true)]
        // For bench.py's tampering: the input-addressed step of the middle layer with the most dependents.
        if !resolvable, case .inputAddressed = kind, layerOfPath[path] == layers / 2,
           tamperCandidate.isEmpty || dependents[path, default: 0] > dependents[tamperCandidate, default: 0] { tamperCandidate = path }
        for (b, key) in builders.enumerated() {
            for (derivation, resolved, annotated) in shapes {
                let inputs = inputPaths.map { p in
                    BuildTrace.Input(path: p, narHash: narHash(p),
                                     derivation: annotated ? origin[p].map { try! StorePath(absolutePath: $0.drvPath) } : nil,
                                     output: annotated ? origin[p]?.output : nil)
                }
                let minute = (stepIndex / 60) % 60, second = stepIndex % 60
                let trace = BuildTrace(derivation: derivation, resolvedDerivation: resolved, system: drv.platform.string, outputs: traceOutputs,
                                       inputs: inputs, builderKey: key.publicKey, implementationVersion: "2.8.0",
                                       startedOn: "2026-06-01T1\(b):\(minute < 10 ? "0" : "")\(minute):00Z",
                                       finishedOn: "2026-06-01T1\(b):\(minute < 10 ? "0" : "")\(minute):\(second < 10 ? "0" : "")\(second)Z",
                                       invocationID: String(format: "%08lx-0000-4000-8000-%012lx", b, traceCount))
                let signed = try SignedTrace(signing: trace, with: key)
                write("\(out)/traces/\(key.name)/\(derivation.baseName).json", signed.envelope.json)
                traceCount += 1
                signatureCount += signed.envelope.signatures.count
            }
        }
    }

    let rootFile = "\(out)/drv/\(try StorePath(absolutePath: root).baseName)"
    let figures: [String: Any] = [
        "derivations": count, "fixedOutput": fodCount, "steps": stepCount + 1, "layers": layers, "depth": depth[root]!,
        "multiOutput": stats.multi, "contentAddressed": stats.ca, "deferred": stats.deferred,
        "meanFanIn": Double(stats.fanIn) / Double(stepCount + 1), "rootFanIn": rootInputs.count,
        "meanEnvBytes": Double(stats.envBytes) / Double(stepCount + 1), "builders": builderCount,
        "traces": traceCount, "signatures": signatureCount, "root": rootFile, "rootDrv": root,
        "tamperCandidate": tamperCandidate,
    ]
    write("\(out)/stats.json", Array(try JSONSerialization.data(withJSONObject: figures, options: [.sortedKeys])))
    print(rootFile)
}

// MARK: - floor

@MainActor func floor() throws {
    guard let dir = options["dir"] else { fatalError("floor needs --dir DIR") }
    let rounds = Int(options["rounds"] ?? "5")!
    let policy = try Policy(toml: String(contentsOfFile: "\(dir)/policy.toml", encoding: .utf8), source: "policy.toml")
    let fm = FileManager.default

    // The steps, and which need traces under this policy.
    var needsTraces: [String] = []
    var fixedOutputSteps = 0
    for file in try fm.contentsOfDirectory(atPath: "\(dir)/drv") where file.hasSuffix(".drv") {
        let sp = try StorePath(baseName: file)
        let drv = try Derivation(aterm: Array(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/drv/\(file)"))), name: String(sp.name.dropLast(4)))
        if case .fixedOutput = try drv.kind(), policy.fixedOutputRule == nil { fixedOutputSteps += 1 } else { needsTraces.append(sp.absolute) }
    }

    // Envelopes (read and parsed here, outside the timing; reported for information).
    var files: [String] = []
    for builder in try fm.contentsOfDirectory(atPath: "\(dir)/traces").sorted() {
        for file in try fm.contentsOfDirectory(atPath: "\(dir)/traces/\(builder)") where file.hasSuffix(".json") { files.append("\(dir)/traces/\(builder)/\(file)") }
    }
    var contents: [[UInt8]] = []
    let readSeconds = seconds { contents = files.map { Array(try! Data(contentsOf: URL(fileURLWithPath: $0))) } }
    var traces: [SignedTrace] = []
    let parseSeconds = seconds { traces = contents.enumerated().map { try! SignedTrace(parsing: $1, source: files[$0]) } }

    // Per step, the first signers (policy key names in order) that satisfy the rule, each with the
    // signature of its trace naming the step (the unresolved one for CA and deferred steps).
    var byStep: [String: [NixPublicKey: SignedTrace]] = [:]
    for t in traces { byStep[t.trace.derivation.absolute, default: [:]][t.trace.builderKey] = t }
    let keys = policy.keys.values.sorted { $0.name < $1.name }
    typealias Check = (key: NixPublicKey, signature: NixSignature, message: [UInt8])
    func check(_ t: SignedTrace) -> Check {
        (t.trace.builderKey, NixSignature(keyName: t.trace.builderKey.name, bytes: t.envelope.signatures[0].bytes), t.envelope.signedBytes)
    }
    var needed: [Check] = []
    for step in needsTraces {
        var signers: Set<String> = []
        for key in keys where !policy.rule.isSatisfied(by: signers) {
            guard let t = byStep[step]?[key.publicKey] else { continue }
            signers.insert(key.name)
            needed.append(check(t))
        }
        precondition(policy.rule.isSatisfied(by: signers), "no traces satisfy the policy for \(step)")
    }
    let all = traces.map(check)
    precondition(needed.allSatisfy { $0.key.isValid(signature: $0.signature, for: $0.message) }, "a needed signature does not verify")

    func time(_ checks: [Check]) -> (Double, Double, Double) {
        var sink = 0
        var runs = (0..<rounds).map { _ in seconds { for c in checks where c.key.isValid(signature: c.signature, for: c.message) { sink += 1 } } }
        precondition(sink == checks.count * rounds)
        runs.sort()
        return (runs[runs.count / 2], runs.first!, runs.last!)
    }
    _ = time(Array(needed.prefix(2000)))  // warm-up
    let floor = time(needed)
    let everything = time(all)

    // The same checks with one prepared key per builder (prepared outside the timing).
    var preparedKeys: [NixPublicKey: Ed25519VerifyingKey] = [:]
    for c in needed where preparedKeys[c.key] == nil { preparedKeys[c.key] = Ed25519VerifyingKey(c.key)! }
    let preparedNeeded = needed.map { (key: preparedKeys[$0.key]!, signature: $0.signature.bytes, message: $0.message) }
    precondition(needed.indices.allSatisfy { i in
        preparedNeeded[i].key.isValidSignature(preparedNeeded[i].signature, for: preparedNeeded[i].message)
            == needed[i].key.isValid(signature: needed[i].signature, for: needed[i].message)
    }, "the prepared verifier and swift-crypto disagree on a needed signature")
    func timePrepared() -> (Double, Double, Double) {
        var sink = 0
        var runs = (0..<rounds).map { _ in
            seconds { for c in preparedNeeded where c.key.isValidSignature(c.signature, for: c.message) { sink += 1 } }
        }
        precondition(sink == preparedNeeded.count * rounds)
        runs.sort()
        return (runs[runs.count / 2], runs.first!, runs.last!)
    }
    let preparedFloor = timePrepared()
    let bytes = needed.reduce(0) { $0 + $1.message.count }
    print("steps \(needsTraces.count + fixedOutputSteps) needing_traces \(needsTraces.count) fixed_output \(fixedOutputSteps) policy \(policy.rule)")
    print("needed_signatures \(needed.count) mean_message_bytes \(bytes / max(needed.count, 1))")
    print("floor_seconds \(floor.0) (min \(floor.1), max \(floor.2))")
    print("prepared_floor_seconds \(preparedFloor.0) (min \(preparedFloor.1), max \(preparedFloor.2))")
    print("all_signatures \(all.count)")
    print("all_seconds \(everything.0) (min \(everything.1), max \(everything.2))")
    print("read_seconds \(readSeconds) files \(files.count) bytes \(contents.reduce(0) { $0 + $1.count })")
    print("parse_seconds \(parseSeconds)")
}

switch command {
case "generate": try generate()
case "floor": try floor()
default: fatalError("unknown command \(command)")
}
