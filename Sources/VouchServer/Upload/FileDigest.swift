import Crypto
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SHA-256 of a stored file, read in large chunks (blocking).
enum FileDigest {
    static func sha256(ofFileAt path: String) throws -> [UInt8] {
        let reader = try FileReader(path: path)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: FileReader.chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        var hasher = SHA256()
        while true {
            let count = try reader.read(into: buffer)
            if count == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0 ..< count]))
        }
        return Array(hasher.finalize())
    }
}
