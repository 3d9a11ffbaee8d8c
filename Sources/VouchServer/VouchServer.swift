import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// The Vouch cache server: Nix binary cache, build traces and build logs over HTTP
/// (docs/http-api.md), on Hummingbird 2.
///
/// ```swift
/// let store = try StoreDirectory.open(path: dir)
/// let app = VouchServer.makeApplication(ServerConfiguration(storage: store.metadata, blobs: store.blobs)) { host, port in
///     print("listening on \(host):\(port)")
/// }
/// try await app.runService()
/// ```
public enum VouchServer {
    /// The request context every route sees.
    public typealias Context = BasicRequestContext

    /// Builds the application (router, middleware, HTTP/1.1 server with `100-continue` support).
    /// - Parameters:
    ///   - configuration: storage, keys, limits, listen address.
    ///   - onListening: called once the socket is bound, with the actual host and port (useful
    ///     with port 0).
    /// - Returns: an application to `run()` or `runService()`, or to test with HummingbirdTesting.
    public static func makeApplication(
        _ configuration: ServerConfiguration,
        onListening: @escaping @Sendable (_ host: String, _ port: Int) async -> Void = { _, _ in }
    ) -> Application<VouchResponder> {
        let state = ServerState(configuration)
        let router = VouchResponder(router: makeRouter(state).buildResponder(),
                                    narInfoCache: configuration.privateReads ? nil : state.narInfoCache)
        let maximumNARSize = configuration.maximumNARSize
        let server = HTTPServerBuilder.http1(configuration: .init(additionalChannelHandlers: [
            ExpectContinueHandler { request in admitsBody(request, maximumNARSize: maximumNARSize) },
        ]))
        let host = configuration.host
        return Application(
            responder: router,
            server: server,
            configuration: ApplicationConfiguration(address: .hostname(host, port: configuration.port), serverName: "vouch"),
            onServerRunning: { channel in
                await onListening(host, channel.localAddress?.port ?? configuration.port)
            },
            logger: configuration.logger
        )
    }

    /// Builds the application and runs it until SIGINT or SIGTERM, then shuts down gracefully
    /// (requests in flight are finished).
    /// - Parameters:
    ///   - configuration: storage, keys, limits, listen address.
    ///   - onListening: called once the socket is bound, with the actual host and port.
    /// - Throws: when the address cannot be bound, or the server fails.
    public static func run(
        _ configuration: ServerConfiguration,
        onListening: @escaping @Sendable (_ host: String, _ port: Int) async -> Void = { _, _ in }
    ) async throws {
        try await makeApplication(configuration, onListening: onListening).runService()
    }

    static func makeRouter(_ state: ServerState) -> Router<Context> {
        let router = Router(context: Context.self)
        router.add(middleware: ErrorMiddleware(logger: state.logger))
        router.add(middleware: PathSafetyMiddleware())
        if state.privateReads { router.add(middleware: ReadAccessMiddleware(authenticator: state.authenticator)) }
        BinaryCacheRoutes<Context>(state: state).register(on: router)
        NARRoutes<Context>(state: state).register(on: router)
        RealisationRoutes<Context>(state: state).register(on: router)
        LogRoutes<Context>(state: state).register(on: router)
        TraceRoutes<Context>(state: state).register(on: router)
        return router
    }

    /// Whether a request's body is worth receiving: within the path's limit, and, for writes that
    /// need credentials, carrying some (whether they are valid is checked later).
    static func admitsBody(_ request: HTTPRequest, maximumNARSize: UInt64) -> Bool {
        let path = request.path ?? "/"
        let declared = request.headerFields[.contentLength].flatMap { UInt64($0) } ?? 0
        guard declared <= maximumBodySize(path: path, maximumNARSize: maximumNARSize) else { return false }
        let selfAuthenticating = request.method == .post && path.hasPrefix("/api/v1/traces")
        return selfAuthenticating || request.headerFields[.authorization] != nil
            || request.headerFields[RequestAuthenticator.signatureField] != nil
    }

    /// The largest body a request to `path` may carry (used to answer `Expect: 100-continue`).
    static func maximumBodySize(path: String, maximumNARSize: UInt64) -> UInt64 {
        if path.hasPrefix("/nar/") { return maximumNARSize }
        if path.hasPrefix("/log/") { return UInt64(BodyLimits.buildLog) }
        if path.hasPrefix("/api/v1/traces/query") { return UInt64(BodyLimits.traceQuery) }
        if path.hasPrefix("/api/v1/traces") { return UInt64(BodyLimits.trace) }
        return UInt64(BodyLimits.narInfo)
    }
}
