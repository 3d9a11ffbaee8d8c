#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A pull-based stream decompressor over a file: each ``read(into:)`` fills the buffer with the
/// next decompressed bytes. Blocking; run it on a thread pool.
protocol Decompressor: AnyObject {
    /// Writes up to `buffer.count` decompressed bytes into `buffer`.
    /// - Returns: how many were written; 0 only at the end of a complete stream.
    /// - Throws: ``DecompressionError`` for corrupt or truncated input, or a read failure.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(DecompressionError) -> Int
}

/// Why a compressed NAR could not be decompressed.
struct DecompressionError: Error, Sendable, Hashable, CustomStringConvertible {
    let reason: String
    init(_ reason: String) { self.reason = reason }
    var description: String { reason }
}

/// Reads a file in large chunks; closes it on deinit.
final class FileReader {
    static let chunkSize = 1 << 20
    let path: String
    private let fd: Int32
    private(set) var reachedEnd = false

    init(path: String) throws(DecompressionError) {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DecompressionError("cannot open the stored NAR: \(String(cString: strerror(errno)))") }
    }

    deinit { close(fd) }

    /// Reads up to `buffer.count` bytes; 0 at the end of the file.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(DecompressionError) -> Int {
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 {
                if count == 0 { reachedEnd = true }
                return count
            }
            if errno != EINTR { throw DecompressionError("cannot read the stored NAR: \(String(cString: strerror(errno)))") }
        }
    }
}

/// `Compression: none`: the file is the NAR.
final class PassThroughDecompressor: Decompressor {
    private let file: FileReader
    init(file: FileReader) { self.file = file }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(DecompressionError) -> Int {
        try file.read(into: buffer)
    }
}
