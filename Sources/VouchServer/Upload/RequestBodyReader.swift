import Crypto
import HTTPTypes
import Hummingbird
import NIOCore

/// Reading request bodies with a hard cap, so no upload is ever buffered beyond its limit.
enum RequestBodyReader {
    /// Refuses early when `Content-Length` already says the body is too large.
    static func checkDeclaredLength(_ request: Request, limit: UInt64, what: String) throws {
        if let text = request.headers[.contentLength], let declared = UInt64(text), declared > limit {
            throw ServerError.tooLarge(what, limit: limit)
        }
    }

    /// Collects the whole body, at most `limit` bytes.
    /// - Throws: `413` as soon as the body exceeds `limit`.
    static func collect(_ request: Request, limit: Int, what: String) async throws -> [UInt8] {
        try checkDeclaredLength(request, limit: UInt64(limit), what: what)
        var bytes = [UInt8]()
        for try await buffer in request.body {
            guard bytes.count + buffer.readableBytes <= limit else { throw ServerError.tooLarge(what, limit: UInt64(limit)) }
            bytes.append(contentsOf: buffer.readableBytesView)
        }
        return bytes
    }

    /// SHA-256 of `bytes`.
    static func sha256(_ bytes: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: bytes)) }
}
