import Crypto
import Hummingbird
import NIOCore
import VouchStore

/// Streams a request body into a ``PendingBlob`` while hashing it: memory use is bounded by one
/// write batch whatever the body's size. The caller commits or aborts the returned upload.
struct BlobUpload: Sendable {
    /// Bytes gathered before one write to the temporary file.
    static let batchSize = 1 << 20

    let pending: any PendingBlob
    /// SHA-256 of the whole body.
    let sha256: [UInt8]
    let size: UInt64

    /// - Throws: `413` when the body exceeds `limit` (the temporary file is removed), a storage
    ///   failure, or whatever reading the body throws.
    static func receive(_ request: Request, into blobs: any BlobStore, limit: UInt64, what: String) async throws -> BlobUpload {
        try RequestBodyReader.checkDeclaredLength(request, limit: limit, what: what)
        let pending = try await storageCall { () throws(StoreError) in try blobs.begin() }
        do {
            var hasher = SHA256()
            var total: UInt64 = 0
            var batch = [UInt8]()
            batch.reserveCapacity(batchSize)
            for try await buffer in request.body {
                total += UInt64(buffer.readableBytes)
                guard total <= limit else { throw ServerError.tooLarge(what, limit: limit) }
                buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                batch.append(contentsOf: buffer.readableBytesView)
                if batch.count >= batchSize {
                    try await write(batch, to: pending)
                    batch.removeAll(keepingCapacity: true)
                }
            }
            if !batch.isEmpty { try await write(batch, to: pending) }
            return BlobUpload(pending: pending, sha256: Array(hasher.finalize()), size: total)
        } catch {
            pending.abort()
            throw error
        }
    }

    private static func write(_ bytes: [UInt8], to pending: any PendingBlob) async throws {
        try await storageCall { () throws(StoreError) in
            var failure: StoreError?
            bytes.withUnsafeBytes { raw in
                do throws(StoreError) { try pending.write(raw) } catch { failure = error }
            }
            if let failure { throw failure }
        }
    }

    /// Publishes the upload under `key` (durably) and reports whether the key already existed.
    func commit(as key: String, blobs: any BlobStore) async throws -> Bool {
        let pending = self.pending
        return try await Self.storageCall { () throws(StoreError) -> Bool in
            let existed = try blobs.size(of: key) != nil
            try pending.commit(as: key)
            return existed
        }
    }

    func abort() { pending.abort() }

    /// Runs a blocking blob-store call on the thread pool, mapping its failure to a response.
    static func storageCall<T: Sendable>(_ body: @escaping @Sendable () throws(StoreError) -> T) async throws -> T {
        do {
            return try await BlockingWork.run { try body() }
        } catch let error as StoreError {
            throw ServerError.storage(error)
        }
    }
}
