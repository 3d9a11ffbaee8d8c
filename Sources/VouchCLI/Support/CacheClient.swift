import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NixFormats
import VouchServer
import VouchTrace
#if canImport(Glibc)
import Glibc
#endif

/// A client of a Vouch server (docs/http-api.md) or a laut-style trace cache.
struct CacheClient: Sendable {
    /// How writes authenticate.
    enum Credentials: Sendable {
        case none
        /// An access token, sent as a bearer token.
        case token(String)
        /// A request signed by a registered builder key.
        case builderKey(NixSecretKey)
    }

    /// A trace as a server answers it.
    enum FetchedTrace: Sendable {
        case dsse(SignedTrace)
        case laut(LautTrace)
    }

    let base: String
    let credentials: Credentials
    let storeDir: String
    private let client = HTTPClient.shared
    private let timeout: TimeAmount = .seconds(120)

    /// `base` is the server root, e.g. `http://127.0.0.1:8080` (a trailing `/` is dropped).
    init(base: String, credentials: Credentials = .none, storeDir: String = StorePath.defaultStoreDir) throws(CLIError) {
        guard base.hasPrefix("http://") || base.hasPrefix("https://") else { throw CLIError("cache URL '\(base)' must start with http:// or https://") }
        var trimmed = base
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.base = trimmed
        self.credentials = credentials
        self.storeDir = storeDir
    }

    /// Uploads one DSSE trace; returns true when the server stored it anew.
    func upload(trace envelope: [UInt8]) async throws -> Bool {
        let response = try await send(method: .POST, path: "/api/v1/traces", body: envelope, contentType: "application/json")
        switch response.status.code {
        case 201: return true
        case 200: return false
        default: throw CLIError("\(base): trace upload refused: \(response.status.code) \(response.text)")
        }
    }

    /// Every stored trace naming one of `derivations` (unresolved or resolved) or `outputs`.
    /// Queries in batches; nil when the server has no Vouch trace API (e.g. a laut-style cache).
    func traces(derivations: [String], outputs: [String] = []) async throws -> [FetchedTrace]? {
        var result: [FetchedTrace] = []
        var seen = Set<String>()
        let items = derivations.map { (field: "derivations", path: $0) } + outputs.map { (field: "outputs", path: $0) }
        for start in stride(from: 0, to: items.count, by: 5_000) {
            let batch = items[start..<min(start + 5_000, items.count)]
            let body = JSONValue.object([
                "derivations": .array(batch.filter { $0.field == "derivations" }.map { .string($0.path) }),
                "outputs": .array(batch.filter { $0.field == "outputs" }.map { .string($0.path) }),
            ]).canonicalBytes
            let response = try await send(method: .POST, path: "/api/v1/traces/query", body: body, contentType: "application/json")
            if response.status == .notFound || response.status == .methodNotAllowed { return nil }
            guard response.status == .ok else { throw CLIError("\(base): trace query failed: \(response.status.code) \(response.text)") }
            for item in try parseTraceList(response.body, source: "\(base)/api/v1/traces/query") {
                if seen.insert(item.id).inserted { result.append(item.trace) }
            }
        }
        return result
    }

    /// laut-style lookup: `GET /traces/<hash part>` answering `{"signatures":["<JWS>",…]}`.
    func lautTraces(builtDerivationHashPart hashPart: String) async throws -> [LautTrace] {
        let source = "\(base)/traces/\(hashPart)"
        let response = try await send(method: .GET, path: "/traces/\(hashPart)")
        if response.status == .notFound { return [] }
        guard response.status == .ok else { throw CLIError("\(source): \(response.status.code) \(response.text)") }
        return try Self.parseLautFile(response.body, source: source, storeDir: storeDir)
    }

    /// A laut trace file: `{"signatures":["<JWS>",…]}`.
    static func parseLautFile(_ body: [UInt8], source: String, storeDir: String) throws -> [LautTrace] {
        let json: JSONValue
        do throws(JSONError) { json = try JSONValue(parsing: body) } catch { throw CLIError("\(source): \(error)") }
        guard let list = json["signatures"]?.array else { throw CLIError("\(source): expected {\"signatures\":[…]}") }
        var traces: [LautTrace] = []
        for item in list {
            guard let compact = item.string else { throw CLIError("\(source): signatures must be JWS strings") }
            traces.append(try LautTrace(compact: compact, source: source, storeDir: storeDir))
        }
        return traces
    }

    /// `GET /<hash part>.narinfo`; nil when the cache does not have it.
    func narInfo(hashPart: String) async throws -> NARInfo? {
        let source = "\(base)/\(hashPart).narinfo"
        let response = try await send(method: .GET, path: "/\(hashPart).narinfo")
        if [404, 403, 410].contains(response.status.code) { return nil }
        guard response.status == .ok else { throw CLIError("\(source): \(response.status.code) \(response.text)") }
        return try NARInfo(parsing: String(decoding: response.body, as: UTF8.self), source: source, storeDir: storeDir)
    }

    // MARK: - Transport

    struct Response {
        var status: HTTPResponseStatus
        var body: [UInt8]
        var text: String {
            let line = String(decoding: body.prefix(500), as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
            return line
        }
    }

    private func parseTraceList(_ body: [UInt8], source: String) throws -> [(id: String, trace: FetchedTrace)] {
        let json: JSONValue
        do throws(JSONError) { json = try JSONValue(parsing: body) } catch { throw CLIError("\(source): \(error)") }
        guard let list = json["traces"]?.array else { throw CLIError("\(source): expected {\"traces\":[…]}") }
        return try list.map { item in
            guard let id = item["id"]?.string else { throw CLIError("\(source): a trace without 'id'") }
            switch item["format"]?.string {
            case "dsse":
                guard let envelope = item["envelope"] else { throw CLIError("\(source): trace \(id) has no envelope") }
                return (id, .dsse(try SignedTrace(parsing: envelope.canonicalBytes, source: "\(source) trace \(id)")))
            case "laut":
                guard let jws = item["jws"]?.string else { throw CLIError("\(source): trace \(id) has no jws") }
                return (id, .laut(try LautTrace(compact: jws, source: "\(source) trace \(id)", storeDir: storeDir)))
            default:
                throw CLIError("\(source): trace \(id) has an unknown format")
            }
        }
    }

    func send(method: HTTPMethod, path: String, body: [UInt8]? = nil, contentType: String? = nil) async throws -> Response {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        let bytes = body ?? []
        switch credentials {
        case .none:
            break
        case .token(let token):
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
        case .builderKey(let key):
            let date = String(time(nil))
            let target = Self.requestTarget(of: base + path)
            let message = RequestSigning.message(method: method.rawValue, target: target, date: date,
                                                 bodySHA256: HashAlgorithm.sha256.digest(bytes).bytes)
            request.headers.add(name: RequestSigning.dateHeader, value: date)
            request.headers.add(name: RequestSigning.signatureHeader, value: key.sign(message).description)
        }
        if body != nil { request.body = .bytes(ByteBuffer(bytes: bytes)) }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: timeout)
        } catch {
            throw CLIError("\(base + path): \(error)")
        }
        var collected = try await response.body.collect(upTo: 1 << 30)
        return Response(status: response.status, body: collected.readBytes(length: collected.readableBytes) ?? [])
    }

    /// The path and query of an absolute URL, as sent on the request line.
    static func requestTarget(of url: String) -> String {
        let bytes = Array(url.utf8)
        var i = 0
        while i + 2 < bytes.count, !(bytes[i] == 0x3A && bytes[i + 1] == 0x2F && bytes[i + 2] == 0x2F) { i += 1 }
        guard i + 2 < bytes.count else { return url }
        guard let slash = bytes[(i + 3)...].firstIndex(of: 0x2F) else { return "/" }
        return String(decoding: bytes[slash...], as: UTF8.self)
    }
}
