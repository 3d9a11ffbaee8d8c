/// A `.narinfo` file: what a binary cache says about one store path.
///
/// Signed (through ``fingerprint``): store path, NarHash, NarSize, references. Unsigned and
/// untrusted: URL, compression, file hash/size, deriver, system, CA (checked against the path
/// itself, not a signature). Serialisation follows Nix 2.8's field order and spelling exactly,
/// including the trailing space of an empty `References: ` line.
public struct NARInfo: Sendable, Hashable {
    public var storePath: StorePath
    public var url: String
    /// nil when the field was absent (Nix then assumes `bzip2`).
    public var compression: String?
    public var fileHash: NixHash?
    public var fileSize: UInt64?
    public var narHash: NixHash
    public var narSize: UInt64
    /// References in the order given (Nix writes them sorted).
    public var references: [StorePath]
    /// Base name of the deriver, if known.
    public var deriver: String?
    public var system: String?
    public var signatures: [NixSignature]
    public var contentAddress: ContentAddress?
    /// Unknown `Key: value` lines, kept so re-serialising loses nothing.
    public var unknownFields: [(key: String, value: String)]

    /// Largest narinfo text accepted.
    public static let maximumSize = 1 << 20

    public init(storePath: StorePath, url: String, compression: String?, fileHash: NixHash?, fileSize: UInt64?,
                narHash: NixHash, narSize: UInt64, references: [StorePath], deriver: String? = nil, system: String? = nil,
                signatures: [NixSignature] = [], contentAddress: ContentAddress? = nil) {
        self.storePath = storePath
        self.url = url
        self.compression = compression
        self.fileHash = fileHash
        self.fileSize = fileSize
        self.narHash = narHash
        self.narSize = narSize
        self.references = references
        self.deriver = deriver
        self.system = system
        self.signatures = signatures
        self.contentAddress = contentAddress
        self.unknownFields = []
    }

    public static func == (lhs: NARInfo, rhs: NARInfo) -> Bool { lhs.text == rhs.text }
    public func hash(into hasher: inout Hasher) { hasher.combine(text) }

    /// The bytes an Ed25519 `Sig:` covers:
    /// `1;<path>;sha256:<nix32 NarHash>;<NarSize>;<sorted full reference paths, comma-separated>`.
    public var fingerprint: String {
        Self.fingerprint(path: storePath, narHash: narHash, narSize: narSize, references: references)
    }

    public static func fingerprint(path: StorePath, narHash: NixHash, narSize: UInt64, references: [StorePath]) -> String {
        let refs = references.map(\.absolute).sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).joined(separator: ",")
        return "1;\(path.absolute);\(narHash.encoded(.nix32));\(narSize);\(refs)"
    }

    /// Adds `key`'s signature (kept once if already present).
    public mutating func sign(with key: NixSecretKey) {
        let signature = key.sign(Array(fingerprint.utf8))
        if !signatures.contains(signature) { signatures.append(signature) }
    }

    public typealias SignatureStatus = NixFormats.SignatureStatus

    public func checkSignatures(trusting keys: [NixPublicKey]) -> [SignatureStatus] {
        SignatureStatus.check(signatures, over: Array(fingerprint.utf8), trusting: keys)
    }

    /// The narinfo text, as Nix 2.8 writes it.
    public var text: String {
        var s = "StorePath: \(storePath.absolute)\nURL: \(url)\n"
        if let compression { s += "Compression: \(compression)\n" }
        if let fileHash { s += "FileHash: \(fileHash.encoded(.nix32))\n" }
        if let fileSize { s += "FileSize: \(fileSize)\n" }
        s += "NarHash: \(narHash.encoded(.nix32))\nNarSize: \(narSize)\n"
        s += "References: \(references.map(\.baseName).joined(separator: " "))\n"
        if let deriver { s += "Deriver: \(deriver)\n" }
        if let system { s += "System: \(system)\n" }
        for signature in Set(signatures).sorted() { s += "Sig: \(signature)\n" }
        if let contentAddress { s += "CA: \(contentAddress)\n" }
        for field in unknownFields { s += "\(field.key): \(field.value)\n" }
        return s
    }
}

/// A narinfo that cannot be used.
public struct NARInfoError: Error, Sendable, Hashable, CustomStringConvertible {
    public let source: String
    /// 1-based line number, when the problem is on one line.
    public let line: Int?
    public let field: String?
    public let reason: String

    public var description: String {
        var at = source
        if let line { at += ":\(line)" }
        if let field { at += " (\(field))" }
        return "invalid narinfo \(at): \(reason)"
    }
}

extension NARInfo {
    /// Parses narinfo text strictly: every line `Key: value`, the last one newline-terminated;
    /// known fields at most once (except `Sig`); hashes, sizes, paths and signatures well-formed;
    /// `StorePath`, `URL`, `NarHash` and a non-zero `NarSize` required.
    public init(parsing text: String, source: String = "narinfo", storeDir: String = StorePath.defaultStoreDir) throws(NARInfoError) {
        guard text.utf8.count <= Self.maximumSize else {
            throw NARInfoError(source: source, line: nil, field: nil, reason: "larger than \(Self.maximumSize) bytes")
        }
        guard text.hasSuffix("\n") else { throw NARInfoError(source: source, line: nil, field: nil, reason: "last line is not terminated by a newline") }
        var seen = Set<String>()
        var storePath: StorePath?, url: String?, compression: String?, fileHash: NixHash?, fileSize: UInt64?
        var narHash: NixHash?, narSize: UInt64?, references: [StorePath] = [], deriver: String?, system: String?
        var signatures: [NixSignature] = [], ca: ContentAddress?, unknown: [(String, String)] = []
        let lines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast()
        for (number, rawLine) in lines.enumerated() {
            let lineNo = number + 1
            let line = String(decoding: rawLine, as: UTF8.self)
            func fail(_ field: String?, _ reason: String) -> NARInfoError { NARInfoError(source: source, line: lineNo, field: field, reason: reason) }
            guard let colon = line.firstIndex(of: ":") else { throw fail(nil, "line is not 'Key: value'") }
            let key = String(line[..<colon])
            let afterColon = line[line.index(after: colon)...]
            guard afterColon.hasPrefix(" ") else { throw fail(key, "expected a space after ':'") }
            let value = String(afterColon.dropFirst())
            if key != "Sig" {
                guard !seen.contains(key) else { throw fail(key, "field appears more than once") }
                seen.insert(key)
            }
            do {
                switch key {
                case "StorePath": storePath = try StorePath(absolutePath: value, storeDir: storeDir)
                case "URL":
                    guard !value.isEmpty else { throw fail(key, "empty URL") }
                    url = value
                case "Compression": compression = value
                case "FileHash": fileHash = try NixHash(parsing: value)
                case "FileSize": fileSize = try Self.size(value, fail(key, "not a decimal size: '\(value)'"))
                case "NarHash":
                    let hash = try NixHash(parsing: value)
                    guard hash.algorithm == .sha256 else { throw fail(key, "NarHash must be sha256") }
                    narHash = hash
                case "NarSize": narSize = try Self.size(value, fail(key, "not a decimal size: '\(value)'"))
                case "References":
                    references = try value.split(separator: " ", omittingEmptySubsequences: true).map { try StorePath(baseName: String($0), storeDir: storeDir) }
                case "Deriver":
                    if value != "unknown-deriver" {
                        let drv = try StorePath(baseName: value, storeDir: storeDir)
                        guard drv.isDerivation else { throw fail(key, "deriver '\(value)' is not a .drv") }
                        deriver = value
                    }
                case "System": system = value
                case "Sig": signatures.append(try NixSignature(parsing: value, source: "\(source):\(lineNo)"))
                case "CA": ca = try ContentAddress(parsing: value)
                default: unknown.append((key, value))
                }
            } catch let error as NARInfoError {
                throw error
            } catch {
                throw fail(key, "\(error)")
            }
        }
        func missing(_ field: String) -> NARInfoError { NARInfoError(source: source, line: nil, field: field, reason: "required field is missing") }
        guard let storePath else { throw missing("StorePath") }
        guard let url else { throw missing("URL") }
        guard let narHash else { throw missing("NarHash") }
        guard let narSize else { throw missing("NarSize") }
        guard narSize != 0 else { throw NARInfoError(source: source, line: nil, field: "NarSize", reason: "must not be 0") }
        self.init(storePath: storePath, url: url, compression: compression, fileHash: fileHash, fileSize: fileSize,
                  narHash: narHash, narSize: narSize, references: references, deriver: deriver, system: system,
                  signatures: signatures, contentAddress: ca)
        self.unknownFields = unknown
    }

    private static func size(_ text: String, _ error: @autoclosure () -> NARInfoError) throws(NARInfoError) -> UInt64 {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), text == "0" || !text.hasPrefix("0"), let value = UInt64(text) else { throw error() }
        return value
    }
}
