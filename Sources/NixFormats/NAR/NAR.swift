/// Entry points for NAR (Nix ARchive) serialisation: dump a file system tree, hash it, validate
/// a NAR stream and restore one to disk. The format and its rules are described in
/// ``NARGrammar``; the streaming decoder behind validation and restore is ``NARDecoder``.
public enum NAR {
    /// Size of the buffer the readers fill from their `read` closure.
    static var readBufferSize: Int { 1 << 20 }

    /// Reads `read` to its end, feeding every byte to `decoder` and `visitor`.
    /// - Returns: the SHA-256 of all bytes read (the NAR, since trailing bytes are an error) and
    ///   their count.
    static func decode<Visitor: NARVisitor>(
        reading read: (UnsafeMutableRawBufferPointer) throws -> Int,
        into visitor: inout Visitor
    ) throws -> (hash: NixHash, size: UInt64) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: readBufferSize, alignment: 64)
        defer { buffer.deallocate() }
        var decoder = NARDecoder()
        var hasher = NARSHA256()
        while true {
            let count = try read(buffer)
            precondition(count >= 0 && count <= buffer.count, "NAR read closure returned \(count) for a \(buffer.count)-byte buffer")
            if count == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0 ..< count])
            hasher.update(chunk)
            try decoder.decode(chunk, into: &visitor)
        }
        try decoder.finish()
        return (hasher.finalize(), decoder.offset)
    }
}

/// A visitor that ignores every event: the decoder's own checks are the validation.
struct NARNullVisitor: NARVisitor {}

extension NAR {
    /// Validates a NAR stream strictly (every rule in ``NARGrammar``) and hashes it, without
    /// writing anything.
    /// - Parameter read: fills the buffer it is given with the next bytes of the stream and
    ///   returns how many it wrote; 0 means the end of the stream.
    /// - Returns: the SHA-256 NarHash and the NarSize (bytes in the stream).
    /// - Throws: ``NARError`` for the first broken rule, or whatever `read` throws.
    public static func validate(reading read: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> (hash: NixHash, size: UInt64) {
        var visitor = NARNullVisitor()
        return try decode(reading: read, into: &visitor)
    }

    /// Validates an in-memory NAR; see ``validate(reading:)``.
    /// - Parameter bytes: the whole NAR.
    /// - Returns: the SHA-256 NarHash and the NarSize.
    /// - Throws: ``NARError`` for the first broken rule.
    public static func validate(bytes: [UInt8]) throws -> (hash: NixHash, size: UInt64) {
        var position = 0
        return try validate { buffer in
            let count = min(buffer.count, bytes.count - position)
            bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[position ..< position + count])) }
            position += count
            return count
        }
    }
}
