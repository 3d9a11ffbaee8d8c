import HTTPTypes
import Hummingbird
import NIOCore
import NixFormats
import VouchStore
import VouchTrace

/// The trace API (`/api/v1/…`) and laut's `GET /traces/<hash>`.
struct TraceRoutes<Context: RequestContext>: Sendable {
    let state: ServerState

    func register(on router: Router<Context>) {
        router.post("/api/v1/traces") { request, _ in try await upload(request) }
        router.get("/api/v1/traces") { request, _ in try await query(request) }
        router.post("/api/v1/traces/query") { request, _ in try await bulkQuery(request) }
        router.get("/api/v1/signers") { _, _ in
            let signers = try await state.store { storage throws(StoreError) in try await storage.signers() }
            return Response.ok(TraceJSON.signers(signers), contentType: "application/json")
        }
        router.get("/traces/{hash}") { _, context in try await lautTraces(context) }
    }

    /// Self-authenticating: the trace's own signature by a registered key is the credential.
    func upload(_ request: Request) async throws -> Response {
        let body = try await RequestBodyReader.collect(request, limit: BodyLimits.trace, what: "trace")
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        let isJWS = contentType.hasPrefix("application/jose") || body.first.map { $0 != UInt8(ascii: "{") && $0 > 0x20 } == true
        let keys = try await state.store { storage throws(StoreError) in try await storage.keys() }
        let trace = try TraceIntake.check(body, isJWS: isJWS, keys: keys, receivedAt: state.clock())
        let outcome = try await state.store { storage throws(StoreError) in try await storage.putTrace(trace) }
        let subject = trace.derivation?.description ?? trace.builtDerivationHashPart
        state.logWrite("\(trace.format.rawValue) trace \(trace.id) for \(subject) signed by '\(trace.signer.name)'", outcome, by: nil)
        let status: HTTPResponse.Status = outcome == .created ? .created : .ok
        let answer = JSONValue.object(["id": .string(trace.id), "stored": .bool(outcome == .created)]).canonicalBytes
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: answer)))
    }

    /// `?drv=`, `?output=` or `?signer=`: exactly one.
    func query(_ request: Request) async throws -> Response {
        let parameters = request.uri.queryParameters
        let given = ["drv", "output", "signer"].filter { parameters[Substring($0)] != nil }
        guard given.count == 1, let selector = given.first, let value = parameters[Substring(selector)].map(String.init) else {
            throw ServerError.badRequest("give exactly one of ?drv=<store path>, ?output=<store path>, ?signer=<key name>")
        }
        let query: TraceQuery
        switch selector {
        case "drv": query = .derivation(try Self.storePath(value, what: "drv"))
        case "output": query = .output(try Self.storePath(value, what: "output"))
        default:
            guard !value.isEmpty else { throw ServerError.badRequest("signer must be a key name") }
            query = .signer(value)
        }
        let traces = try await state.store { storage throws(StoreError) in try await storage.traces(matching: query) }
        return .ok(TraceJSON.traces(traces), contentType: "application/json")
    }

    /// `{"derivations":[…],"outputs":[…]}` → every matching trace once, in upload order.
    func bulkQuery(_ request: Request) async throws -> Response {
        let body = try await RequestBodyReader.collect(request, limit: BodyLimits.traceQuery, what: "trace query")
        if state.privateReads { _ = try await state.authenticator.authorize(request, body: body) }
        let value: JSONValue
        do { value = try JSONValue(parsing: body) } catch { throw ServerError.badRequest("trace query: \(error)") }
        guard let members = value.object else { throw ServerError.badRequest("trace query must be a JSON object") }
        for key in members.keys where key != "derivations" && key != "outputs" {
            throw ServerError.badRequest("trace query: unknown field '\(key)'")
        }
        func paths(_ field: String) throws(ServerError) -> [StorePath] {
            guard let item = members[field] else { return [] }
            guard let array = item.array else { throw ServerError.badRequest("trace query: '\(field)' must be an array of store paths") }
            var result = [StorePath]()
            for element in array {
                guard let text = element.string else { throw ServerError.badRequest("trace query: '\(field)' must hold strings") }
                result.append(try Self.storePath(text, what: field))
            }
            return result
        }
        let queries = try paths("derivations").map(TraceQuery.derivation) + paths("outputs").map(TraceQuery.output)
        guard queries.count <= BodyLimits.maximumQueryPaths else {
            throw ServerError(.contentTooLarge, "trace query names \(queries.count) paths; at most \(BodyLimits.maximumQueryPaths) are allowed")
        }
        let found = try await state.store { storage throws(StoreError) in try await storage.traces(matchingAny: queries) }
        return .ok(TraceJSON.traces(found), contentType: "application/json")
    }

    /// laut-compatible: the JWS traces of the derivation built with this hash part.
    func lautTraces(_ context: Context) async throws -> Response {
        let hash = context.parameters.get("hash") ?? ""
        guard CacheNames.isHashPart(hash) else { throw ServerError.badRequest("'\(hash)' is not a derivation hash part") }
        let traces = try await state.store { storage throws(StoreError) in
            try await storage.traces(matching: .builtDerivationHashPart(hash))
        }.filter { $0.format == .laut }
        guard !traces.isEmpty else { throw ServerError.notFound("no laut traces for \(hash)") }
        return .ok(TraceJSON.lautSignatures(traces), contentType: "application/json")
    }

    static func storePath(_ text: String, what: String) throws(ServerError) -> StorePath {
        do { return try StorePath(absolutePath: text) } catch { throw ServerError.badRequest("\(what): \(error)") }
    }
}
