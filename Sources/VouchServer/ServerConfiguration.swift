import Logging
import NixFormats
import VouchStore

/// Everything ``VouchServer`` needs to serve one binary cache and trace store.
public struct ServerConfiguration: Sendable {
    /// Address to bind, e.g. `127.0.0.1` or `::`.
    public var host: String
    /// TCP port; 0 picks a free one (see ``VouchServer/makeApplication(_:onListening:)``).
    public var port: Int
    /// Metadata: narinfos, realisations, traces, keys, tokens, conflicts.
    public var storage: any CacheStorage
    /// NARs (`nar/…`) and build logs (`log/…`).
    public var blobs: any BlobStore
    /// When set, every narinfo is served with this key's signature added (computed once per
    /// path and signature set), and build-trace entries carry it.
    public var signingKey: NixSecretKey?
    /// Require credentials for reads as well as writes.
    public var privateReads: Bool
    /// Largest NAR file accepted (compressed size, as uploaded).
    public var maximumNARSize: UInt64
    /// How many served narinfos are kept in memory.
    public var narInfoCacheCapacity: Int
    public var logger: Logger
    /// Seconds since 1970; signed request dates are checked against it.
    public var clock: @Sendable () -> Int64

    /// - Parameters:
    ///   - host: address to bind.
    ///   - port: TCP port, 0 for any free one.
    ///   - storage: metadata store.
    ///   - blobs: NAR and log store.
    ///   - signingKey: optional server key that signs narinfos and build-trace entries as served.
    ///   - privateReads: whether reads need credentials.
    ///   - maximumNARSize: largest NAR upload (``BodyLimits/defaultMaximumNARSize`` by default).
    ///   - logger: where refusals, conflicts and failures are logged.
    public init(host: String = "127.0.0.1", port: Int = 8080, storage: any CacheStorage, blobs: any BlobStore,
                signingKey: NixSecretKey? = nil, privateReads: Bool = false,
                maximumNARSize: UInt64 = BodyLimits.defaultMaximumNARSize, narInfoCacheCapacity: Int = 200_000,
                logger: Logger = Logger(label: "vouch.server"),
                clock: @escaping @Sendable () -> Int64 = { SystemClock.secondsSince1970() }) {
        self.host = host
        self.port = port
        self.storage = storage
        self.blobs = blobs
        self.signingKey = signingKey
        self.privateReads = privateReads
        self.maximumNARSize = maximumNARSize
        self.narInfoCacheCapacity = narInfoCacheCapacity
        self.logger = logger
        self.clock = clock
    }
}

/// Request body limits (docs/http-api.md); larger bodies are answered with `413`.
public enum BodyLimits {
    /// narinfo text.
    public static let narInfo = 1 << 20
    /// Realisation `.doi` JSON.
    public static let realisation = 1 << 20
    /// One DSSE envelope or laut JWS.
    public static let trace = 4 << 20
    /// Bulk trace query body (up to ``maximumQueryPaths`` store paths).
    public static let traceQuery = 16 << 20
    /// A build log.
    public static let buildLog = 64 << 20
    /// Default `--max-nar-size`: 16 GiB.
    public static let defaultMaximumNARSize: UInt64 = 16 << 30
    /// Most store paths one bulk trace query may name.
    public static let maximumQueryPaths = 100_000
}
