#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NixFormats

/// An upload to a ``FileBlobStore``: a new file in its `tmp/` directory, removed unless committed
/// (also when the object is released without ``commit(as:)`` or ``abort()``).
final class FilePendingBlob: PendingBlob {
    let temporaryPath: String
    private let store: FileBlobStore
    private let state: LockedValue<State>

    private struct State {
        /// Open while writable; nil once committed or aborted.
        var descriptor: Int32?
        var size: UInt64 = 0
        /// Whether the temporary file may still exist.
        var temporaryExists = true
    }

    init(store: FileBlobStore) throws(StoreError) {
        self.store = store
        var random = SystemRandomNumberGenerator()
        let suffix = Base16.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &random) })
        temporaryPath = "\(store.temporaryDirectory)/upload-\(suffix)"
        state = LockedValue(State(descriptor: try FileSystem.createExclusive(temporaryPath)))
    }

    deinit { abort() }

    var size: UInt64 { state.withLock { $0.size } }

    func write(_ bytes: UnsafeRawBufferPointer) throws(StoreError) {
        try state.withLock { (state: inout State) throws(StoreError) in
            guard let fd = state.descriptor else { throw .io(path: temporaryPath, operation: "write after commit or abort", errno: EBADF) }
            do throws(StoreError) {
                try FileSystem.writeAll(fd, bytes, path: temporaryPath)
            } catch {
                // A partial write leaves the file in an unknown state: end the upload.
                discard(&state)
                throw error
            }
            state.size += UInt64(bytes.count)
        }
    }

    func commit(as key: String) throws(StoreError) {
        try state.withLock { (state: inout State) throws(StoreError) in
            guard let fd = state.descriptor else { throw .io(path: temporaryPath, operation: "commit after commit or abort", errno: EBADF) }
            do throws(StoreError) {
                _ = try BlobKey.segments(of: key)
                try FileSystem.sync(fd, path: temporaryPath)
                state.descriptor = nil
                try FileSystem.close(fd, path: temporaryPath)
                try store.publish(temporaryPath, as: key)
                state.temporaryExists = false
            } catch {
                discard(&state)
                throw error
            }
        }
    }

    func abort() {
        state.withLock { discard(&$0) }
    }

    private func discard(_ state: inout State) {
        if let fd = state.descriptor { _ = try? FileSystem.close(fd, path: temporaryPath) }
        state.descriptor = nil
        if state.temporaryExists { try? FileSystem.removeFile(temporaryPath) }
        state.temporaryExists = false
    }
}
