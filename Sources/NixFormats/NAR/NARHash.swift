import Crypto

/// SHA-256 used directly (not through ``NixHasher``'s enum) on the hot path.
struct NARSHA256 {
    private var digest = SHA256()

    @inline(__always)
    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        digest.update(bufferPointer: bytes)
    }

    func finalize() -> NixHash {
        NixHash(uncheckedAlgorithm: .sha256, bytes: Array(digest.finalize()))
    }
}

/// Hashes each full dump buffer on the calling thread.
struct NARHashOutput: NARDumpOutput {
    let storage: UnsafeMutableRawBufferPointer
    var hasher = NARSHA256()

    init(storage: UnsafeMutableRawBufferPointer) { self.storage = storage }

    func firstBuffer() -> UnsafeMutableRawBufferPointer { storage }

    mutating func consume(_ buffer: UnsafeMutableRawBufferPointer, count: Int) throws -> UnsafeMutableRawBufferPointer {
        hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0 ..< count]))
        return buffer
    }
}

extension NAR {
    /// The NarHash (SHA-256 of the NAR) and NarSize of the file system object at `path`,
    /// computed without materialising the NAR.
    /// - Parameter path: the file, symlink or directory to hash; symlinks are not followed.
    /// - Returns: the SHA-256 hash and the NAR's length in bytes.
    /// - Throws: ``NARFileSystemError`` naming the path that could not be read.
    public static func hash(path: String) throws -> (hash: NixHash, size: UInt64) {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: dumpBufferSize, alignment: 64)
        defer { storage.deallocate() }
        let (output, size) = try NARDumper(output: NARHashOutput(storage: storage), rootPath: path).run()
        return (output.hasher.finalize(), size)
    }
}
