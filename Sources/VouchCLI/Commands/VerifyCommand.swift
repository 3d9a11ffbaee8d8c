import ArgumentParser
import Dispatch
import NixFormats
import VouchTrace
import VouchVerify
#if canImport(Glibc)
import Glibc
#endif

struct VerifyCommand: ParsableCommand {
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
    @Option(name: .customLong("traces"), help: "Directory of trace envelopes (*.json, searched recursively; repeatable).") var traceDirs: [String] = []
    @Option(name: .customLong("narinfos"), help: "Directory of .narinfo files (legacy evidence; repeatable).") var narinfoDirs: [String] = []
    @Option(name: .customLong("output"), help: "Only these outputs of the target (repeatable).") var outputs: [String] = []
    @Flag(help: "Print the JSON report instead of the tree.") var json = false
    @Flag(help: "Print every step, however large the closure.") var full = false
    @OptionGroup var store: StoreOptions

    func run() throws {
        let policy = try Policy(toml: FileIO.readText(path: self.policy, limit: 1 << 20), source: self.policy)
        var evidence = Evidence()
        var files: [String] = []
        for dir in traceDirs { files += try FileIO.files(under: dir).filter { $0.hasSuffix(".json") } }
        for result in TraceLoader.load(files) {
            switch result {
            case .success(let signed): evidence.traces.append(signed)
            case .failure(let error): Output.error("verify: warning: ignoring \(error)")
            }
        }
        for dir in narinfoDirs {
            for file in try FileIO.files(under: dir) where file.hasSuffix(".narinfo") {
                evidence.narinfos.append(try NARInfo(parsing: FileIO.readText(path: file, limit: NARInfo.maximumSize), source: file, storeDir: store.storeDir))
            }
        }

        let box = Box(DerivationFiles(storeDir: store.storeDir))
        var graph: [String: Derivation] = [:]
        var targetPath: String
        if target.hasSuffix(".json") {
            graph = try DerivationJSON.parse(FileIO.read(path: target), source: target, storeDir: store.storeDir)
            let inputs = Set(graph.values.flatMap(\.inputDrvs.keys))
            let roots = graph.keys.filter { !inputs.contains($0) }.sorted()
            guard roots.count == 1 else { throw CLIError("\(target): expected one top-level derivation, found \(roots.count); the file must be 'show-derivation -r' of one target") }
            targetPath = roots[0]
        } else if target.hasSuffix(".drv") {
            let drv = try box.value.load(file: target, name: nil)
            targetPath = try drv.storePath(storeDir: store.storeDir).absolute
            graph[targetPath] = drv
        } else {
            let out = try StorePath(absolutePath: target, storeDir: store.storeDir)
            let claims = Set(evidence.traces.filter { $0.trace.outputs.contains { $0.path == out } }.map(\.trace.derivation.absolute))
            let unresolved = claims.filter { c in !evidence.traces.contains { $0.trace.derivation.absolute != c && $0.trace.resolvedDerivation?.absolute == c } }
            guard let found = unresolved.sorted().first else { throw CLIError("no trace names \(target) as an output; give the .drv instead") }
            guard unresolved.count == 1 else { throw CLIError("traces name \(target) as an output of several derivations (\(unresolved.sorted().joined(separator: ", "))); give the .drv instead") }
            targetPath = found
        }
        let loaded = graph
        let verifier = Verifier(policy: policy, storeDir: store.storeDir) { path in
            if let drv = loaded[path] { return drv }
            return try box.value.load(storePath: path)
        }
        let showProgress = !json && isatty(2) != 0
        let report = try verifier.verify(target: targetPath, wantedOutputs: outputs.isEmpty ? nil : Set(outputs), evidence: evidence) { done, total in
            if showProgress && done % 500 == 0 { Output.error("verify: \(done)/\(total) steps") }
        }
        if json {
            (report.json.canonicalBytes + [0x0a]).withUnsafeBytes { Output.write($0) }
        } else {
            Output.out(ReportRenderer(report: report, full: full).text)
        }
        guard report.verified else { throw ExitCode(ExitCodes.verificationFailed) }
    }
}

/// The human-readable report: every step of the closure, inputs first.
struct ReportRenderer {
    let report: VerificationReport
    let full: Bool

    var text: String {
        // Steps are listed inputs first; for large closures only the failing ones are shown.
        var out = ""
        let failing = report.steps.filter { $0.status == .failed }
        let verifiedCount = report.steps.count - failing.count
        let lines = (full || report.steps.count <= 200) ? report.steps : failing
        for step in lines { out += line(step) }
        if lines.count < report.steps.count { out += "  … \(report.steps.count - lines.count) verified steps not shown (--full shows them)\n" }
        out += "\n\(report.steps.count) steps: \(verifiedCount) accepted, \(failing.count) failed\n"
        if !report.lowestFailures.isEmpty {
            out += "the closure breaks at:\n"
            for step in report.lowestFailures { out += "  \(step.derivation): \(step.reason ?? "failed")\n" }
        }
        out += report.verified ? "VERIFIED \(report.target)\n" : "NOT VERIFIED \(report.target): \(report.reason ?? "see above")\n"
        return out
    }

    func line(_ step: StepReport) -> String {
        let mark: String
        switch step.status {
        case .verified: mark = "ok  "
        case .legacy: mark = "ok* "
        case .fixedOutput: mark = "fod "
        case .failed: mark = "FAIL"
        }
        var s = "\(mark) \(step.derivation) [\(step.kind)]"
        switch step.status {
        case .verified: s += " signed by \(step.signers.joined(separator: ", "))"
        case .legacy: s += " legacy signature only"
        case .fixedOutput: s += step.signers.isEmpty ? " declared hash" : " declared hash; traces by \(step.signers.joined(separator: ", "))"
        case .failed: s += ": \(step.reason ?? "failed")"
        }
        s += "\n"
        for (name, contents) in step.outputs.sorted(by: { $0.key < $1.key }) where contents.count > 1 || step.status == .failed {
            for c in contents { s += "       \(name) = \(c.path) \(c.narHash ?? "") by {\(c.signers.joined(separator: ", "))}\n" }
        }
        return s
    }
}

/// Reads and parses trace envelopes on all cores (parsing dominates loading).
enum TraceLoader {
    static func load(_ files: [String]) -> [Result<SignedTrace, any Error>] {
        var items = [Result<SignedTrace, any Error>?](repeating: nil, count: files.count)
        items.withUnsafeMutableBufferPointer { buffer in
            let base = UnsafeMutableBufferPointerBox(buffer)
            DispatchQueue.concurrentPerform(iterations: files.count) { i in
                base.buffer[i] = Result { try SignedTrace(parsing: FileIO.read(path: files[i], limit: DSSEEnvelope.maximumSize), source: files[i]) }
            }
        }
        return items.map { $0! }
    }

    /// Each slot is written by exactly one worker and read after concurrentPerform returns.
    struct UnsafeMutableBufferPointerBox: @unchecked Sendable {
        let buffer: UnsafeMutableBufferPointer<Result<SignedTrace, any Error>?>
        init(_ buffer: UnsafeMutableBufferPointer<Result<SignedTrace, any Error>?>) { self.buffer = buffer }
    }
}
