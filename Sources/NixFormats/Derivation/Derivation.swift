/// A store derivation: the build plan in a `.drv` file.
///
/// Field text is kept exactly as in the ATerm so that ``aterm`` reproduces the file byte for
/// byte. Maps are keyed bytewise and serialised in Nix's order (unsigned byte comparison).
public struct Derivation: Sendable, Hashable {
    /// One output's ATerm columns: path (empty when not known in advance), hash algorithm
    /// column (`[r:|text:]<algo>`, empty for input-addressed) and hash column (base16, or `impure`).
    public struct Output: Sendable, Hashable {
        public var path: String
        public var hashAlgo: String
        public var hash: String

        public init(path: String, hashAlgo: String = "", hash: String = "") {
            self.path = path
            self.hashAlgo = hashAlgo
            self.hash = hash
        }
    }

    /// The derivation name (store path name without `.drv`).
    public var name: String
    public var outputs: [String: Output]
    /// Input derivation path → wanted output names.
    public var inputDrvs: [String: Set<String>]
    public var inputSrcs: Set<String>
    public var platform: ByteString
    public var builder: ByteString
    public var args: [ByteString]
    public var env: [ByteString: ByteString]

    public init(
        name: String, outputs: [String: Output], inputDrvs: [String: Set<String>], inputSrcs: Set<String>,
        platform: ByteString, builder: ByteString, args: [ByteString], env: [ByteString: ByteString]
    ) {
        self.name = name
        self.outputs = outputs
        self.inputDrvs = inputDrvs
        self.inputSrcs = inputSrcs
        self.platform = platform
        self.builder = builder
        self.args = args
        self.env = env
    }

    /// Output names in Nix's order.
    public var outputNames: [String] { outputs.keys.sorted(by: bytewise) }
}

/// Bytewise unsigned ordering of strings, Nix's `std::string` order.
@inline(__always)
func bytewise(_ lhs: String, _ rhs: String) -> Bool {
    lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
}

/// A `.drv` file or derivation value that is malformed or inconsistent.
public struct DerivationError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        case syntax, notCanonical, tooLarge, invalidPath, invalidOutput, inconsistent, missingInput, unsupported
    }
    public let code: Code
    /// What was being read, e.g. a file name or drv path.
    public let source: String
    /// Byte offset in the ATerm, when the error comes from parsing.
    public let offset: Int?
    public let reason: String

    public init(_ code: Code, source: String, offset: Int? = nil, _ reason: String) {
        self.code = code
        self.source = source
        self.offset = offset
        self.reason = reason
    }

    public var description: String {
        let at = offset.map { " at byte \($0)" } ?? ""
        return "invalid derivation \(source)\(at): \(reason)"
    }
}
