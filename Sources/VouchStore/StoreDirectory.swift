import NIOPosix

/// The default storage of a `vouch serve --data DIR` directory: `DIR/vouch.sqlite` (metadata) and
/// `DIR/blobs/` (NARs and logs; `DIR/blobs/tmp/` for uploads in progress).
public struct StoreDirectory: Sendable {
    public static let databaseName = "vouch.sqlite"
    public static let blobDirectoryName = "blobs"

    public let path: String
    public let metadata: SQLiteCacheStore
    public let blobs: FileBlobStore

    /// Opens the storage in `path`, creating the directory (and missing parents), the database and
    /// the blob directories as needed, migrating the schema, and removing temporary upload files
    /// older than `staleTemporaryAge` seconds. Blocks the calling thread; call it at start-up.
    public static func open(path: String, threadPool: NIOThreadPool = .singleton,
                            staleTemporaryAge: Int64? = FileBlobStore.defaultStaleTemporaryAge) throws(StoreError) -> StoreDirectory {
        try FileSystem.makeDirectories(path, mode: 0o750)
        let blobs = try FileBlobStore(root: "\(path)/\(blobDirectoryName)", staleTemporaryAge: staleTemporaryAge)
        let metadata = try SQLiteCacheStore(path: "\(path)/\(databaseName)", threadPool: threadPool)
        // Make the new database and WAL entries durable (SQLite syncs file contents, not always the directory).
        try FileSystem.syncDirectory(path)
        return StoreDirectory(path: path, metadata: metadata, blobs: blobs)
    }

    /// Closes the database connections (see ``SQLiteCacheStore/close()``).
    public func close() {
        metadata.close()
    }
}
