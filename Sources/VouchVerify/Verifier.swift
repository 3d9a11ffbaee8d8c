import Foundation
import NixFormats
import VouchTrace

/// Checks every step of a derivation closure against a ``Policy``, computing the maximal bundle
/// of consistent, trusted trace entries (docs/policy.md, "Semantics").
///
/// Steps are visited inputs-first. A trace entry for step X is *closed* when the inputs it
/// records are exactly X's inputs (for a CA or deferred step: the inputs of the resolution the
/// verifier itself computes from the entry's input paths) and every input that is an output of
/// another step matches, by path and NAR hash, an output accepted for that step. X is accepted
/// when the counted signers of its closed entries satisfy the policy (each signer once), or a
/// legacy key signed its outputs. Upstream acceptance never depends on downstream steps, so one
/// pass yields the greatest fixpoint. Divergent outputs of an accepted step are all kept, so
/// downstream steps may converge on any of them.
///
/// Signatures are checked only where they can change the outcome: an entry whose outputs are
/// already accepted with signers that satisfy the rule on their own adds nothing (the policy is
/// monotone), so its signature is not checked and its signer is not listed.
public struct Verifier {
    public typealias Loader = (String) throws -> Derivation

    public let policy: Policy
    private let load: Loader
    let storeDir: String

    public init(policy: Policy, storeDir: String = StorePath.defaultStoreDir, loader: @escaping Loader) {
        self.policy = policy
        self.storeDir = storeDir
        self.load = loader
    }

    /// One accepted output content of a step, with who vouched for it.
    public struct Realisation: Sendable, Hashable {
        public var path: StorePath
        /// nil when accepted by path alone (fixed-output declared hash).
        public var narHash: NixHash?
        public var signers: Set<String>
        public var legacy: Bool
    }

    typealias Accepted = [String: [String: [Realisation]]]

    /// A trace that may count for a step: a Vouch envelope or a laut JWS (by evidence index).
    enum Entry: Hashable {
        case vouch(Int)
        case laut(Int)
    }

    /// Verifies the closure of `target`, loading its derivations through the verifier's loader.
    public func verify(target: String, wantedOutputs: Set<String>? = nil, evidence: Evidence,
                       progress: ((Int, Int) -> Void)? = nil) throws -> VerificationReport {
        try verify(closure: Closure(target: target, load: load), wantedOutputs: wantedOutputs, evidence: evidence, progress: progress)
    }

    /// Verifies an already loaded closure (the loader is not used).
    public func verify(closure: Closure, wantedOutputs: Set<String>? = nil, evidence: Evidence,
                       progress: ((Int, Int) -> Void)? = nil) throws -> VerificationReport {
        let (target, derivations, order) = (closure.target, closure.derivations, closure.order)
        // A step depends only on its inputs' accepted outputs: steps are judged on all cores, each
        // once its inputs are, and given only their outcomes. The evidence index does not depend
        // on the graph: both are built at once.
        let (inputs, index) = try Self.both({ () -> [[Int]] in
            var position: [String: Int] = [:]
            position.reserveCapacity(order.count)
            for (i, path) in order.enumerated() { position[path] = i }
            return order.map { derivations[$0]!.inputDrvs.keys.map { position[$0]! } }
        }, { EvidenceIndex(evidence, policy: policy) })
        let judge = Judge(verifier: self, derivations: derivations, order: order, inputs: inputs, index: index)
        let reporter = ProgressReporter(progress, total: order.count)
        let outcomes = try StepScheduler<Judge.Outcome>(inputs: inputs)
            .run(workers: ProcessInfo.processInfo.activeProcessorCount, progress: { reporter.done($0) }) { try judge.step($0, $1) }
        // The closure order ends with the target.
        return try report(target: target, wantedOutputs: wantedOutputs, targetDrv: derivations[target]!,
                          steps: outcomes.map(\.report), accepted: outcomes[order.count - 1].accepted)
    }

    /// What judging a step needs. `step` reads only the policy, the store directory and these
    /// immutable values, never the (non-Sendable) loader: hence the unchecked Sendable.
    struct Judge: @unchecked Sendable {
        /// A judged step: its report and the outputs it accepts (nil when it fails). A reference,
        /// so handing it to each of the step's dependents copies nothing.
        final class Outcome: Sendable {
            let report: StepReport
            let accepted: [String: [Realisation]]?
            init(_ judged: (StepReport, [String: [Realisation]]?)) { (report, accepted) = judged }
        }
        let verifier: Verifier
        let derivations: [String: Derivation]
        let order: [String]
        let inputs: [[Int]]
        let index: EvidenceIndex

        /// Step `i`, given its inputs' outcomes (in `inputs[i]` order).
        func step(_ i: Int, _ given: [Outcome]) throws -> Outcome {
            var accepted: Accepted = [:]
            for (input, outcome) in zip(inputs[i], given) { accepted[order[input]] = outcome.accepted }
            return Outcome(try verifier.step(order[i], derivations[order[i]]!, accepted: accepted, index: index))
        }
    }

    /// The caller's progress callback, called from the scheduler's workers one at a time.
    final class ProgressReporter: @unchecked Sendable {
        let callback: ((Int, Int) -> Void)?
        let total: Int
        init(_ callback: ((Int, Int) -> Void)?, total: Int) { self.callback = callback; self.total = total }
        func done(_ count: Int) { callback?(count, total) }
    }

    /// A derivation closure in the order the verifier judges it.
    public struct Closure: Sendable {
        public let target: String
        /// Every derivation of the closure by absolute store path.
        public let derivations: [String: Derivation]
        /// Inputs before the steps that use them (depth first, inputs in reverse byte order
        /// popped from a stack); the target last.
        public let order: [String]

        /// The closure of `target`, each derivation read once through `load`.
        public init(target: String, load: Loader) throws {
            var derivations: [String: Derivation] = [:]
            var order: [String] = []
            var done: Set<String> = []
            var stack: [(String, Bool)] = [(target, false)]
            while let (path, expanded) = stack.popLast() {
                if expanded {
                    if done.insert(path).inserted { order.append(path) }
                    continue
                }
                if derivations[path] != nil { continue }
                let drv = try load(path)
                derivations[path] = drv
                stack.append((path, true))
                for input in drv.inputDrvs.keys.sorted(by: >) where derivations[input] == nil { stack.append((input, false)) }
            }
            self.target = target
            self.derivations = derivations
            self.order = order
        }

        /// The closure of `target` in already loaded `derivations`, which must hold every
        /// derivation reachable from it; others are left out. Nothing is copied when all are
        /// reachable.
        public init(target: String, derivations all: [String: Derivation]) throws {
            var order: [String] = []
            order.reserveCapacity(all.count)
            var done: Set<String> = []
            done.reserveCapacity(all.count)
            // The same walk as init(target:load:), `expandedPaths` standing for the loaded ones.
            var stack: [(String, Bool)] = [(target, false)]
            var expandedPaths: Set<String> = []
            expandedPaths.reserveCapacity(all.count)
            while let (path, expanded) = stack.popLast() {
                if expanded {
                    if done.insert(path).inserted { order.append(path) }
                    continue
                }
                guard expandedPaths.insert(path).inserted else { continue }
                guard let inputs = all[path]?.inputDrvs.keys else { throw VerificationError(reason: "derivation \(path) is not in the loaded closure") }
                stack.append((path, true))
                for input in inputs.sorted(by: >) where !expandedPaths.contains(input) { stack.append((input, false)) }
            }
            self.target = target
            self.derivations = order.count == all.count ? all : Dictionary(uniqueKeysWithValues: order.map { ($0, all[$0]!) })
            self.order = order
        }
    }

    /// Judges one step from its evidence and the steps accepted so far: its report, and the
    /// output contents it accepts (nil when it fails).
    func step(_ path: String, _ drv: Derivation, accepted: Accepted, index: EvidenceIndex) throws -> (StepReport, [String: [Realisation]]?) {
        var step = StepReport(derivation: path, name: drv.name, kind: "", status: .failed, outputs: [:], signers: [], rejected: [], reason: nil, traceCount: 0,
                              inputs: drv.inputDrvs.keys.sorted())
        let kind = try drv.kind()
        step.kind = Self.describe(kind)
        let failedInputs = drv.inputDrvs.keys.filter { accepted[$0] == nil }.sorted()
        if !failedInputs.isEmpty, let legacy = legacyRealisations(drv, narinfoByPath: index.narinfoByPath) {
            // A legacy signature ends the closure here: nothing below this step is needed.
            step.status = .legacy
            step.outputs = Self.contents(legacy)
            return (step, legacy)
        }
        if !failedInputs.isEmpty {
            step.reason = "input step\(failedInputs.count > 1 ? "s" : "") not verified: \(failedInputs.joined(separator: ", "))"
            step.traceCount = index.byDerivation[path]?.count ?? 0
            return (step, nil)
        }
        if case .fixedOutput = kind, policy.fixedOutputRule == nil {
            let out = try StorePath(absolutePath: drv.outputs["out"]!.path, storeDir: storeDir)
            step.status = .fixedOutput
            step.outputs = ["out": [.init(path: out.absolute, narHash: nil, signers: [])]]
            let entries = index.byDerivation[path] ?? []
            step.traceCount = entries.count
            // For the report only: who vouched for this FOD, checked until the rule is met.
            var names: Set<String> = []
            for i in entries where !policy.rule.isSatisfied(by: names) {
                guard case .success(let name) = index.countedSigner(i), !names.contains(name), index.isSignedByBuilder(i) else { continue }
                names.insert(name)
            }
            step.signers = names.sorted()
            return (step, ["out": [Realisation(path: out, narHash: nil, signers: [], legacy: false)]])
        }
        let rule: Policy.Rule
        if case .fixedOutput = kind { rule = policy.fixedOutputRule! } else { rule = policy.rule }

        // Candidate entries: traces for this derivation, and traces for a resolution of it.
        // Candidates name their expectation by index: copying an expectation per entry would
        // retain each of its fields.
        var candidates: [(entry: Entry, expected: Int)] = []
        var rejections: [String] = []
        let resolvable: Bool
        switch kind {
        case .inputAddressed: resolvable = false
        case .fixedOutput, .floatingContentAddressed, .deferred, .impure: resolvable = !drv.inputDrvs.isEmpty
        }
        var expectations: [ExpectedStep] = []
        if !resolvable {
            expectations.append(try staticExpectation(drv, path: path, accepted: accepted, floating: kind))
            for i in index.byDerivation[path] ?? [] { candidates.append((.vouch(i), 0)) }
        } else {
            var resolutions: [String: ExpectedStep] = [:]
            var cache: [[StorePath]: Result<ExpectedStep, PolicyRejection>] = [:]
            var resolved: [(entry: Int, builtPath: String)] = []
            for i in index.byDerivation[path] ?? [] {
                switch index.withTrace(i, { resolution(for: $0, of: drv, accepted: accepted, cache: &cache) }) {
                case .success(let expected):
                    resolutions[expected.builtPath] = expected
                    resolved.append((i, expected.builtPath))
                case .failure(let why): rejections.append("\(index.builderName(i)): \(why.reason)")
                }
            }
            if let unique = uniqueResolution(of: drv, accepted: accepted, cache: &cache) { resolutions[unique.builtPath] = resolutions[unique.builtPath] ?? unique }
            let builtPaths = resolutions.keys.sorted()
            expectations = builtPaths.map { resolutions[$0]! }
            let position = Dictionary(uniqueKeysWithValues: builtPaths.enumerated().map { ($1, $0) })
            candidates = resolved.map { (.vouch($0.entry), position[$0.builtPath]!) }
            for (k, builtPath) in builtPaths.enumerated() where builtPath != path {
                for i in index.byDerivation[builtPath] ?? [] { candidates.append((.vouch(i), k)) }
            }
        }
        step.resolvedDerivations = expectations.map(\.builtPath).filter { $0 != path }.sorted()
        for k in expectations.indices where !index.lautByHash.isEmpty {
            for i in index.lautByHash[expectations[k].builtHashPart] ?? [] { candidates.append((.laut(i), k)) }
        }
        step.traceCount = candidates.count + rejections.count

        var counted: Set<String> = []
        var realisations: [String: [Realisation]] = [:]
        for (entry, e) in candidates {
            // A Vouch trace's outputs are its own array (shared, not copied); a laut trace's are made here.
            let outputs: [BuildTrace.Output]
            let label: String
            switch entry {
            case .vouch(let i):
                label = index.builderName(i)
                // (A closure capturing the borrowed trace would copy it.)
                let checked = index.withTrace(i) { trace -> Result<[BuildTrace.Output], PolicyRejection> in
                    if case .failure(let why) = check(trace, against: expectations[e]) { return .failure(why) }
                    return .success(trace.outputs)
                }
                switch checked {
                case .failure(let why): rejections.append("\(label): \(why.reason)"); continue
                case .success(let own): outputs = own
                }
            case .laut(let i):
                let laut = index.evidence.lautTraces[i]
                label = "laut trace \(laut.keyID ?? "without kid")"
                if case .failure(let why) = check(laut, against: expectations[e]) { rejections.append("\(label): \(why.reason)"); continue }
                outputs = laut.outputs.sorted { $0.key < $1.key }.map { BuildTrace.Output(name: $0.key, path: $0.value.path, narHash: $0.value.narHash, narSize: 0) }
            }
            // Nothing to add: these outputs are already accepted by signers that satisfy the rule.
            let redundant = outputs.allSatisfy { o in
                realisations[o.name]?.contains { $0.path == o.path && $0.narHash == o.narHash && rule.isSatisfied(by: $0.signers) } ?? false
            }
            if redundant { continue }
            let signer: String
            switch entry {
            case .vouch(let i):
                switch index.countedSigner(i) {
                case .failure(let why): rejections.append(why.reason); continue
                case .success(let name): signer = name
                }
            case .laut(let i):
                guard let key = index.lautSigner(i) else { rejections.append("\(label): no policy key's signature verifies"); continue }
                switch policy.countedLautSigner(key: key, system: expectations[e].system) {
                case .failure(let why): rejections.append(why.reason); continue
                case .success(let name): signer = name
                }
            }
            let alreadyCovered = counted.contains(signer) && outputs.allSatisfy { o in
                realisations[o.name]?.contains { $0.path == o.path && $0.narHash == o.narHash && $0.signers.contains(signer) } ?? false
            }
            if alreadyCovered { continue }  // this signer already counts for exactly these outputs
            if case .vouch(let i) = entry, !index.isSignedByBuilder(i) { rejections.append("\(signer): signature does not verify"); continue }
            counted.insert(signer)
            for output in outputs {
                var list = realisations[output.name] ?? []
                if let k = list.firstIndex(where: { $0.path == output.path && $0.narHash == output.narHash }) {
                    list[k].signers.insert(signer)
                } else {
                    list.append(Realisation(path: output.path, narHash: output.narHash, signers: [signer], legacy: false))
                }
                realisations[output.name] = list
            }
        }
        step.signers = counted.sorted()
        step.rejected = rejections
        var acceptedHere: [String: [Realisation]]?
        if rule.isSatisfied(by: counted) {
            step.status = .verified
            acceptedHere = realisations
        } else if let legacy = legacyRealisations(drv, narinfoByPath: index.narinfoByPath) {
            step.status = .legacy
            acceptedHere = legacy
            realisations = legacy
        } else {
            if step.traceCount == 0 {
                step.reason = "missing evidence: no trace for this step"
            } else if counted.isEmpty {
                step.reason = "no usable trace (\(rejections.prefix(3).joined(separator: "; ")))"
            } else {
                step.reason = "counted signers {\(counted.sorted().joined(separator: ", "))} do not satisfy \(rule)"
                    + (rejections.isEmpty ? "" : "; rejected: \(rejections.prefix(3).joined(separator: "; "))")
            }
            step.isLowestFailure = true
        }
        step.outputs = Self.contents(realisations)
        return (step, acceptedHere)
    }

    static func contents(_ realisations: [String: [Realisation]]) -> [String: [StepReport.Content]] {
        realisations.mapValues { $0.map { .init(path: $0.path.absolute, narHash: $0.narHash?.encoded(.nix32), signers: $0.signers.sorted()) } }
    }

    /// The target: each wanted output needs one content the policy accepts on its own.
    /// `steps` in closure order, the target's last; `accepted`: the target's accepted outputs.
    func report(target: String, wantedOutputs: Set<String>?, targetDrv: Derivation,
                steps: [StepReport], accepted: [String: [Realisation]]?) throws -> VerificationReport {
        var report = VerificationReport(target: target, steps: steps, verified: false, reason: nil)
        let last = steps.count - 1
        let wanted = wantedOutputs ?? Set(targetDrv.outputNames)
        if let unknown = wanted.subtracting(targetDrv.outputNames).first {
            throw VerificationError(reason: "\(target) has no output '\(unknown)'")
        }
        guard let outputs = accepted else {
            report.reason = steps[last].reason
            return report
        }
        let targetStep = steps[last]
        let targetRule: Policy.Rule
        if case .fixedOutput = try targetDrv.kind(), let fixed = policy.fixedOutputRule { targetRule = fixed } else { targetRule = policy.rule }
        var problems: [String] = []
        for name in wanted.sorted() {
            let options = outputs[name] ?? []
            let agreeing = options.filter { r in
                r.legacy || r.narHash == nil || targetStep.status != .verified || targetRule.isSatisfied(by: r.signers)
            }
            if agreeing.isEmpty {
                let described = options.map { "\($0.narHash?.encoded(.nix32) ?? "?") by {\($0.signers.sorted().joined(separator: ", "))}" }
                problems.append(options.isEmpty ? "output '\(name)' has no accepted content"
                    : options.count == 1 ? "output '\(name)' content \(described[0]) does not satisfy \(targetRule)"
                    : "builders disagree on output '\(name)': " + described.joined(separator: " vs ") + "; none satisfies \(targetRule)")
            }
        }
        report.verified = problems.isEmpty
        report.reason = problems.isEmpty ? nil : problems.joined(separator: "; ")
        if !problems.isEmpty {
            report.steps[last].status = .failed
            report.steps[last].reason = report.reason
            report.steps[last].isLowestFailure = true
        }
        return report
    }

    static func describe(_ kind: Derivation.Kind) -> String {
        switch kind {
        case .inputAddressed: "input-addressed"
        case .fixedOutput: "fixed-output"
        case .floatingContentAddressed: "content-addressed"
        case .deferred: "deferred"
        case .impure: "impure"
        }
    }

    func legacyRealisations(_ drv: Derivation, narinfoByPath: [StorePath: [NARInfo]]) -> [String: [Realisation]]? {
        guard !policy.legacyKeys.isEmpty else { return nil }
        var result: [String: [Realisation]] = [:]
        for name in drv.outputNames {
            guard let path = try? StorePath(absolutePath: drv.outputs[name]!.path, storeDir: storeDir),
                  let info = narinfoByPath[path]?.first(where: { info in
                      info.checkSignatures(trusting: policy.legacyKeys).contains { if case .valid = $0 { true } else { false } }
                  }) else { return nil }
            result[name] = [Realisation(path: path, narHash: info.narHash, signers: [], legacy: true)]
        }
        return result
    }
}

public struct VerificationError: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}

