import HTTPTypes
import Hummingbird
import NIOCore
import VouchStore

/// A refusal sent to the client: a status and one line of `text/plain` saying what was refused
/// and why. Everything the server answers with an error status goes through this type.
public struct ServerError: HTTPResponseError, CustomStringConvertible {
    public let status: HTTPResponse.Status
    public let message: String
    /// Extra response headers (e.g. `WWW-Authenticate`).
    public var headers: HTTPFields
    /// Logged, never sent: what went wrong inside the server (file paths, SQL).
    var internalDetail: String?

    public init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        // One line, whatever the message was built from.
        self.message = String(message.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
        self.headers = headers
    }

    public var description: String { "\(status.code) \(message)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = headers
        fields[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: message + "\n")))
    }

    static func badRequest(_ message: String) -> ServerError { ServerError(.badRequest, message) }
    static func notFound(_ message: String) -> ServerError { ServerError(.notFound, message) }
    static func tooLarge(_ what: String, limit: UInt64) -> ServerError {
        ServerError(.contentTooLarge, "\(what) is larger than the limit of \(limit) bytes")
    }

    /// A `500` whose client message is `what` and whose detail only goes to the log.
    static func internalFailure(_ what: String, detail: String) -> ServerError {
        var error = ServerError(.internalServerError, what)
        error.internalDetail = detail
        return error
    }

    /// Maps a storage failure: conflicts are `409`, impossible keys `400`, anything else `500`
    /// (whose detail goes to the log only; see ``ErrorMiddleware``).
    static func storage(_ error: StoreError) -> ServerError {
        switch error {
        case .conflict: ServerError(.conflict, error.description)
        case .invalidKey: ServerError(.badRequest, error.description)
        case .io, .database, .corrupt: internalFailure("storage failure", detail: error.description)
        }
    }
}
