import Crypto

/// How a fixed-output or content-addressed path's content was hashed.
public enum FileIngestionMethod: Sendable, Hashable {
    /// The hash is over the file's bytes.
    case flat
    /// The hash is over the NAR serialisation.
    case recursive

    /// `r:` for recursive, empty for flat, as used in fixed-output strings.
    public var prefix: String { self == .recursive ? "r:" : "" }
}

extension StorePath {
    /// Nix's `makeStorePath`: `sha256("<type>:sha256:<hex inner>:<storeDir>:<name>")`, compressed to 20 bytes.
    public static func make(type: String, inner: NixHash, name: String, storeDir: String = defaultStoreDir) throws(StorePathError) -> StorePath {
        precondition(inner.algorithm == .sha256, "store path inner hashes are sha256")
        let fingerprint = "\(type):sha256:\(inner.base16):\(storeDir):\(name)"
        try validate(name: name, in: fingerprint)
        let digest = HashAlgorithm.sha256.digest(Array(fingerprint.utf8))
        return try StorePath(digest: digest.compressed(to: 20), name: name, storeDir: storeDir)
    }

    private static func typeString(_ base: String, references: [StorePath], selfReference: Bool) -> String {
        var type = base
        for reference in references.sorted() {
            type += ":"
            type += reference.absolute
        }
        if selfReference { type += ":self" }
        return type
    }

    /// A text path (`builtins.toFile`, `.drv` files): inner hash is sha256 of the contents.
    public static func text(name: String, contentHash: NixHash, references: [StorePath] = [], storeDir: String = defaultStoreDir) throws(StorePathError) -> StorePath {
        try make(type: typeString("text", references: references, selfReference: false), inner: contentHash, name: name, storeDir: storeDir)
    }

    /// A text path for `contents`.
    public static func text(name: String, contents: [UInt8], references: [StorePath] = [], storeDir: String = defaultStoreDir) throws(StorePathError) -> StorePath {
        try text(name: name, contentHash: HashAlgorithm.sha256.digest(contents), references: references, storeDir: storeDir)
    }

    /// A content-addressed path (`makeFixedOutputPath`): recursive sha256 gives a `source` path that
    /// may have references and a self-reference; anything else an `output:out` path without references.
    public static func fixedOutput(
        name: String, method: FileIngestionMethod, hash: NixHash,
        references: [StorePath] = [], selfReference: Bool = false, storeDir: String = defaultStoreDir
    ) throws(StorePathError) -> StorePath {
        if method == .recursive && hash.algorithm == .sha256 {
            return try make(type: typeString("source", references: references, selfReference: selfReference), inner: hash, name: name, storeDir: storeDir)
        }
        guard references.isEmpty && !selfReference else {
            throw StorePathError(path: name, reason: "a fixed-output path other than recursive sha256 cannot have references")
        }
        let inner = "fixed:out:\(method.prefix)\(hash.algorithm.rawValue):\(hash.base16):"
        return try make(type: "output:out", inner: HashAlgorithm.sha256.digest(Array(inner.utf8)), name: name, storeDir: storeDir)
    }

    /// The path of `content address` + references, as `nix-store --add`, CA outputs and narinfo `CA:` imply.
    public static func contentAddressed(
        name: String, address: ContentAddress, references: [StorePath], selfReference: Bool, storeDir: String = defaultStoreDir
    ) throws(StorePathError) -> StorePath {
        switch address {
        case .text(let hash):
            guard !selfReference else { throw StorePathError(path: name, reason: "a text path cannot refer to itself") }
            return try text(name: name, contentHash: hash, references: references, storeDir: storeDir)
        case .fixed(let method, let hash):
            return try fixedOutput(name: name, method: method, hash: hash, references: references, selfReference: selfReference, storeDir: storeDir)
        }
    }

    /// Output name suffix rule: `drvName` for `out`, else `drvName-output`.
    public static func outputPathName(derivationName: String, output: String) -> String {
        output == "out" ? derivationName : "\(derivationName)-\(output)"
    }

    /// An input-addressed output path from the derivation's masked `hashDerivationModulo`.
    public static func inputAddressedOutput(derivationName: String, output: String, hashModulo: NixHash, storeDir: String = defaultStoreDir) throws(StorePathError) -> StorePath {
        try make(type: "output:\(output)", inner: hashModulo, name: outputPathName(derivationName: derivationName, output: output), storeDir: storeDir)
    }
}

/// A content address as Nix renders it: `text:sha256:<nix32>` or `fixed:[r:]<algo>:<nix32>`.
public enum ContentAddress: Sendable, Hashable, CustomStringConvertible {
    case text(NixHash)
    case fixed(FileIngestionMethod, NixHash)

    public var description: String {
        switch self {
        case .text(let hash): "text:\(hash.encoded(.nix32))"
        case .fixed(let method, let hash): "fixed:\(method.prefix)\(hash.encoded(.nix32))"
        }
    }

    public init(parsing text: String) throws(HashParseError) {
        if text.hasPrefix("text:") {
            let hash = try NixHash(parsing: String(text.dropFirst(5)))
            guard hash.algorithm == .sha256 else { throw HashParseError(input: text, reason: "text content addresses use sha256") }
            self = .text(hash)
        } else if text.hasPrefix("fixed:r:") {
            self = .fixed(.recursive, try NixHash(parsing: String(text.dropFirst(8))))
        } else if text.hasPrefix("fixed:") {
            self = .fixed(.flat, try NixHash(parsing: String(text.dropFirst(6))))
        } else {
            throw HashParseError(input: text, reason: "content address must start with 'text:' or 'fixed:'")
        }
    }
}
