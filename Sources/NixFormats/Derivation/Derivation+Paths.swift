extension Derivation {
    /// Store paths this derivation's file refers to: input sources and input derivations.
    public func references(storeDir: String = StorePath.defaultStoreDir) throws(DerivationError) -> [StorePath] {
        var refs = [StorePath]()
        for path in inputSrcs.union(inputDrvs.keys) {
            do throws(StorePathError) {
                refs.append(try StorePath(absolutePath: path, storeDir: storeDir))
            } catch {
                throw DerivationError(.invalidPath, source: "\(name).drv", error.description)
            }
        }
        return refs
    }

    /// The `.drv` store path Nix writes this derivation to: a text path named `<name>.drv`
    /// whose references are the input sources and input derivations.
    public func storePath(storeDir: String = StorePath.defaultStoreDir) throws(DerivationError) -> StorePath {
        let refs = try references(storeDir: storeDir)
        do throws(StorePathError) {
            return try StorePath.text(name: "\(name).drv", contents: aterm, references: refs, storeDir: storeDir)
        } catch {
            throw DerivationError(.invalidPath, source: "\(name).drv", error.description)
        }
    }

    /// `hashPlaceholder`: the string a derivation uses for its own not-yet-known output path.
    public static func placeholder(output: String) -> String {
        "/" + HashAlgorithm.sha256.digest(Array("nix-output:\(output)".utf8)).nix32
    }

    /// `downstreamPlaceholder`: the string a derivation uses for an output of a floating
    /// content-addressed input derivation `drvPath`.
    public static func upstreamPlaceholder(drvPath: StorePath, output: String) -> String {
        let drvName = drvPath.name.hasSuffix(".drv") ? String(drvPath.name.dropLast(4)) : drvPath.name
        let clear = "nix-upstream-output:\(drvPath.hashPart):\(StorePath.outputPathName(derivationName: drvName, output: output))"
        return "/" + HashAlgorithm.sha256.digest(Array(clear.utf8)).nix32
    }
}

/// Identifies a derivation output for realisations: `sha256:<hex masked modulo>!<output>`.
public struct DrvOutputID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let hashModulo: NixHash
    public let output: String

    public init(hashModulo: NixHash, output: String) {
        self.hashModulo = hashModulo
        self.output = output
    }

    public init(parsing text: String) throws(HashParseError) {
        guard let bang = text.lastIndex(of: "!"), text[text.index(after: bang)...].count > 0 else {
            throw HashParseError(input: text, reason: "realisation id must be 'sha256:<hex>!<output>'")
        }
        let hashText = String(text[..<bang])
        guard hashText.hasPrefix("sha256:"), hashText.utf8.count == 7 + 64 else {
            throw HashParseError(input: text, reason: "realisation id hash must be sha256 base16")
        }
        hashModulo = try NixHash(parsing: hashText)
        output = String(text[text.index(after: bang)...])
    }

    public var description: String { "sha256:\(hashModulo.base16)!\(output)" }
    public static func < (lhs: DrvOutputID, rhs: DrvOutputID) -> Bool { bytewise(lhs.description, rhs.description) }
}
