/// An output of an input derivation: the key of a resolution.
public struct InputOutput: Sendable, Hashable {
    public let drvPath: String
    public let output: String
    public init(drvPath: String, output: String) {
        self.drvPath = drvPath
        self.output = output
    }
}

extension Derivation {
    /// Nix 2.8's `tryResolve` + `rewriteDerivation`: replaces every input derivation output by
    /// the realised store path given for it.
    ///
    /// Upstream placeholders are rewritten to the realised paths in builder, args, env keys
    /// and values; the realised paths join `inputSrcs`; `inputDrvs` becomes empty. Deferred
    /// outputs become input-addressed from the resolved derivation's masked modulo hash.
    /// Own-output placeholders stay.
    /// - Parameter realised: a store path for every wanted output of every input derivation.
    /// - Throws: ``DerivationError`` `.missingInput` naming the first input without a path.
    public func resolved(with realised: [InputOutput: StorePath], storeDir: String = StorePath.defaultStoreDir) throws(DerivationError) -> Derivation {
        var result = self
        var rules: [(from: [UInt8], to: [UInt8])] = []
        for path in inputDrvs.keys.sorted(by: bytewise) {
            let drvPath: StorePath
            do throws(StorePathError) { drvPath = try StorePath(absolutePath: path, storeDir: storeDir) } catch {
                throw DerivationError(.invalidPath, source: "\(name).drv", error.description)
            }
            for output in inputDrvs[path]!.sorted(by: bytewise) {
                guard let actual = realised[InputOutput(drvPath: path, output: output)] else {
                    throw DerivationError(.missingInput, source: "\(name).drv", "no realised path for output '\(output)' of \(path)")
                }
                rules.append((Array(Self.upstreamPlaceholder(drvPath: drvPath, output: output).utf8), Array(actual.absolute.utf8)))
                result.inputSrcs.insert(actual.absolute)
            }
        }
        rules.sort { $0.from.lexicographicallyPrecedes($1.from) }
        result.inputDrvs = [:]
        result.builder = builder.rewriting(rules)
        result.args = args.map { $0.rewriting(rules) }
        var newEnv: [ByteString: ByteString] = [:]
        for key in env.keys.sorted() {
            let newKey = key.rewriting(rules)
            if newEnv[newKey] == nil { newEnv[newKey] = env[key]!.rewriting(rules) }
        }
        result.env = newEnv
        let deferred = result.outputNames.filter {
            let o = result.outputs[$0]!
            return o.path.isEmpty && o.hashAlgo.isEmpty && o.hash.isEmpty
        }
        if !deferred.isEmpty {
            var hasher = DerivationHasher { path in
                throw DerivationError(.missingInput, source: path, "a resolved derivation has no input derivations")
            }
            let modulo: DerivationHasher.ModuloHash
            do { modulo = try hasher.hashModulo(result, masked: true) } catch let error as DerivationError { throw error } catch {
                throw DerivationError(.inconsistent, source: "\(name).drv", "\(error)")
            }
            for output in deferred {
                let path: StorePath
                do throws(StorePathError) {
                    path = try StorePath.inputAddressedOutput(derivationName: name, output: output, hashModulo: modulo.hashes[output]!, storeDir: storeDir)
                } catch { throw DerivationError(.invalidPath, source: "\(name).drv", error.description) }
                result.outputs[output] = Output(path: path.absolute)
                result.env[ByteString(output)] = ByteString(path.absolute)
            }
        }
        return result
    }
}
