import HTTPTypes
import Hummingbird
import Logging

/// Turns every failure into a one-line `text/plain` answer and logs refusals: `409` conflicts as
/// warnings, other `4xx` (except routine `404`s) as notices, `5xx` as errors with their internal
/// detail. Errors that are not ``ServerError`` never reach the client beyond their status.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as ServerError {
            log(error, request)
            return try error.response(from: request, context: context)
        } catch let error as HTTPError {
            let refusal = ServerError(error.status, error.body ?? defaultMessage(error.status, request))
            log(refusal, request)
            return try refusal.response(from: request, context: context)
        } catch {
            let failure = ServerError.internalFailure("internal server error", detail: String(reflecting: error))
            log(failure, request)
            return try failure.response(from: request, context: context)
        }
    }

    private func defaultMessage(_ status: HTTPResponse.Status, _ request: Request) -> String {
        status == .notFound ? "no such resource: \(request.method) \(request.uri.path)" : status.reasonPhrase
    }

    private func log(_ error: ServerError, _ request: Request) {
        let line = "\(request.method) \(request.uri.path): \(error.status.code) \(error.message)"
        switch error.status.code {
        case 409: logger.warning("\(line)")
        case 404: logger.debug("\(line)")
        case 500...: logger.error("\(line)\(error.internalDetail.map { " (\($0))" } ?? "")")
        default: logger.notice("\(line)")
        }
    }
}
