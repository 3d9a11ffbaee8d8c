import CZstd

/// Streaming `.zst` decoder (libzstd): accepts one or more complete frames and nothing else.
final class ZstdDecompressor: Decompressor {
    private let file: FileReader
    private let stream: OpaquePointer
    private let input: UnsafeMutableRawBufferPointer
    private var inputBuffer = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
    /// Whether the last decoded frame is complete (libzstd returned 0).
    private var frameComplete = false
    private var finished = false

    init(file: FileReader) throws(DecompressionError) {
        self.file = file
        guard let stream = ZSTD_createDStream() else { throw DecompressionError("cannot start the zstd decoder") }
        self.stream = stream
        input = .allocate(byteCount: FileReader.chunkSize, alignment: 16)
        let status = ZSTD_initDStream(stream)
        guard ZSTD_isError(status) == 0 else {
            throw DecompressionError("cannot start the zstd decoder: \(String(cString: ZSTD_getErrorName(status)))")
        }
    }

    deinit {
        ZSTD_freeDStream(stream)
        input.deallocate()
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(DecompressionError) -> Int {
        guard !finished, buffer.count > 0 else { return 0 }
        var output = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
        while output.pos < output.size {
            if inputBuffer.pos == inputBuffer.size {
                let count = try file.read(into: input)
                if count == 0 {
                    guard frameComplete else { throw DecompressionError("zstd data is truncated") }
                    finished = true
                    return output.pos
                }
                inputBuffer = ZSTD_inBuffer(src: UnsafeRawPointer(input.baseAddress), size: count, pos: 0)
            }
            let hint = ZSTD_decompressStream(stream, &output, &inputBuffer)
            if ZSTD_isError(hint) != 0 {
                throw DecompressionError("zstd data is corrupt: \(String(cString: ZSTD_getErrorName(hint)))")
            }
            frameComplete = hint == 0
        }
        return output.pos
    }
}
