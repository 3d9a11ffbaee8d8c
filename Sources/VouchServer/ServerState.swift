import Logging
import NixFormats
import VouchStore

/// What every route needs, built once from a ``ServerConfiguration``.
struct ServerState: Sendable {
    let storage: any CacheStorage
    let blobs: any BlobStore
    let signingKey: NixSecretKey?
    let maximumNARSize: UInt64
    let logger: Logger
    let clock: @Sendable () -> Int64
    let narInfoCache: NARInfoCache
    let authenticator: RequestAuthenticator
    let validator: NARUploadValidator
    let privateReads: Bool

    init(_ configuration: ServerConfiguration) {
        storage = configuration.storage
        blobs = configuration.blobs
        signingKey = configuration.signingKey
        maximumNARSize = configuration.maximumNARSize
        logger = configuration.logger
        clock = configuration.clock
        privateReads = configuration.privateReads
        narInfoCache = NARInfoCache(capacity: configuration.narInfoCacheCapacity, signingKey: configuration.signingKey)
        authenticator = RequestAuthenticator(storage: configuration.storage, clock: configuration.clock)
        validator = NARUploadValidator(blobs: configuration.blobs)
    }

    /// Runs a metadata call, mapping its failure to a response.
    func store<T>(_ body: (any CacheStorage) async throws(StoreError) -> T) async throws(ServerError) -> T {
        do { return try await body(storage) } catch { throw ServerError.storage(error) }
    }

    /// Logs an accepted write.
    func logWrite(_ what: String, _ outcome: WriteOutcome, by credential: RequestAuthenticator.Credential?) {
        let by = credential.map { " by \($0.description)" } ?? ""
        switch outcome {
        case .created: logger.info("stored \(what)\(by)")
        case .merged(let added): logger.info("merged \(added) signature(s) into \(what)\(by)")
        case .unchanged: logger.debug("\(what) re-uploaded unchanged\(by)")
        }
    }
}
