import HTTPTypes
import Hummingbird
import NIOCore
import NixFormats
import VouchStore

/// `nix-cache-info` and narinfos: what substituters read and `nix copy` writes.
struct BinaryCacheRoutes<Context: RequestContext>: Sendable {
    let state: ServerState

    static var cacheInfo: ByteBuffer { ByteBuffer(string: "StoreDir: \(StorePath.defaultStoreDir)\nWantMassQuery: 1\nPriority: 40\n") }

    func register(on router: Router<Context>) {
        let cacheInfo = Self.cacheInfo
        router.get("/nix-cache-info") { _, _ in Response.ok(cacheInfo, contentType: "text/x-nix-cache-info") }
        router.get("/{hash}.narinfo") { _, context in try await getNARInfo(context) }
        router.head("/{hash}.narinfo") { _, context in try await getNARInfo(context).createHeadResponse() }
        router.put("/{hash}.narinfo") { request, context in try await putNARInfo(request, context) }
    }

    private func hashPart(_ context: Context) throws(ServerError) -> String {
        guard let hash = context.parameters.get("hash"), CacheNames.isHashPart(hash) else {
            throw ServerError.badRequest("'\(context.parameters.get("hash") ?? "")' is not a store path hash part (32 nix32 characters)")
        }
        return hash
    }

    /// Served from memory when possible; a miss reads the store and fills the cache.
    func getNARInfo(_ context: Context) async throws -> Response {
        let hash = try hashPart(context)
        if let bytes = state.narInfoCache.lookup(hash) { return .ok(bytes, contentType: "text/x-nix-narinfo") }
        guard let info = try await state.store({ storage throws(StoreError) in try await storage.narInfo(hashPart: hash) }) else {
            throw ServerError.notFound("no narinfo for \(hash)")
        }
        return .ok(state.narInfoCache.store(info), contentType: "text/x-nix-narinfo")
    }

    func putNARInfo(_ request: Request, _ context: Context) async throws -> Response {
        let hash = try hashPart(context)
        let credential = try await state.authenticator.authenticate(request)
        let body = try await RequestBodyReader.collect(request, limit: BodyLimits.narInfo, what: "narinfo")
        try credential.confirm(bodySHA256: RequestBodyReader.sha256(body))
        let text = String(decoding: body, as: UTF8.self)
        guard text.utf8.elementsEqual(body) else { throw ServerError.badRequest("narinfo \(hash) is not UTF-8") }
        let info: NARInfo
        do { info = try NARInfo(parsing: text, source: "narinfo \(hash)") } catch { throw ServerError.badRequest("\(error)") }
        let stored = try await state.store { storage throws(StoreError) in try await storage.narInfo(hashPart: hash) }
        try await state.validator.validate(info, sentTo: hash, alreadyValidated: stored)
        let outcome = try await state.store { storage throws(StoreError) in try await storage.putNARInfo(info) }
        state.logWrite("narinfo \(info.storePath)", outcome, by: credential)
        if outcome != .unchanged || state.narInfoCache.lookup(hash) == nil {
            if let merged = try? await state.storage.narInfo(hashPart: hash) {
                state.narInfoCache.store(merged)
            } else {
                state.narInfoCache.forget(hash)
            }
        }
        return .written(outcome)
    }
}
