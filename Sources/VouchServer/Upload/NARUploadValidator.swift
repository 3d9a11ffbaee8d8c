import NixFormats
import VouchStore

/// Checks an uploaded narinfo against the NAR it names, before anything is stored:
/// the hash part matches the URL it was sent to; `URL` names an uploaded NAR whose compression
/// the server takes; `FileHash`/`FileSize` describe that file; and its decompressed content is a
/// valid NAR (every rule of `NARGrammar`) with exactly the declared `NarHash` and `NarSize`.
struct NARUploadValidator: Sendable {
    let blobs: any BlobStore

    /// - Parameters:
    ///   - info: the parsed narinfo.
    ///   - hashPart: the hash part of the URL it was sent to.
    ///   - alreadyValidated: a stored narinfo for the same path; when it names the same file and
    ///     NAR hash and size, the NAR was checked when it was stored and is not decompressed again.
    /// - Throws: ``ServerError`` (`400` or `415`) saying which check failed.
    func validate(_ info: NARInfo, sentTo hashPart: String, alreadyValidated stored: NARInfo?) async throws {
        let what = "narinfo \(info.storePath)"
        guard info.storePath.hashPart == hashPart else {
            throw ServerError.badRequest("\(what): StorePath does not match the URL's hash part \(hashPart)")
        }
        let compression = try NARCompression(narInfoField: info.compression)
        let file = try NARFileName(url: info.url)
        guard file.compression == compression else {
            throw ServerError.badRequest("\(what): URL \(info.url) does not end in \(compression.fileExtension) as Compression: \(compression.rawValue) requires")
        }
        guard let fileHash = info.fileHash else { throw ServerError.badRequest("\(what): FileHash is required") }
        guard let fileSize = info.fileSize else { throw ServerError.badRequest("\(what): FileSize is required") }
        guard fileHash.algorithm == .sha256, fileHash.bytes == file.fileHash else {
            throw ServerError.badRequest("\(what): FileHash \(fileHash.encoded(.nix32)) does not match the file named by URL \(info.url)")
        }
        let blobs = self.blobs
        let key = file.key
        let located: (path: String, size: UInt64)?
        do {
            located = try await BlockingWork.run { () throws(StoreError) -> (path: String, size: UInt64)? in
                guard let path = try blobs.path(of: key), let size = try blobs.size(of: key) else { return nil }
                return (path, size)
            }
        } catch let error as StoreError {
            throw ServerError.storage(error)
        }
        guard let located else { throw ServerError.badRequest("\(what): NAR \(info.url) has not been uploaded") }
        guard located.size == fileSize else {
            throw ServerError.badRequest("\(what): FileSize \(fileSize) does not match the uploaded NAR (\(located.size) bytes)")
        }
        if compression == .none, info.narHash.bytes != file.fileHash || info.narSize != fileSize {
            throw ServerError.badRequest("\(what): with Compression: none, NarHash and NarSize must equal FileHash and FileSize")
        }
        if let stored, stored.url == info.url, stored.narHash == info.narHash, stored.narSize == info.narSize, stored.fileHash == info.fileHash {
            return
        }
        let declaredSize = info.narSize
        let result: Result<(hash: NixHash, size: UInt64), ServerError> = try await BlockingWork.runLong {
            Self.decodeNAR(atPath: located.path, compression: compression, declaredSize: declaredSize, url: info.url)
        }
        let (hash, size) = try result.get()
        guard size == info.narSize else {
            throw ServerError.badRequest("\(what): NarSize \(info.narSize) does not match the uploaded NAR (\(size) bytes)")
        }
        guard hash.bytes == info.narHash.bytes, info.narHash.algorithm == .sha256 else {
            throw ServerError.badRequest("\(what): NarHash \(info.narHash.encoded(.nix32)) does not match the uploaded NAR (\(hash.encoded(.nix32)))")
        }
    }

    /// Decompresses and decodes the stored file, hashing the NAR; stops as soon as the stream is
    /// longer than `declaredSize` (a decompression bomb costs no more than the declared size).
    static func decodeNAR(atPath path: String, compression: NARCompression, declaredSize: UInt64, url: String)
        -> Result<(hash: NixHash, size: UInt64), ServerError> {
        let decompressor: any Decompressor
        do {
            decompressor = try compression.decompressor(readingFile: path)
        } catch {
            return .failure(ServerError.badRequest("NAR \(url): \(error)"))
        }
        var total: UInt64 = 0
        do {
            let result = try NAR.validate { buffer in
                let count = try decompressor.read(into: buffer)
                total += UInt64(count)
                if total > declaredSize { throw DecompressionError("decompresses to more than the declared NarSize \(declaredSize)") }
                return count
            }
            return .success(result)
        } catch let error as DecompressionError {
            return .failure(ServerError.badRequest("NAR \(url): \(error)"))
        } catch {
            return .failure(ServerError.badRequest("NAR \(url) is not a valid NAR: \(error)"))
        }
    }
}
