import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix
import NixFormats
import VouchStore

/// Build logs, `log/<drv basename>`, stored as sent (up to ``BodyLimits/buildLog``).
struct LogRoutes<Context: RequestContext>: Sendable {
    let state: ServerState

    func register(on router: Router<Context>) {
        router.get("/log/{drv}") { _, context in try await get(context) }
        router.put("/log/{drv}") { request, context in try await put(request, context) }
    }

    private func key(_ context: Context) throws(ServerError) -> String {
        "log/\(try CacheNames.derivation(baseName: context.parameters.get("drv") ?? "").baseName)"
    }

    func get(_ context: Context) async throws -> Response {
        let key = try key(context)
        let blobs = state.blobs
        guard let path = try await BlobUpload.storageCall({ () throws(StoreError) in try blobs.path(of: key) }) else {
            throw ServerError.notFound("no build log \(key)")
        }
        let body = try await FileIO(threadPool: .singleton).loadFile(path: path, context: context)
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: body)
    }

    func put(_ request: Request, _ context: Context) async throws -> Response {
        let key = try key(context)
        let credential = try await state.authenticator.authenticate(request)
        let upload = try await BlobUpload.receive(request, into: state.blobs, limit: UInt64(BodyLimits.buildLog), what: "build log")
        let existed: Bool
        do {
            try credential.confirm(bodySHA256: upload.sha256)
            let blobs = state.blobs
            if let size = try await BlobUpload.storageCall({ () throws(StoreError) in try blobs.size(of: key) }) {
                // Stored logs are never replaced; an identical re-upload is fine.
                guard size == upload.size, try await sameContent(key: key, sha256: upload.sha256) else {
                    throw ServerError(.conflict, "build log \(key) is already stored with different content")
                }
                upload.abort()
                existed = true
            } else {
                existed = try await upload.commit(as: key, blobs: state.blobs)
            }
        } catch {
            upload.abort()
            throw error
        }
        let outcome: WriteOutcome = existed ? .unchanged : .created
        state.logWrite("build log \(key)", outcome, by: credential)
        return .written(outcome)
    }

    private func sameContent(key: String, sha256: [UInt8]) async throws -> Bool {
        let blobs = state.blobs
        return try await BlockingWork.run {
            guard let path = try blobs.path(of: key) else { return false }
            return try FileDigest.sha256(ofFileAt: path) == sha256
        }
    }
}
