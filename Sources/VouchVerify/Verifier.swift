import Dispatch
import NixFormats
import VouchTrace

/// Evidence available to a verification: signed traces and (for legacy signers) narinfos.
public struct Evidence: Sendable {
    public var traces: [SignedTrace]
    public var narinfos: [NARInfo]
    public init(traces: [SignedTrace] = [], narinfos: [NARInfo] = []) {
        self.traces = traces
        self.narinfos = narinfos
    }
}

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
public struct Verifier {
    public typealias Loader = (String) throws -> Derivation

    public let policy: Policy
    private let load: Loader
    private let storeDir: String

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

    struct EntryState {
        let signed: SignedTrace
        var signatureChecked: Bool? = nil
    }

    public func verify(target: String, wantedOutputs: Set<String>? = nil, evidence: Evidence,
                       progress: ((Int, Int) -> Void)? = nil) throws -> VerificationReport {
        // Graph, inputs first.
        var derivations: [String: Derivation] = [:]
        var order: [String] = []
        var visiting: Set<String> = []
        var stack: [(String, Bool)] = [(target, false)]
        while let (path, expanded) = stack.popLast() {
            if expanded { order.append(path); continue }
            if derivations[path] != nil && !visiting.contains(path) { continue }
            if visiting.contains(path) { continue }
            let drv = try derivations[path] ?? load(path)
            derivations[path] = drv
            visiting.insert(path)
            stack.append((path, true))
            for input in drv.inputDrvs.keys.sorted(by: >) where derivations[input] == nil { stack.append((input, false)) }
        }
        // `order` may hold a path twice if reached twice before expansion; keep first occurrence.
        var seen = Set<String>()
        order = order.filter { seen.insert($0).inserted }

        var byDerivation: [String: [Int]] = [:]
        for (index, signed) in evidence.traces.enumerated() {
            byDerivation[signed.trace.derivation.absolute, default: []].append(index)
        }
        var signatureValid: [Int: Bool] = [:]
        let trustedKeys = policy.publicKeys
        var narinfoByPath: [StorePath: [NARInfo]] = [:]
        for info in evidence.narinfos { narinfoByPath[info.storePath, default: []].append(info) }

        var hasher = DerivationHasher { try self.load($0) }
        var accepted: [String: [String: [Realisation]]] = [:]
        var steps: [String: StepReport] = [:]
        // Signatures are checked in batches on all cores: walk the graph assuming unchecked
        // signatures are valid, check the ones that counted, and walk again if any failed.
        while true {
        accepted = [:]
        steps = [:]
        var pending = Set<Int>()
        func isValid(_ index: Int) -> Bool {
            if let known = signatureValid[index] { return known }
            pending.insert(index)
            return true
        }

        for (done, path) in order.enumerated() {
            progress?(done, order.count)
            let drv = derivations[path]!
            var step = StepReport(derivation: path, name: drv.name, kind: "", status: .failed, outputs: [:], signers: [], rejected: [], reason: nil, traceCount: 0)
            let kind = try drv.kind()
            step.kind = Self.describe(kind)
            let failedInputs = drv.inputDrvs.keys.filter { accepted[$0] == nil }.sorted()
            if !failedInputs.isEmpty, let legacy = legacyRealisations(drv, narinfoByPath: narinfoByPath) {
                // A legacy signature ends the closure here: nothing below this step is needed.
                step.status = .legacy
                accepted[path] = legacy
                step.outputs = legacy.mapValues { $0.map { .init(path: $0.path.absolute, narHash: $0.narHash?.encoded(.nix32), signers: []) } }
                steps[path] = step
                continue
            }
            if !failedInputs.isEmpty {
                step.reason = "input step\(failedInputs.count > 1 ? "s" : "") not verified: \(failedInputs.joined(separator: ", "))"
                step.traceCount = byDerivation[path]?.count ?? 0
                steps[path] = step
                continue
            }
            if case .fixedOutput = kind, policy.fixedOutputRule == nil {
                let out = try StorePath(absolutePath: drv.outputs["out"]!.path, storeDir: storeDir)
                accepted[path] = ["out": [Realisation(path: out, narHash: nil, signers: [], legacy: false)]]
                step.status = .fixedOutput
                step.outputs = ["out": [.init(path: out.absolute, narHash: nil, signers: [])]]
                step.traceCount = byDerivation[path]?.count ?? 0
                step.signers = Array(Set((byDerivation[path] ?? []).compactMap { index -> String? in
                    let signed = evidence.traces[index]
                    guard let name = try? policy.countedSigner(of: signed.trace).get(), isValid(index) else { return nil }
                    return name
                })).sorted()
                steps[path] = step
                continue
            }
            let rule: Policy.Rule
            if case .fixedOutput = kind { rule = policy.fixedOutputRule! } else { rule = policy.rule }

            // Candidate entries: traces for this derivation, and traces for a resolution of it.
            var candidates: [(index: Int, expected: ExpectedStep)] = []
            var rejections: [String] = []
            let resolvable: Bool
            switch kind {
            case .inputAddressed: resolvable = false
            case .fixedOutput, .floatingContentAddressed, .deferred, .impure: resolvable = !drv.inputDrvs.isEmpty
            }
            if !resolvable {
                let expected = try staticExpectation(drv, path: path, accepted: accepted, hasher: &hasher, floating: kind)
                for index in byDerivation[path] ?? [] { candidates.append((index, expected)) }
            } else {
                var resolutions: [String: ExpectedStep] = [:]
                var cache: [[StorePath]: Result<ExpectedStep, PolicyRejection>] = [:]
                for index in byDerivation[path] ?? [] {
                    switch resolution(for: evidence.traces[index].trace, of: drv, accepted: accepted, cache: &cache) {
                    case .success(let expected):
                        resolutions[expected.builtPath] = expected
                        candidates.append((index, expected))
                    case .failure(let why): rejections.append("\(evidence.traces[index].trace.builderKey.name): \(why.reason)")
                    }
                }
                if let unique = try uniqueResolution(of: drv, accepted: accepted, cache: &cache) { resolutions[unique.builtPath] = resolutions[unique.builtPath] ?? unique }
                for (builtPath, expected) in resolutions where builtPath != path {
                    for index in byDerivation[builtPath] ?? [] { candidates.append((index, expected)) }
                }
            }
            step.traceCount = candidates.count + rejections.count

            var counted: Set<String> = []
            var realisations: [String: [Realisation]] = [:]
            for (index, expected) in candidates {
                let signed = evidence.traces[index]
                switch check(signed.trace, against: expected, accepted: accepted) {
                case .failure(let why):
                    rejections.append("\(signed.trace.builderKey.name): \(why.reason)")
                    continue
                case .success: break
                }
                let signer: String
                switch policy.countedSigner(of: signed.trace) {
                case .failure(let why): rejections.append(why.reason); continue
                case .success(let name): signer = name
                }
                let alreadyCovered = counted.contains(signer) && signed.trace.outputs.allSatisfy { o in
                    realisations[o.name]?.contains { $0.path == o.path && $0.narHash == o.narHash && $0.signers.contains(signer) } ?? false
                }
                if alreadyCovered { continue }  // this signer already counts for exactly these outputs
                guard isValid(index) else { rejections.append("\(signer): signature does not verify"); continue }
                counted.insert(signer)
                for output in signed.trace.outputs {
                    var list = realisations[output.name] ?? []
                    if let i = list.firstIndex(where: { $0.path == output.path && $0.narHash == output.narHash }) {
                        list[i].signers.insert(signer)
                    } else {
                        list.append(Realisation(path: output.path, narHash: output.narHash, signers: [signer], legacy: false))
                    }
                    realisations[output.name] = list
                }
            }
            step.signers = counted.sorted()
            step.rejected = rejections
            if rule.isSatisfied(by: counted) {
                step.status = .verified
                accepted[path] = realisations
            } else if let legacy = legacyRealisations(drv, narinfoByPath: narinfoByPath) {
                step.status = .legacy
                accepted[path] = legacy
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
            step.outputs = realisations.mapValues { $0.map { .init(path: $0.path.absolute, narHash: $0.narHash?.encoded(.nix32), signers: $0.signers.sorted()) } }
            steps[path] = step
        }
        if pending.isEmpty { break }
        var allValid = true
        for (index, valid) in Self.checkSignatures(Array(pending), of: evidence.traces, trusting: trustedKeys) {
            signatureValid[index] = valid
            allValid = allValid && valid
        }
        if allValid { break }  // the optimistic walk was right: no need to walk again
        }

        // The target: each wanted output needs one content the policy accepts on its own.
        var report = VerificationReport(target: target, steps: order.map { steps[$0]! }, verified: false, reason: nil)
        let targetDrv = derivations[target]!
        let wanted = wantedOutputs ?? Set(targetDrv.outputNames)
        if let unknown = wanted.subtracting(targetDrv.outputNames).first {
            throw VerificationError(reason: "\(target) has no output '\(unknown)'")
        }
        if let outputs = accepted[target] {
            let targetStep = steps[target]!
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
            if !problems.isEmpty, let i = report.steps.firstIndex(where: { $0.derivation == target }) {
                report.steps[i].status = .failed
                report.steps[i].reason = report.reason
                report.steps[i].isLowestFailure = true
            }
        } else {
            report.reason = steps[target]!.reason
        }
        return report
    }

    /// Checks each trace's builder signature, spread over all cores.
    static func checkSignatures(_ indices: [Int], of traces: [SignedTrace], trusting keys: [NixPublicKey]) -> [(Int, Bool)] {
        let results = ResultSlots(count: indices.count)
        DispatchQueue.concurrentPerform(iterations: indices.count) { i in
            let signed = traces[indices[i]]
            results.set(i, signed.validSigners(trusting: keys).contains(signed.trace.builderKey))
        }
        return indices.enumerated().map { ($0.element, results.get($0.offset)) }
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

    /// What a closed entry must say: the derivation that was built, its outputs, its exact inputs.
    struct ExpectedStep {
        /// The derivation the builder actually built (resolved one for resolvable steps).
        var builtPath: String
        /// The derivation's `system`; a trace for another system is not evidence for it.
        var system: String = ""
        /// For resolvable steps, the resolved path an unresolved entry must name.
        var resolvedPath: String?
        var outputNames: Set<String>
        /// Output paths fixed in advance (nil for floating outputs).
        var outputPaths: [String: StorePath]
        /// Exact input set, each with the NAR hashes accepted for it (nil: any, for self-certifying paths).
        var inputs: [StorePath: Set<NixHash>?]
    }

    func staticExpectation(_ drv: Derivation, path: String, accepted: [String: [String: [Realisation]]],
                           hasher: inout DerivationHasher, floating kind: Derivation.Kind) throws -> ExpectedStep {
        var inputs: [StorePath: Set<NixHash>?] = [:]
        for src in drv.inputSrcs { inputs[try StorePath(absolutePath: src, storeDir: storeDir)] = .some(nil) }
        for (input, outs) in drv.inputDrvs {
            for o in outs {
                for r in accepted[input]?[o] ?? [] { inputs[r.path] = Self.merge(inputs[r.path], r.narHash) }
            }
        }
        var outputPaths: [String: StorePath] = [:]
        for (name, o) in drv.outputs where !o.path.isEmpty { outputPaths[name] = try StorePath(absolutePath: o.path, storeDir: storeDir) }
        var resolved: String?
        if case .floatingContentAddressed = kind { resolved = path }
        return ExpectedStep(builtPath: path, system: drv.platform.string, resolvedPath: resolved, outputNames: Set(drv.outputNames), outputPaths: outputPaths, inputs: inputs)
    }

    /// Resolves `drv` with the input paths an unresolved entry recorded (annotated by input
    /// derivation output), each required to be accepted with the same NAR hash.
    func resolution(for trace: BuildTrace, of drv: Derivation, accepted: [String: [String: [Realisation]]],
                    cache: inout [[StorePath]: Result<ExpectedStep, PolicyRejection>]) -> Result<ExpectedStep, PolicyRejection> {
        var mapping: [InputOutput: StorePath] = [:]
        for (input, outs) in drv.inputDrvs {
            for o in outs {
                guard let recorded = trace.inputs.first(where: { $0.derivation?.absolute == input && $0.output == o }) else {
                    return .failure(.init(reason: "its resolution record does not say which path it used for \(input)!\(o)"))
                }
                guard (accepted[input]?[o] ?? []).contains(where: { $0.path == recorded.path && ($0.narHash == nil || $0.narHash == recorded.narHash) }) else {
                    return .failure(.init(reason: "it used \(recorded.path) (\(recorded.narHash.encoded(.nix32))) for \(input)!\(o), which is not a verified output"))
                }
                mapping[InputOutput(drvPath: input, output: o)] = recorded.path
            }
        }
        // Builders that agree on the inputs resolve to the same derivation: resolve once.
        let key = mapping.sorted { ($0.key.drvPath, $0.key.output) < ($1.key.drvPath, $1.key.output) }.map(\.value)
        if let cached = cache[key] { return cached }
        let result = expectation(resolving: drv, with: mapping, accepted: accepted)
        cache[key] = result
        return result
    }

    /// The resolution from the only accepted path of every input output, if each has exactly one.
    func uniqueResolution(of drv: Derivation, accepted: [String: [String: [Realisation]]],
                          cache: inout [[StorePath]: Result<ExpectedStep, PolicyRejection>]) throws -> ExpectedStep? {
        var mapping: [InputOutput: StorePath] = [:]
        for (input, outs) in drv.inputDrvs {
            for o in outs {
                let paths = Set((accepted[input]?[o] ?? []).map(\.path))
                guard paths.count == 1 else { return nil }
                mapping[InputOutput(drvPath: input, output: o)] = paths.first!
            }
        }
        let key = mapping.sorted { ($0.key.drvPath, $0.key.output) < ($1.key.drvPath, $1.key.output) }.map(\.value)
        if let cached = cache[key] { return try? cached.get() }
        let result = expectation(resolving: drv, with: mapping, accepted: accepted)
        cache[key] = result
        return try? result.get()
    }

    func expectation(resolving drv: Derivation, with mapping: [InputOutput: StorePath], accepted: [String: [String: [Realisation]]]) -> Result<ExpectedStep, PolicyRejection> {
        let resolved: Derivation
        let resolvedPath: StorePath
        do {
            resolved = try drv.resolved(with: mapping, storeDir: storeDir)
            resolvedPath = try resolved.storePath(storeDir: storeDir)
        } catch {
            return .failure(.init(reason: "cannot resolve: \(error)"))
        }
        var inputs: [StorePath: Set<NixHash>?] = [:]
        for src in resolved.inputSrcs {
            guard let sp = try? StorePath(absolutePath: src, storeDir: storeDir) else { continue }
            inputs[sp] = .some(nil)
        }
        for (key, path) in mapping {
            inputs[path] = nil
            for r in accepted[key.drvPath]?[key.output] ?? [] where r.path == path { inputs[path] = Self.merge(inputs[path], r.narHash) }
        }
        var outputPaths: [String: StorePath] = [:]
        for (name, o) in resolved.outputs where !o.path.isEmpty {
            if let sp = try? StorePath(absolutePath: o.path, storeDir: storeDir) { outputPaths[name] = sp }
        }
        return .success(ExpectedStep(builtPath: resolvedPath.absolute, system: resolved.platform.string, resolvedPath: resolvedPath.absolute, outputNames: Set(resolved.outputNames),
                                     outputPaths: outputPaths, inputs: inputs))
    }

    /// Checks an entry against what its step must say.
    func check(_ trace: BuildTrace, against expected: ExpectedStep, accepted: [String: [String: [Realisation]]]) -> Result<Void, PolicyRejection> {
        if trace.derivation.absolute != expected.builtPath, let resolved = expected.resolvedPath, trace.resolvedDerivation?.absolute != resolved {
            return .failure(.init(reason: "it names resolution \(trace.resolvedDerivation?.absolute ?? "none"), but its inputs resolve to \(resolved)"))
        }
        if trace.derivation.absolute == expected.builtPath, let resolved = expected.resolvedPath, let claimed = trace.resolvedDerivation, claimed.absolute != resolved {
            return .failure(.init(reason: "it names resolution \(claimed.absolute), expected \(resolved)"))
        }
        guard trace.system == expected.system else {
            return .failure(.init(reason: "its system \(trace.system) is not the derivation's (\(expected.system))"))
        }
        guard Set(trace.outputs.map(\.name)) == expected.outputNames else {
            return .failure(.init(reason: "its outputs {\(trace.outputs.map(\.name).sorted().joined(separator: ", "))} are not the derivation's"))
        }
        for output in trace.outputs {
            if let fixed = expected.outputPaths[output.name], fixed != output.path {
                return .failure(.init(reason: "it claims output \(output.name) at \(output.path), the derivation fixes \(fixed)"))
            }
        }
        let recorded = Dictionary(trace.inputs.map { ($0.path, $0.narHash) }, uniquingKeysWith: { a, _ in a })
        guard Set(recorded.keys) == Set(expected.inputs.keys) else {
            let extra = Set(recorded.keys).subtracting(expected.inputs.keys).map(\.absolute).sorted()
            let missing = Set(expected.inputs.keys).subtracting(recorded.keys).map(\.absolute).sorted()
            return .failure(.init(reason: "its resolution record is not the step's inputs" + (extra.isEmpty ? "" : "; extra: \(extra.joined(separator: " "))")
                + (missing.isEmpty ? "" : "; missing: \(missing.joined(separator: " "))")))
        }
        for (path, hash) in recorded {
            if case .some(.some(let allowed)) = expected.inputs[path], !allowed.contains(hash) {
                return .failure(.init(reason: "it used \(path) with NAR hash \(hash.encoded(.nix32)), which no accepted build of that input produced"))
            }
        }
        return .success(())
    }

    /// Adds an accepted hash for a path; a path accepted by path alone (nil hash) accepts any.
    static func merge(_ existing: Set<NixHash>??, _ hash: NixHash?) -> Set<NixHash>? {
        guard let hash else { return nil }
        switch existing {
        case .none: return [hash]
        case .some(.none): return nil
        case .some(.some(let set)): return set.union([hash])
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

/// Fixed slots written by concurrent workers, each slot by exactly one worker and read only after
/// `concurrentPerform` returns; that happens-before edge is why the unchecked Sendable is sound.
final class ResultSlots: @unchecked Sendable {
    private let storage: UnsafeMutableBufferPointer<Bool>
    init(count: Int) { storage = .allocate(capacity: count); storage.initialize(repeating: false) }
    deinit { storage.deallocate() }
    func set(_ i: Int, _ value: Bool) { storage[i] = value }
    func get(_ i: Int) -> Bool { storage[i] }
}
