#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// ``BlobStore`` on a local directory: blob `<key>` is the file `<root>/<key>`; uploads in progress
/// live in `<root>/tmp/` (same file system, so publishing is a link or rename).
///
/// Every method makes blocking system calls (`fsync` in ``PendingBlob/commit(as:)`` can take
/// milliseconds): call them from a thread pool (e.g. `NIOThreadPool.singleton.runIfActive`), not
/// directly from an async task. Keys follow the rules of ``validateKey(_:)``.
public final class FileBlobStore: BlobStore {
    /// The blob root directory.
    public let root: String
    /// Where pending uploads are written.
    public var temporaryDirectory: String { "\(root)/\(BlobKey.temporaryDirectory)" }

    /// Opens the blob directory `root`, creating it and its `tmp/` subdirectory if missing, and
    /// removes temporary files not modified for `staleTemporaryAge` seconds (left by a crash; an
    /// upload in progress keeps its file fresh, so another process's live upload is left alone).
    /// Pass nil to keep every temporary file.
    public init(root: String, staleTemporaryAge: Int64? = FileBlobStore.defaultStaleTemporaryAge) throws(StoreError) {
        self.root = root
        try FileSystem.makeDirectories(root)
        if try FileSystem.makeDirectory(temporaryDirectory) { try FileSystem.syncDirectory(root) }
        if let staleTemporaryAge { try removeStaleTemporaryFiles(olderThan: staleTemporaryAge) }
    }

    /// One hour.
    public static let defaultStaleTemporaryAge: Int64 = 3600

    /// Throws ``StoreError/invalidKey(_:reason:)`` unless `key` is a valid blob key: one or two
    /// `/`-separated segments of `[A-Za-z0-9+._=-]` (1…255 bytes each, not `.` or `..`), at most
    /// 512 bytes, not under `tmp/`.
    public static func validateKey(_ key: String) throws(StoreError) {
        _ = try BlobKey.segments(of: key)
    }

    public func begin() throws(StoreError) -> any PendingBlob {
        try FilePendingBlob(store: self)
    }

    /// Absolute path of the blob if it is stored (as a regular file).
    public func path(of key: String) throws(StoreError) -> String? {
        let path = try location(of: key)
        return try FileSystem.fileStatus(path) == nil ? nil : path
    }

    public func size(of key: String) throws(StoreError) -> UInt64? {
        try FileSystem.fileStatus(try location(of: key))?.size
    }

    /// Removes files in the temporary directory last modified at least `seconds` ago (0: all of
    /// them). Returns how many were removed.
    @discardableResult
    public func removeStaleTemporaryFiles(olderThan seconds: Int64) throws(StoreError) -> Int {
        let cutoff = Int64(time(nil)) - seconds
        var removed = 0
        for name in try FileSystem.entries(of: temporaryDirectory) {
            let path = "\(temporaryDirectory)/\(name)"
            guard let status = try FileSystem.fileStatus(path), seconds == 0 || status.modified <= cutoff else { continue }
            try FileSystem.removeFile(path)
            removed += 1
        }
        return removed
    }

    /// The file path of a validated key.
    func location(of key: String) throws(StoreError) -> String {
        _ = try BlobKey.segments(of: key)
        return "\(root)/\(key)"
    }

    /// Publishes the synced, closed file `temporary` under `key`: creates the key's directory if
    /// needed (syncing the root), links the file into place unless the key exists (then the existing
    /// file is kept), removes `temporary` and syncs the key's directory.
    func publish(_ temporary: String, as key: String) throws(StoreError) {
        let segments = try BlobKey.segments(of: key)
        let destination = "\(root)/\(key)"
        var directory = root
        if segments.count == 2 {
            directory = "\(root)/\(segments[0])"
            if try FileSystem.makeDirectory(directory) { try FileSystem.syncDirectory(root) }
        }
        if link(temporary, destination) != 0 {
            let error = errno
            switch error {
            case EEXIST:
                guard FileSystem.kind(of: destination) == .file else {
                    throw .invalidKey(key, reason: "\(destination) exists and is not a regular file")
                }
            case EPERM, EOPNOTSUPP, ENOSYS, EMLINK:
                // File systems without hard links: rename, still never replacing a stored blob.
                if FileSystem.kind(of: destination) == .missing {
                    try FileSystem.retrying(destination, "rename") { rename(temporary, destination) }
                }
            default:
                throw .io(path: destination, operation: "link \(temporary) to", errno: error)
            }
        }
        try FileSystem.removeFile(temporary)
        try FileSystem.syncDirectory(directory)
    }
}
