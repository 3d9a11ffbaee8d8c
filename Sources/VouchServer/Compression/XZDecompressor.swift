import CLzma

/// Streaming `.xz` decoder (liblzma): accepts concatenated streams, as `xz` and Nix write them,
/// and nothing after the last one.
final class XZDecompressor: Decompressor {
    /// Decoder memory limit: enough for any `xz -9e` dictionary.
    static let memoryLimit: UInt64 = 1 << 30
    /// `LZMA_CONCATENATED` (a C macro Swift does not import): decode every concatenated stream.
    static let concatenated: UInt32 = 0x08

    private let file: FileReader
    private let stream: UnsafeMutablePointer<lzma_stream>
    private let input: UnsafeMutableRawBufferPointer
    private var finished = false

    init(file: FileReader) throws(DecompressionError) {
        self.file = file
        stream = .allocate(capacity: 1)
        stream.initialize(to: lzma_stream())
        input = .allocate(byteCount: FileReader.chunkSize, alignment: 16)
        let status = lzma_stream_decoder(stream, Self.memoryLimit, Self.concatenated)
        guard status == LZMA_OK else {
            throw DecompressionError("cannot start the xz decoder (liblzma status \(status.rawValue))")
        }
    }

    deinit {
        lzma_end(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
        input.deallocate()
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(DecompressionError) -> Int {
        guard !finished, buffer.count > 0 else { return 0 }
        stream.pointee.next_out = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        stream.pointee.avail_out = buffer.count
        while stream.pointee.avail_out > 0 {
            if stream.pointee.avail_in == 0 && !file.reachedEnd {
                let count = try file.read(into: input)
                stream.pointee.next_in = UnsafePointer(input.baseAddress!.assumingMemoryBound(to: UInt8.self))
                stream.pointee.avail_in = count
            }
            let action = file.reachedEnd ? LZMA_FINISH : LZMA_RUN
            let status = lzma_code(stream, action)
            switch status {
            case LZMA_OK:
                continue
            case LZMA_STREAM_END:
                finished = true
                return buffer.count - stream.pointee.avail_out
            case LZMA_BUF_ERROR where file.reachedEnd:
                throw DecompressionError("xz data is truncated")
            case LZMA_BUF_ERROR:
                continue
            case LZMA_FORMAT_ERROR:
                throw DecompressionError("not xz data (or garbage after the last xz stream)")
            case LZMA_DATA_ERROR:
                throw DecompressionError("xz data is corrupt")
            case LZMA_MEMLIMIT_ERROR:
                throw DecompressionError("xz stream needs more than \(Self.memoryLimit) bytes of memory to decode")
            default:
                throw DecompressionError("xz decoding failed (liblzma status \(status.rawValue))")
            }
        }
        return buffer.count
    }
}
