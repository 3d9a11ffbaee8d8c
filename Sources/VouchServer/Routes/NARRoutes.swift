import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix
import NixFormats
import VouchStore

/// `nar/<nix32 file hash>.nar[.xz|.zst]`: uploaded by streaming into a temporary blob (hashed on
/// the way, checked against the name, then published), served by streaming the file.
struct NARRoutes<Context: RequestContext>: Sendable {
    let state: ServerState
    /// Chunk size when streaming a NAR to a client.
    static var downloadChunkSize: Int { 512 * 1024 }

    func register(on router: Router<Context>) {
        router.get("/nar/{file}") { _, context in try await get(context, head: false) }
        router.head("/nar/{file}") { _, context in try await get(context, head: true) }
        router.put("/nar/{file}") { request, context in try await put(request, context) }
    }

    private func name(_ context: Context) throws(ServerError) -> NARFileName {
        try NARFileName(fileName: context.parameters.get("file") ?? "")
    }

    func get(_ context: Context, head: Bool) async throws -> Response {
        let name = try name(context)
        let blobs = state.blobs
        let key = name.key
        let located = try await BlobUpload.storageCall { () throws(StoreError) -> (String, UInt64)? in
            guard let path = try blobs.path(of: key), let size = try blobs.size(of: key) else { return nil }
            return (path, size)
        }
        guard let (path, size) = located else { throw ServerError.notFound("no NAR \(key)") }
        var headers: HTTPFields = [.contentType: "application/x-nix-nar", .contentLength: String(size)]
        if head { return Response(status: .ok, headers: headers, body: .init()) }
        let body = try await FileIO(threadPool: .singleton).loadFile(path: path, context: context, chunkLength: Self.downloadChunkSize)
        headers[.contentLength] = nil
        return Response(status: .ok, headers: headers, body: body)
    }

    func put(_ request: Request, _ context: Context) async throws -> Response {
        let name = try name(context)
        let credential = try await state.authenticator.authenticate(request)
        let upload = try await BlobUpload.receive(request, into: state.blobs, limit: state.maximumNARSize, what: "NAR \(name.key)")
        let existed: Bool
        do {
            guard upload.sha256 == name.fileHash else {
                throw ServerError.badRequest("NAR \(name.key): the body's SHA-256 is \(NixBase32.encode(upload.sha256)), not the hash in its name")
            }
            try credential.confirm(bodySHA256: upload.sha256)
            existed = try await upload.commit(as: name.key, blobs: state.blobs)
        } catch {
            upload.abort()
            throw error
        }
        let outcome: WriteOutcome = existed ? .unchanged : .created
        state.logWrite("NAR \(name.key) (\(upload.size) bytes)", outcome, by: credential)
        return .written(outcome)
    }
}
