import HTTPTypes
import Hummingbird
import NIOCore

/// The server's responder: answers `GET`/`HEAD /<hash>.narinfo` from ``NARInfoCache`` when it can,
/// before routing and middleware (the request that substituters make most), and hands every
/// other request to the router. Not used with private reads, where every read is authenticated.
public struct VouchResponder: HTTPResponder {
    public typealias Context = BasicRequestContext

    let router: RouterResponder<Context>
    let narInfoCache: NARInfoCache?

    /// `/` + 32 hash characters + `.narinfo`.
    static let narInfoPathLength = 1 + 32 + 8

    public func respond(to request: Request, context: Context) async throws -> Response {
        if let narInfoCache, request.method == .get || request.method == .head,
           let hashPart = Self.narInfoHashPart(request.head.path), let bytes = narInfoCache.lookup(hashPart) {
            let response = Response.ok(bytes, contentType: "text/x-nix-narinfo")
            return request.method == .head ? response.createHeadResponse() : response
        }
        return try await router.respond(to: request, context: context)
    }

    /// The hash part of a plain `/<hash>.narinfo` request target (no query), else nil.
    static func narInfoHashPart(_ target: String?) -> String? {
        guard let target, target.utf8.count == narInfoPathLength, target.utf8.first == UInt8(ascii: "/"),
              target.hasSuffix(".narinfo") else { return nil }
        let hash = target.utf8.dropFirst().prefix(32)
        guard hash.allSatisfy(CacheNames.isNix32) else { return nil }
        return String(Substring(hash))
    }
}
