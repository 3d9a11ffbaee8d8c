/// Computes Nix 2.8's `hashDerivationModulo` over a derivation graph, memoising input hashes.
///
/// Input derivations are hashed unmasked; a derivation's own output paths and realisation ids
/// use the masked hash (output paths and output-named env values blanked). Fixed-output
/// derivations hash to `sha256("fixed:out:<algo column>:<hash>:<path>")`, so two FODs with the
/// same output share a hash whatever their builders do.
public struct DerivationHasher {
    /// Loads an input derivation by its absolute `.drv` path.
    public typealias Loader = (String) throws -> Derivation

    /// The hash of each output and whether any output's path is only known after a build.
    public struct ModuloHash: Sendable, Hashable {
        public var hashes: [String: NixHash]
        /// True for floating CA or impure derivations and anything depending on them.
        public var isDeferred: Bool
    }

    private let load: Loader
    private var unmaskedCache: [String: ModuloHash] = [:]

    public init(loader: @escaping Loader) { self.load = loader }

    /// `hashDerivationModulo(drv, mask)`.
    public mutating func hashModulo(_ drv: Derivation, masked: Bool) throws -> ModuloHash {
        switch try drv.kind() {
        case .fixedOutput:
            let out = drv.outputs["out"]!
            let text = "fixed:out:\(out.hashAlgo):\(out.hash):\(out.path)"
            return ModuloHash(hashes: ["out": HashAlgorithm.sha256.digest(Array(text.utf8))], isDeferred: false)
        case .impure:
            let h = HashAlgorithm.sha256.digest(Array("impure".utf8))
            return ModuloHash(hashes: Dictionary(uniqueKeysWithValues: drv.outputNames.map { ($0, h) }), isDeferred: true)
        case .floatingContentAddressed, .deferred, .inputAddressed:
            // As in Nix 2.8, only a floating CA derivation taints the hash; a derivation whose own
            // outputs are blank is deferred only if one of its inputs is.
            var deferred: Bool
            if case .floatingContentAddressed = try drv.kind() { deferred = true } else { deferred = false }
            var replaced: [String: Set<String>] = [:]
            for (path, wanted) in drv.inputDrvs {
                let input = try unmasked(path)
                if input.isDeferred { deferred = true }
                for output in wanted {
                    guard let h = input.hashes[output] else {
                        throw DerivationError(.missingInput, source: "\(drv.name).drv", "input \(path) has no output '\(output)'")
                    }
                    replaced[h.base16, default: []].insert(output)
                }
            }
            let inputs = replaced.keys.sorted(by: bytewise).map { ($0, replaced[$0]!.sorted(by: bytewise)) }
            let h = HashAlgorithm.sha256.digest(drv.atermBytes(maskOutputs: masked, inputDrvsOverride: inputs))
            return ModuloHash(hashes: Dictionary(uniqueKeysWithValues: drv.outputNames.map { ($0, h) }), isDeferred: deferred)
        }
    }

    private mutating func unmasked(_ path: String) throws -> ModuloHash {
        if let cached = unmaskedCache[path] { return cached }
        let result = try hashModulo(try load(path), masked: false)
        unmaskedCache[path] = result
        return result
    }

    /// The output paths Nix computes for `drv`: input-addressed outputs from the masked modulo
    /// hash, the fixed-output path from the declared hash; nil for outputs known only after a build.
    public mutating func outputPaths(_ drv: Derivation, storeDir: String = StorePath.defaultStoreDir) throws -> [String: StorePath?] {
        switch try drv.kind() {
        case .fixedOutput(let method, let hash):
            return ["out": try StorePath.fixedOutput(name: drv.name, method: method, hash: hash, storeDir: storeDir)]
        case .inputAddressed, .deferred:
            let modulo = try hashModulo(drv, masked: true)
            if modulo.isDeferred { return Dictionary(uniqueKeysWithValues: drv.outputNames.map { ($0, nil) }) }
            var result: [String: StorePath?] = [:]
            for name in drv.outputNames {
                result[name] = try StorePath.inputAddressedOutput(derivationName: drv.name, output: name, hashModulo: modulo.hashes[name]!, storeDir: storeDir)
            }
            return result
        case .floatingContentAddressed, .impure:
            return Dictionary(uniqueKeysWithValues: drv.outputNames.map { ($0, nil) })
        }
    }

    /// Checks that recorded output paths (and their env variables) equal the computed ones.
    public mutating func checkOutputPaths(_ drv: Derivation, storeDir: String = StorePath.defaultStoreDir) throws {
        for (name, computed) in try outputPaths(drv, storeDir: storeDir) {
            let recorded = drv.outputs[name]!.path
            guard let computed, !recorded.isEmpty else { continue }  // blank: to be filled in (deferred)
            guard recorded == computed.absolute else {
                throw DerivationError(.inconsistent, source: "\(drv.name).drv", "output '\(name)' is recorded as \(recorded) but hashes to \(computed.absolute)")
            }
            if let env = drv.env[ByteString(name)], env.string != computed.absolute {
                throw DerivationError(.inconsistent, source: "\(drv.name).drv", "environment variable '\(name)' is \(env.string), expected \(computed.absolute)")
            }
        }
    }

    /// Realisation ids (`sha256:<hex>!<out>`) of every output.
    public mutating func realisationIDs(_ drv: Derivation) throws -> [String: DrvOutputID] {
        let modulo = try hashModulo(drv, masked: true)
        return Dictionary(uniqueKeysWithValues: modulo.hashes.map { ($0.key, DrvOutputID(hashModulo: $0.value, output: $0.key)) })
    }
}
