extension Derivation {
    /// How a derivation's outputs are addressed (Nix 2.8 `DerivationType`).
    public enum Kind: Sendable, Hashable {
        /// Output paths are fixed in advance from the derivation's hash.
        case inputAddressed
        /// One output `out` with a declared content hash.
        case fixedOutput(method: FileIngestionMethod, hash: NixHash)
        /// Outputs are content-addressed after the build (`__contentAddressed`).
        case floatingContentAddressed(method: FileIngestionMethod, algorithm: HashAlgorithm)
        /// Input-addressed but depending on a floating CA derivation: paths known only after resolution.
        case deferred
        /// `__impure` derivations.
        case impure
    }

    /// Classifies the outputs; all must be of one kind.
    /// - Throws: ``DerivationError`` for mixed or malformed output columns.
    public func kind() throws(DerivationError) -> Kind {
        var kinds = Set<String>()
        var result: Kind?
        for name in outputNames {
            let output = outputs[name]!
            let kind = try Self.classify(output, name: name, source: "\(self.name).drv")
            switch kind {
            case .inputAddressed: kinds.insert("input-addressed")
            case .fixedOutput: kinds.insert("fixed-output")
            case .floatingContentAddressed: kinds.insert("floating")
            case .deferred: kinds.insert("deferred")
            case .impure: kinds.insert("impure")
            }
            if case .floatingContentAddressed(let m, let a) = kind, case .floatingContentAddressed(let m0, let a0)? = result, (m, a) != (m0, a0) {
                throw DerivationError(.invalidOutput, source: "\(self.name).drv", "floating outputs must share one hash algorithm and method")
            }
            result = kind
        }
        guard kinds.count == 1, let result else {
            throw DerivationError(.invalidOutput, source: "\(name).drv", "mixes output kinds: \(kinds.sorted().joined(separator: ", "))")
        }
        if case .fixedOutput = result, outputs.count != 1 || outputs["out"] == nil {
            throw DerivationError(.invalidOutput, source: "\(name).drv", "a fixed-output derivation must have exactly one output named 'out'")
        }
        return result
    }

    static func parseMethod(_ column: String) -> (FileIngestionMethod, String)? {
        if column.hasPrefix("r:") { return (.recursive, String(column.dropFirst(2))) }
        if column.hasPrefix("text:") { return nil }
        return (.flat, column)
    }

    static func classify(_ output: Output, name: String, source: String) throws(DerivationError) -> Kind {
        if output.hashAlgo.isEmpty {
            guard output.hash.isEmpty else { throw DerivationError(.invalidOutput, source: source, "output '\(name)' has a hash but no hash algorithm") }
            return output.path.isEmpty ? .deferred : .inputAddressed
        }
        guard let (method, algoName) = parseMethod(output.hashAlgo), let algorithm = HashAlgorithm(rawValue: algoName) else {
            throw DerivationError(.unsupported, source: source, "output '\(name)' has unsupported hash algorithm '\(output.hashAlgo)'")
        }
        if output.hash == "impure" { return .impure }
        if output.hash.isEmpty {
            guard output.path.isEmpty else { throw DerivationError(.invalidOutput, source: source, "floating output '\(name)' must not have a path") }
            return .floatingContentAddressed(method: method, algorithm: algorithm)
        }
        guard output.hash.utf8.count == algorithm.byteCount * 2, let bytes = Base16.decode(output.hash),
              let hash = try? NixHash(algorithm: algorithm, bytes: bytes) else {
            throw DerivationError(.invalidOutput, source: source, "output '\(name)' hash '\(output.hash)' is not base16 \(algorithm.rawValue)")
        }
        return .fixedOutput(method: method, hash: hash)
    }
}
