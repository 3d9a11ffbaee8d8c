/// Large immutable files (NARs, build logs), addressed by a relative key such as
/// `nar/<nix32>.nar.xz` or `log/<drv basename>`.
///
/// Invariants: a blob becomes visible under its key only once complete and durable
/// (written to a temporary file, synced, renamed, directory synced); readers never see a partial
/// blob; keys are validated (no `..`, no absolute paths, no NUL, only `[A-Za-z0-9+._=-]` segments).
public protocol BlobStore: Sendable {
    /// Starts a new upload. Nothing is visible until ``PendingBlob/commit(as:)``.
    func begin() throws(StoreError) -> any PendingBlob
    /// Absolute path of the stored blob, or nil if absent.
    func path(of key: String) throws(StoreError) -> String?
    /// Size in bytes of the stored blob, or nil if absent.
    func size(of key: String) throws(StoreError) -> UInt64?
}

/// An upload in progress: a temporary file that is removed unless committed.
public protocol PendingBlob: AnyObject, Sendable {
    /// Appends bytes; returns the new total size.
    func write(_ bytes: UnsafeRawBufferPointer) throws(StoreError)
    var size: UInt64 { get }
    /// Path of the temporary file, for re-reading before commit (e.g. to check a NAR hash).
    var temporaryPath: String { get }
    /// Syncs and atomically publishes the blob under `key`. If `key` already exists its content is
    /// kept (blobs are content-addressed by the caller) and the temporary file is discarded.
    func commit(as key: String) throws(StoreError)
    /// Discards the temporary file. Safe to call more than once, and after commit.
    func abort()
}
