import NixFormats
import VouchTrace

/// One entry of current Nix's build trace (Nix 2.35+, served at
/// `build-trace-v2/<drvBaseName>/<outputName>.doi`): a derivation output (key) mapped to its
/// output path (value), with signatures.
///
/// As Nix writes it (`src/libstore/realisation.cc`, nlohmann `dump()`: compact, keys sorted):
/// - the cache file holds the value only: `{"outPath":"<basename>","signatures":[{"keyName":…,"sig":"<base64>"}…]}`,
///   signatures ordered by key name, then signature bytes;
/// - the keyed form is `{"key":{"drvPath":"<basename>","outputName":…},"value":{…}}`;
/// - a signature is Ed25519 over the keyed form with `signatures` removed from the value
///   (the *fingerprint*), e.g.
///   `{"key":{"drvPath":"…-bar.drv","outputName":"foo"},"value":{"outPath":"…-foo"}}`.
public struct BuildTraceEntry: Sendable, Hashable {
    /// The derivation that was built (current Nix records resolved derivations only).
    public var derivation: StorePath
    public var outputName: String
    public var outPath: StorePath
    public var signatures: [NixSignature]

    public init(derivation: StorePath, outputName: String, outPath: StorePath, signatures: [NixSignature] = []) {
        self.derivation = derivation
        self.outputName = outputName
        self.outPath = outPath
        self.signatures = signatures
    }

    /// The path of this entry in a binary cache.
    public var cachePath: String { "build-trace-v2/\(derivation.baseName)/\(outputName).doi" }

    private var key: JSONValue {
        .object(["drvPath": .string(derivation.baseName), "outputName": .string(outputName)])
    }

    private func value(withSignatures: Bool) -> JSONValue {
        var members: [String: JSONValue] = ["outPath": .string(outPath.baseName)]
        if withSignatures {
            members["signatures"] = .array(sortedSignatures.map {
                .object(["keyName": .string($0.keyName), "sig": .string(Base64.encode($0.bytes))])
            })
        }
        return .object(members)
    }

    /// Signatures as Nix orders its `std::set<Signature>`: by key name, then signature bytes.
    private var sortedSignatures: [NixSignature] {
        Set(signatures).sorted {
            $0.keyName != $1.keyName ? $0.keyName.utf8.lexicographicallyPrecedes($1.keyName.utf8)
                : $0.bytes.lexicographicallyPrecedes($1.bytes)
        }
    }

    /// The cache file contents (the value).
    public var valueJSON: [UInt8] { value(withSignatures: true).canonicalBytes }
    /// The keyed form (`{"key":…,"value":…}`).
    public var json: [UInt8] { JSONValue.object(["key": key, "value": value(withSignatures: true)]).canonicalBytes }
    /// The bytes a signature covers.
    public var fingerprint: [UInt8] { JSONValue.object(["key": key, "value": value(withSignatures: false)]).canonicalBytes }

    /// Adds `key`'s signature (once).
    public mutating func sign(with key: NixSecretKey) {
        let signature = key.sign(fingerprint)
        if !signatures.contains(signature) { signatures.append(signature) }
    }

    public func checkSignatures(trusting keys: [NixPublicKey]) -> [SignatureStatus] {
        SignatureStatus.check(signatures, over: fingerprint, trusting: keys)
    }
}
