import Foundation

/// A CA derivation output mapping (`realisations/<id>.doi`), as Nix 2.8 writes it: compact JSON,
/// keys sorted, `outPath` and dependent values as store path base names.
/// The signed bytes are the same JSON without the `signatures` key.
public struct Realisation: Sendable, Hashable {
    public var id: DrvOutputID
    public var outPath: StorePath
    public var signatures: [NixSignature]
    public var dependentRealisations: [DrvOutputID: StorePath]

    /// Largest `.doi` document accepted.
    public static let maximumSize = 1 << 20

    public init(id: DrvOutputID, outPath: StorePath, signatures: [NixSignature] = [], dependentRealisations: [DrvOutputID: StorePath] = [:]) {
        self.id = id
        self.outPath = outPath
        self.signatures = signatures
        self.dependentRealisations = dependentRealisations
    }

    /// Parses a `.doi` document.
    /// - Throws: ``KeyError`` naming `source` and what is malformed.
    public init(parsing bytes: [UInt8], source: String = "realisation", storeDir: String = StorePath.defaultStoreDir) throws(KeyError) {
        guard bytes.count <= Self.maximumSize else { throw KeyError(source: source, "larger than \(Self.maximumSize) bytes") }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else {
            throw KeyError(source: source, "not a JSON object")
        }
        for key in object.keys where !["id", "outPath", "signatures", "dependentRealisations"].contains(key) {
            throw KeyError(source: source, "unknown field '\(key)'")
        }
        guard let idText = object["id"] as? String, let outText = object["outPath"] as? String else {
            throw KeyError(source: source, "fields 'id' and 'outPath' are required strings")
        }
        do {
            id = try DrvOutputID(parsing: idText)
            outPath = try StorePath(baseName: outText, storeDir: storeDir)
            signatures = try ((object["signatures"] as? [String]) ?? []).map { try NixSignature(parsing: $0, source: source) }
            var deps: [DrvOutputID: StorePath] = [:]
            guard let depObject = (object["dependentRealisations"] ?? [String: Any]()) as? [String: Any] else {
                throw KeyError(source: source, "'dependentRealisations' must be an object")
            }
            for (key, value) in depObject {
                guard let value = value as? String else { throw KeyError(source: source, "dependent realisation '\(key)' must map to a path") }
                deps[try DrvOutputID(parsing: key)] = try StorePath(baseName: value, storeDir: storeDir)
            }
            dependentRealisations = deps
        } catch let error as KeyError {
            throw error
        } catch {
            throw KeyError(source: source, "\(error)")
        }
    }

    private func json(withSignatures: Bool) -> String {
        var s = "{\"dependentRealisations\":{"
        s += dependentRealisations.keys.sorted().map { "\(Self.quoted("\($0)")):\(Self.quoted(dependentRealisations[$0]!.baseName))" }.joined(separator: ",")
        s += "},\"id\":\(Self.quoted("\(id)")),\"outPath\":\(Self.quoted(outPath.baseName))"
        if withSignatures {
            s += ",\"signatures\":[" + Set(signatures).sorted().map { Self.quoted("\($0)") }.joined(separator: ",") + "]"
        }
        return s + "}"
    }

    /// A JSON string as Nix's nlohmann `dump()` writes it: `"` `\\` and control characters escaped
    /// (`\b \f \n \r \t`, others `\u00xx`). Signature key names are free text, so they need it.
    private static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{00}" ..< "\u{20}": out += "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// The `.doi` file contents (no trailing newline).
    public var json: String { json(withSignatures: true) }
    /// The bytes a realisation signature covers.
    public var fingerprint: String { json(withSignatures: false) }

    public mutating func sign(with key: NixSecretKey) {
        let signature = key.sign(Array(fingerprint.utf8))
        if !signatures.contains(signature) { signatures.append(signature) }
    }

    public func checkSignatures(trusting keys: [NixPublicKey]) -> [SignatureStatus] {
        SignatureStatus.check(signatures, over: Array(fingerprint.utf8), trusting: keys)
    }
}
