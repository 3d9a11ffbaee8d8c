import Crypto
import NixFormats

/// A laut build trace: a compact JWS (`header.payload.signature`, base64url without padding)
/// whose header has `"type":"laut"`, `"v":"2"`, `"alg":"EdDSA"`, and whose payload names the
/// resolved derivation (`in.rdrv_aterm_ca`, a store path hash part) and the outputs
/// (`out.nix.<output>.{path,hash}`).
///
/// Only EdDSA (Ed25519) is accepted; `none`, HMAC and every other `alg` are refused before the
/// signature is looked at. `kid` is a hint for choosing among trusted keys, never trusted.
public struct LautTrace: Sendable, Hashable {
    public struct Output: Sendable, Hashable {
        public var path: StorePath
        public var narHash: NixHash
    }

    public let compact: String
    /// Hash part of the resolved derivation's store path.
    public let resolvedDerivationHash: String
    public let outputs: [String: Output]
    public let keyID: String?
    private let signingInput: [UInt8]
    private let signature: [UInt8]

    /// Largest JWS accepted.
    public static let maximumSize = 1 << 20

    public init(compact: String, source: String, storeDir: String = StorePath.defaultStoreDir) throws(TraceError) {
        guard compact.utf8.count <= Self.maximumSize else { throw TraceError(.malformed, source: source, "JWS larger than \(Self.maximumSize) bytes") }
        let parts = compact.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw TraceError(.malformed, source: source, "JWS must have exactly three segments") }
        guard let headerBytes = Self.base64URL(parts[0]), let payloadBytes = Self.base64URL(parts[1]), let sig = Self.base64URL(parts[2]) else {
            throw TraceError(.malformed, source: source, "JWS segments must be base64url without padding")
        }
        let header: JSONValue
        do throws(JSONError) { header = try JSONValue(parsing: headerBytes) } catch { throw TraceError(.malformed, source: source, "JWS header: \(error)") }
        guard let alg = header["alg"]?.string else { throw TraceError(.malformed, source: source, "JWS header has no 'alg'") }
        guard alg == "EdDSA" else { throw TraceError(.unsupported, source: source, "JWS alg '\(alg)' is not accepted (only EdDSA)") }
        if let crv = header["crv"], crv.string != "Ed25519" { throw TraceError(.unsupported, source: source, "JWS crv must be Ed25519") }
        if header["crit"] != nil { throw TraceError(.unsupported, source: source, "JWS 'crit' extensions are not understood") }
        guard header["type"]?.string == "laut" else { throw TraceError(.unsupported, source: source, "JWS header 'type' is not 'laut'") }
        guard header["v"]?.string == "2" else { throw TraceError(.unsupported, source: source, "laut trace version must be \"2\"") }
        guard sig.count == 64 else { throw TraceError(.malformed, source: source, "Ed25519 signature must be 64 bytes") }
        let payload: JSONValue
        do throws(JSONError) { payload = try JSONValue(parsing: payloadBytes) } catch { throw TraceError(.malformed, source: source, "JWS payload: \(error)") }
        guard let rdrv = payload["in"]?["rdrv_aterm_ca"]?.string, rdrv.utf8.count == 32, NixBase32.decode(rdrv) != nil else {
            throw TraceError(.invalidField, source: source, "in.rdrv_aterm_ca must be a 32-character nix32 hash part")
        }
        guard let outs = payload["out"]?["nix"]?.object, !outs.isEmpty else { throw TraceError(.invalidField, source: source, "out.nix must be a non-empty object") }
        var outputs: [String: Output] = [:]
        for (name, value) in outs {
            guard let pathText = value["path"]?.string, let hashText = value["hash"]?.string else {
                throw TraceError(.invalidField, source: source, "out.nix.\(name) needs 'path' and 'hash'")
            }
            do {
                let path = pathText.hasPrefix("/") ? try StorePath(absolutePath: pathText, storeDir: storeDir) : try StorePath(baseName: pathText, storeDir: storeDir)
                let hash = try NixHash(parsing: hashText, algorithm: .sha256)
                outputs[name] = Output(path: path, narHash: hash)
            } catch {
                throw TraceError(.invalidField, source: source, "out.nix.\(name): \(error)")
            }
        }
        self.compact = compact
        self.resolvedDerivationHash = rdrv
        self.outputs = outputs
        self.keyID = header["kid"]?.string
        self.signingInput = Array(parts[0].utf8) + [UInt8(ascii: ".")] + Array(parts[1].utf8)
        self.signature = sig
    }

    /// The trusted key whose signature verifies, if any (keys named in `kid` are tried first).
    public func signer(trusting keys: [NixPublicKey]) -> NixPublicKey? {
        let hinted = keyID?.split(separator: ":", maxSplits: 1).first.map(String.init)
        let ordered = keys.filter { $0.name == hinted } + keys.filter { $0.name != hinted }
        return ordered.first { $0.key.isValidSignature(signature, for: signingInput) }
    }

    /// laut's key id: `<name>:` + first 16 hex digits of SHA-256 of the key's DER SubjectPublicKeyInfo.
    public static func keyID(for key: NixPublicKey) -> String {
        let spki: [UInt8] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00] + key.raw
        return "\(key.name):" + String(HashAlgorithm.sha256.digest(spki).base16.prefix(16))
    }

    /// Strict base64url: alphabet `A-Z a-z 0-9 - _`, no padding, no whitespace.
    static func base64URL(_ text: Substring) -> [UInt8]? {
        var chars = [UInt8]()
        for c in text.utf8 {
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): chars.append(c)
            case UInt8(ascii: "-"): chars.append(UInt8(ascii: "+"))
            case UInt8(ascii: "_"): chars.append(UInt8(ascii: "/"))
            default: return nil
            }
        }
        guard chars.count % 4 != 1 else { return nil }
        while chars.count % 4 != 0 { chars.append(UInt8(ascii: "=")) }
        return Base64.decode(String(decoding: chars, as: UTF8.self))
    }

    /// The laut `{"signatures":[…]}` trace file: one JWS per builder.
    public static func parseFile(_ bytes: [UInt8], source: String, storeDir: String = StorePath.defaultStoreDir) throws(TraceError) -> [LautTrace] {
        let value: JSONValue
        do throws(JSONError) { value = try JSONValue(parsing: bytes) } catch { throw TraceError(.malformed, source: source, "\(error)") }
        guard let sigs = value["signatures"]?.array else { throw TraceError(.malformed, source: source, "'signatures' must be an array") }
        var traces = [LautTrace]()
        for (index, sig) in sigs.enumerated() {
            guard let text = sig.string else { throw TraceError(.malformed, source: source, "signatures[\(index)] must be a string") }
            traces.append(try LautTrace(compact: text, source: "\(source) signatures[\(index)]", storeDir: storeDir))
        }
        return traces
    }
}
