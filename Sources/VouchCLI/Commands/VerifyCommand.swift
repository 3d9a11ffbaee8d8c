import ArgumentParser
import Foundation
import Dispatch
import NixFormats
import VouchTrace
import VouchVerify
#if canImport(Glibc)
import Glibc
#endif

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify every build step of a derivation's closure against a trust policy.",
        discussion: """
            TARGET is a .drv in the store, a .drv file (inputs read beside it or from the store), a \
            'nix show-derivation -r' / 'nix derivation show -r' JSON file, or an output path (found \
            through the traces). Exit 0 verified, 1 not verified, 2 bad input. See docs/policy.md.
            """)

    @Argument(help: "What to verify.") var target: String
    @Option(help: "Trust policy file (TOML).") var policy: String
    @Option(name: .customLong("traces"), help: "Directory of trace files: DSSE envelopes or laut {\"signatures\":[…]} files (searched recursively; repeatable).") var traceDirs: [String] = []
    @Option(name: .customLong("cache"), help: "Vouch server or laut-style cache to fetch traces from, and narinfos for legacy signers (repeatable).") var caches: [String] = []
    @Option(name: .customLong("narinfos"), help: "Directory of .narinfo files (legacy evidence; repeatable).") var narinfoDirs: [String] = []
    @Option(name: .customLong("output"), help: "Only these outputs of the target (repeatable).") var outputs: [String] = []
    @Flag(help: "Print the JSON report instead of the tree.") var json = false
    @Flag(help: "Print every step, however large the closure.") var full = false
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let policy = try Policy(toml: FileIO.readText(path: self.policy, limit: 1 << 20), source: self.policy)
        let files = Box(DerivationFiles(storeDir: store.storeDir))
        var graph: [String: Derivation] = [:]
        var targetPath: String?
        if target.hasSuffix(".json") {
            graph = try DerivationJSON.parse(FileIO.read(path: target), source: target, storeDir: store.storeDir)
            let inputs = Set(graph.values.flatMap(\.inputDrvs.keys))
            let roots = graph.keys.filter { !inputs.contains($0) }.sorted()
            guard roots.count == 1 else { throw CLIError("\(target): expected one top-level derivation, found \(roots.count); the file must be 'show-derivation -r' of one target") }
            targetPath = roots[0]
        } else if target.hasSuffix(".drv") {
            let drv = try files.value.load(file: target, name: nil)
            let path = try drv.storePath(storeDir: store.storeDir).absolute
            graph[path] = drv
            targetPath = path
        }
        // The closure loads on other threads while the trace files are read.
        let closure = ClosureLoad()
        if let targetPath { closure.start(root: targetPath, known: graph, files: files.value) }

        var evidence = Evidence()
        var traceFiles: [String] = []
        for dir in traceDirs { traceFiles += try FileIO.files(under: dir) }
        let fromFiles = TraceLoader.load(traceFiles: traceFiles, storeDir: store.storeDir)
        evidence.traces = fromFiles.traces
        evidence.lautTraces = fromFiles.lautTraces
        for error in fromFiles.failures { Output.error("verify: warning: ignoring \(error)") }
        for dir in narinfoDirs {
            for file in try FileIO.files(under: dir) where file.hasSuffix(".narinfo") {
                evidence.narinfos.append(try NARInfo(parsing: FileIO.readText(path: file, limit: NARInfo.maximumSize), source: file, storeDir: store.storeDir))
            }
        }

        let clients = try caches.map { try CacheClient(base: $0, storeDir: store.storeDir) }
        if targetPath == nil {
            let out = try StorePath(absolutePath: target, storeDir: store.storeDir)
            for client in clients { try await evidence.add(client.traces(derivations: [], outputs: [out.absolute]) ?? []) }
            let claims = Set(evidence.traces.filter { $0.trace.outputs.contains { $0.path == out } }.map(\.trace.derivation.absolute))
            let unresolved = claims.filter { c in !evidence.traces.contains { $0.trace.derivation.absolute != c && $0.trace.resolvedDerivation?.absolute == c } }
            guard let found = unresolved.sorted().first else { throw CLIError("no trace names \(target) as an output; give the .drv instead") }
            guard unresolved.count == 1 else { throw CLIError("traces name \(target) as an output of several derivations (\(unresolved.sorted().joined(separator: ", "))); give the .drv instead") }
            targetPath = found
            closure.start(root: found, known: graph, files: files.value)
        }
        let loaded = try closure.wait()
        let derivations = loaded.derivations
        var lautCaches: [CacheClient] = [], vouchCaches: [CacheClient] = []
        for client in clients {
            let bulk = try await evidence.fetch(from: client, closure: derivations, legacy: !policy.legacyKeys.isEmpty, storeDir: store.storeDir)
            if bulk { vouchCaches.append(client) } else { lautCaches.append(client) }
        }
        let verifier = Verifier(policy: policy, storeDir: store.storeDir) { path in
            guard let drv = derivations[path] else { throw CLIError("derivation \(path) is not in the loaded closure") }
            return drv
        }
        let showProgress = !json && isatty(2) != 0
        let verify = { (evidence: Evidence) in
            try verifier.verify(closure: loaded, wantedOutputs: outputs.isEmpty ? nil : Set(outputs), evidence: evidence) { done, total in
                if showProgress && done % 500 == 0 { Output.error("verify: \(done)/\(total) steps") }
            }
        }
        var report = try verify(evidence)
        // laut signs resolved derivations, known only once their steps' inputs verify: fetch what
        // each verification computed and verify again (`asked`: the .drv paths already fetched).
        // A Vouch server's bulk query has no laut traces it stores (they name only a hash part):
        // it is asked for the resolved derivations of steps that still fail.
        var asked: Set<String> = clients.isEmpty ? [] : Set(derivations.keys)
        while !clients.isEmpty, try await evidence.fetchResolved(of: report, from: lautCaches, failingFrom: vouchCaches, asked: &asked, storeDir: store.storeDir) {
            report = try verify(evidence)
        }
        if json {
            for piece in report.canonicalJSONPieces + [[0x0a]] { piece.withUnsafeBytes { Output.write($0) } }
        } else {
            Output.out(ReportRenderer(report: report, full: full).text)
        }
        // The evidence and report are large; the process ends here without freeing them.
        Output.flush()
        Glibc.exit(report.verified ? 0 : ExitCodes.verificationFailed)
    }

    /// The closure load, and its order for the verifier, running in the background while traces are read.
    final class ClosureLoad: @unchecked Sendable {
        private let group = DispatchGroup()
        private var result: Result<Verifier.Closure, any Error>?

        /// Starts loading; `wait()` returns its result. Called at most once. On a thread of its own:
        /// run from GCD's global queue, the load was measured to stall for long stretches (a second
        /// and more) while the trace files kept the cores busy.
        func start(root: String, known: [String: Derivation], files: DerivationFiles) {
            group.enter()
            Thread {
                self.result = Result {
                    try Verifier.Closure(target: root, derivations: files.closure(of: root, known: known))
                }
                self.group.leave()
            }.start()
        }

        func wait() throws -> Verifier.Closure {
            group.wait()
            return try result!.get()
        }
    }
}

extension Evidence {
    mutating func add(_ fetched: [CacheClient.FetchedTrace]) {
        for item in fetched {
            switch item {
            case .dsse(let signed): traces.append(PreparedTrace(signed))
            case .laut(let laut): lautTraces.append(laut)
            }
        }
    }

    /// Fetches the traces of every derivation in `closure` and, for legacy policies, the narinfos of
    /// their known output paths. A laut-style cache is asked for `/traces/<hash part>` of each
    /// derivation in the closure. Returns false for a laut-style cache (no bulk trace API): it also
    /// needs `fetchResolved`.
    mutating func fetch(from client: CacheClient, closure: [String: Derivation], legacy: Bool, storeDir: String) async throws -> Bool {
        let fetched = try await client.traces(derivations: closure.keys.sorted())
        if let fetched {
            add(fetched)
        } else {
            lautTraces += try await Self.lautTraces(from: client, derivations: closure.keys.sorted(), storeDir: storeDir)
        }
        if legacy {
            var outputs = Set(closure.values.flatMap { $0.outputs.values.map(\.path) }.filter { !$0.isEmpty })
            for signed in traces { for output in signed.trace.outputs { outputs.insert(output.path.absolute) } }
            let hashParts = try outputs.sorted().map { try StorePath(absolutePath: $0, storeDir: storeDir).hashPart }
            narinfos += try await Self.concurrently(hashParts) { try await client.narInfo(hashPart: $0) }.compactMap { $0 }
        }
        return fetched != nil
    }

    /// laut signs the resolved derivation of a content-addressed step, which the verifier computes
    /// once the step's inputs are accepted. Fetches the traces of the resolved derivations in
    /// `report` not yet in `asked` (and adds them there): all of them from the laut-style `caches`,
    /// those of failing steps from `failingFrom`. True when that found any trace, so verifying again
    /// may accept more steps and resolve more derivations.
    mutating func fetchResolved(of report: VerificationReport, from caches: [CacheClient], failingFrom others: [CacheClient],
                                asked: inout Set<String>, storeDir: String) async throws -> Bool {
        let new = Set(report.steps.flatMap(\.resolvedDerivations)).subtracting(asked)
        let failing = Set(report.steps.filter { $0.status == .failed }.flatMap(\.resolvedDerivations)).intersection(new)
        asked.formUnion(caches.isEmpty ? failing : new)
        let before = lautTraces.count
        for client in caches { lautTraces += try await Self.lautTraces(from: client, derivations: new.sorted(), storeDir: storeDir) }
        for client in others { lautTraces += try await Self.lautTraces(from: client, derivations: failing.sorted(), storeDir: storeDir) }
        return lautTraces.count > before
    }

    /// `GET /traces/<hash part>` of each derivation.
    static func lautTraces(from client: CacheClient, derivations: [String], storeDir: String) async throws -> [LautTrace] {
        let hashParts = try derivations.map { try StorePath(absolutePath: $0, storeDir: storeDir).hashPart }
        return try await concurrently(hashParts) { try await client.lautTraces(builtDerivationHashPart: $0) }.flatMap { $0 }
    }

    /// `work` over `items`, at most 16 requests in flight.
    static func concurrently<T: Sendable>(_ items: [String], _ work: @escaping @Sendable (String) async throws -> T) async throws -> [T] {
        try await withThrowingTaskGroup(of: T.self) { group in
            var results: [T] = []
            var next = 0
            while next < min(16, items.count) {
                let item = items[next]
                group.addTask { try await work(item) }
                next += 1
            }
            while let result = try await group.next() {
                results.append(result)
                if next < items.count {
                    let item = items[next]
                    group.addTask { try await work(item) }
                    next += 1
                }
            }
            return results
        }
    }
}
