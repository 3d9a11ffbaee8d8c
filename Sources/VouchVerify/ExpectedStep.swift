import NixFormats
import VouchTrace

/// What a closed entry must say: the derivation that was built, its outputs, its exact inputs.
struct ExpectedStep {
    /// The derivation the builder actually built (resolved one for resolvable steps).
    var built: StorePath
    var builtPath: String { built.absolute }
    /// What a laut trace names.
    var builtHashPart: String { built.hashPart }
    /// The derivation's `system`; a trace for another system is not evidence for it.
    var system: String = ""
    /// For resolvable steps, the resolved path an unresolved entry must name.
    var resolved: StorePath?
    /// The derivation's output names, in byte order.
    var outputNames: [String]
    /// Output paths fixed in advance (floating outputs have none).
    var outputPaths: [(name: String, path: StorePath)]
    /// Exact input set, each with the distinct NAR hashes accepted for it (nil: any, for
    /// self-certifying paths).
    var inputs: [StorePath: [NixHash]?]
    /// A laut trace (no resolution record) can close this step: the built derivation is floating
    /// content-addressed — what laut signs — and each input has one accepted content.
    var closableWithoutRecord: Bool

    /// The path the derivation fixes for output `name`, if any.
    func fixedPath(_ name: String) -> StorePath? {
        outputPaths.first { $0.name == name }?.path
    }
}

extension Verifier {
    func staticExpectation(_ drv: Derivation, path: String, accepted: Accepted, floating kind: Derivation.Kind) throws -> ExpectedStep {
        var inputs: [StorePath: [NixHash]?] = [:]
        inputs.reserveCapacity(drv.inputSrcs.count + drv.inputDrvs.count)
        for src in drv.inputSrcs { inputs[try StorePath(absolutePath: src, storeDir: storeDir)] = .some(nil) }
        for (input, outs) in drv.inputDrvs {
            for o in outs {
                for r in accepted[input]?[o] ?? [] { inputs[r.path] = Self.merge(inputs[r.path], r.narHash) }
            }
        }
        var outputPaths: [(name: String, path: StorePath)] = []
        for (name, o) in drv.outputs where !o.path.isEmpty { outputPaths.append((name, try StorePath(absolutePath: o.path, storeDir: storeDir))) }
        let built = try StorePath(absolutePath: path, storeDir: storeDir)
        var resolved: StorePath?
        var floating = false
        if case .floatingContentAddressed = kind { resolved = built; floating = drv.inputDrvs.isEmpty }
        return ExpectedStep(built: built, system: drv.platform.string, resolved: resolved,
                            outputNames: drv.outputNames.sorted(), outputPaths: outputPaths, inputs: inputs, closableWithoutRecord: floating)
    }

    /// Resolves `drv` with the input paths an unresolved entry recorded (annotated by input
    /// derivation output), each required to be accepted with the same NAR hash.
    func resolution(for trace: BuildTrace, of drv: Derivation, accepted: Accepted,
                    cache: inout [[StorePath]: Result<ExpectedStep, PolicyRejection>]) -> Result<ExpectedStep, PolicyRejection> {
        var mapping: [InputOutput: StorePath] = [:]
        var byOrigin: [InputOutput: BuildTrace.Input] = [:]
        for input in trace.inputs {
            guard let derivation = input.derivation, let output = input.output else { continue }
            let key = InputOutput(drvPath: derivation.absolute, output: output)
            if byOrigin[key] == nil { byOrigin[key] = input }  // the first, as before
        }
        for (input, outs) in drv.inputDrvs {
            for o in outs {
                guard let recorded = byOrigin[InputOutput(drvPath: input, output: o)] else {
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
    func uniqueResolution(of drv: Derivation, accepted: Accepted, cache: inout [[StorePath]: Result<ExpectedStep, PolicyRejection>]) -> ExpectedStep? {
        var mapping: [InputOutput: StorePath] = [:]
        for (input, outs) in drv.inputDrvs {
            for o in outs {
                guard let options = accepted[input]?[o], let first = options.first?.path, options.allSatisfy({ $0.path == first }) else { return nil }
                mapping[InputOutput(drvPath: input, output: o)] = first
            }
        }
        let key = mapping.sorted { ($0.key.drvPath, $0.key.output) < ($1.key.drvPath, $1.key.output) }.map(\.value)
        if let cached = cache[key] { return try? cached.get() }
        let result = expectation(resolving: drv, with: mapping, accepted: accepted)
        cache[key] = result
        return try? result.get()
    }

    func expectation(resolving drv: Derivation, with mapping: [InputOutput: StorePath], accepted: Accepted) -> Result<ExpectedStep, PolicyRejection> {
        let resolved: Derivation
        let resolvedPath: StorePath
        let kind: Derivation.Kind
        do {
            resolved = try drv.resolved(with: mapping, storeDir: storeDir)
            resolvedPath = try resolved.storePath(storeDir: storeDir)
            kind = try resolved.kind()
        } catch {
            return .failure(.init(reason: "cannot resolve: \(error)"))
        }
        var inputs: [StorePath: [NixHash]?] = [:]
        for src in resolved.inputSrcs {
            guard let sp = try? StorePath(absolutePath: src, storeDir: storeDir) else { continue }
            inputs[sp] = .some(nil)
        }
        for (key, path) in mapping {
            inputs[path] = nil
            for r in accepted[key.drvPath]?[key.output] ?? [] where r.path == path { inputs[path] = Self.merge(inputs[path], r.narHash) }
        }
        var outputPaths: [(name: String, path: StorePath)] = []
        for (name, o) in resolved.outputs where !o.path.isEmpty {
            if let sp = try? StorePath(absolutePath: o.path, storeDir: storeDir) { outputPaths.append((name, sp)) }
        }
        var floating = false
        if case .floatingContentAddressed = kind { floating = true }
        let unambiguous = mapping.values.allSatisfy { path in
            switch inputs[path] {
            case .some(.some(let hashes)): hashes.count == 1
            case .some(.none): true
            case .none: false
            }
        }
        return .success(ExpectedStep(built: resolvedPath, system: resolved.platform.string,
                                     resolved: resolvedPath, outputNames: resolved.outputNames.sorted(),
                                     outputPaths: outputPaths, inputs: inputs, closableWithoutRecord: floating && unambiguous))
    }

    /// Checks an entry against what its step must say.
    func check(_ trace: BuildTrace, against expected: ExpectedStep) -> Result<Void, PolicyRejection> {
        let isBuilt = trace.derivation == expected.built
        if !isBuilt, let resolved = expected.resolved, trace.resolvedDerivation != resolved {
            return .failure(.init(reason: "it names resolution \(trace.resolvedDerivation?.absolute ?? "none"), but its inputs resolve to \(resolved)"))
        }
        if isBuilt, let resolved = expected.resolved, let claimed = trace.resolvedDerivation, claimed != resolved {
            return .failure(.init(reason: "it names resolution \(claimed.absolute), expected \(resolved)"))
        }
        guard trace.system == expected.system else {
            return .failure(.init(reason: "its system \(trace.system) is not the derivation's (\(expected.system))"))
        }
        // Outputs and inputs are read in place: copying an element would retain each of its fields.
        let outputsMatch = trace.outputs.count == expected.outputNames.count && trace.outputs.withUnsafeBufferPointer { outputs in
            outputs.indices.allSatisfy { expected.outputNames.contains(outputs[$0].name) }
        }
        guard outputsMatch else {
            return .failure(.init(reason: "its outputs {\(trace.outputs.map(\.name).sorted().joined(separator: ", "))} are not the derivation's"))
        }
        for k in trace.outputs.indices {
            if let fixed = expected.fixedPath(trace.outputs[k].name), fixed != trace.outputs[k].path {
                return .failure(.init(reason: "it claims output \(trace.outputs[k].name) at \(trace.outputs[k].path), the derivation fixes \(fixed)"))
            }
        }
        // Recorded inputs are distinct (the trace parser refuses repeats), so equal counts and
        // inclusion mean equal sets. A wrong set is reported before a wrong NAR hash.
        var inputsMatch = trace.inputs.count == expected.inputs.count
        var unaccepted: Int?
        trace.inputs.withUnsafeBufferPointer { recorded in
            for k in recorded.indices where inputsMatch {
                switch expected.inputs[recorded[k].path] {
                case .none: inputsMatch = false
                case .some(.some(let allowed)) where unaccepted == nil && !allowed.contains(recorded[k].narHash): unaccepted = k
                default: break
                }
            }
        }
        guard inputsMatch else {
            let recorded = Set(trace.inputs.map(\.path))
            let extra = recorded.subtracting(expected.inputs.keys).map(\.absolute).sorted()
            let missing = Set(expected.inputs.keys).subtracting(recorded).map(\.absolute).sorted()
            return .failure(.init(reason: "its resolution record is not the step's inputs" + (extra.isEmpty ? "" : "; extra: \(extra.joined(separator: " "))")
                + (missing.isEmpty ? "" : "; missing: \(missing.joined(separator: " "))")))
        }
        if let k = unaccepted {
            let input = trace.inputs[k]
            return .failure(.init(reason: "it used \(input.path) with NAR hash \(input.narHash.encoded(.nix32)), which no accepted build of that input produced"))
        }
        return .success(())
    }

    /// Checks a laut trace against what its step must say. It names the built derivation by hash
    /// (matched before) and its outputs; it records no inputs, so it closes only steps where the
    /// built derivation itself pins every input's content.
    func check(_ laut: LautTrace, against expected: ExpectedStep) -> Result<Void, PolicyRejection> {
        guard expected.closableWithoutRecord else {
            return .failure(.init(reason: "a laut trace has no resolution record; it counts only for a content-addressed build whose inputs each have one accepted content"))
        }
        guard laut.outputs.keys.sorted() == expected.outputNames else {
            return .failure(.init(reason: "its outputs {\(laut.outputs.keys.sorted().joined(separator: ", "))} are not the derivation's"))
        }
        for (name, output) in laut.outputs.sorted(by: { $0.key < $1.key }) {
            if let fixed = expected.fixedPath(name), fixed != output.path {
                return .failure(.init(reason: "it claims output \(name) at \(output.path), the derivation fixes \(fixed)"))
            }
            guard output.path.storeDir == storeDir else {
                return .failure(.init(reason: "its output \(name) is not in \(storeDir)"))
            }
        }
        return .success(())
    }

    /// Adds an accepted hash for a path; a path accepted by path alone (nil hash) accepts any.
    static func merge(_ existing: [NixHash]??, _ hash: NixHash?) -> [NixHash]? {
        guard let hash else { return nil }
        switch existing {
        case .none: return [hash]
        case .some(.none): return nil
        case .some(.some(let hashes)): return hashes.contains(hash) ? hashes : hashes + [hash]
        }
    }
}
