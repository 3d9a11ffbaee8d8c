import Crypto
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NixFormats
import VouchServer
import VouchStore
import XCTest

final class BinaryCacheTests: XCTestCase {
    func testCacheInfo() async throws {
        let f = try await ServerFixture()
        defer { f.cleanUp() }
        try await f.app().test(.router) { client in
            try await client.execute(uri: "/nix-cache-info", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(response.headers[.contentType], "text/x-nix-cache-info")
                XCTAssertEqual(String(buffer: response.body), "StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n")
            }
        }
    }

    func testNARInfoAndNARRoundTripForEachCompression() async throws {
        let f = try await ServerFixture()
        defer { f.cleanUp() }
        for compression in [ServerFixture.Compression.none, .xz, .zstd] {
            let upload = try f.makeUpload("hello-\(compression.rawValue)", compression: compression)
            try await f.app().test(.router) { client in
                try await client.execute(uri: upload.infoURI, method: .get) { XCTAssertEqual($0.status, .notFound) }
                try await f.upload(upload, client)
                try await client.execute(uri: upload.infoURI, method: .get) { response in
                    XCTAssertEqual(response.status, .ok)
                    XCTAssertEqual(response.headers[.contentType], "text/x-nix-narinfo")
                    XCTAssertEqual(String(buffer: response.body), upload.info.text)
                }
                try await client.execute(uri: upload.infoURI, method: .head) { XCTAssertEqual($0.status, .ok) }
                try await client.execute(uri: upload.narURI, method: .get) { response in
                    XCTAssertEqual(response.status, .ok)
                    XCTAssertEqual(Array(buffer: response.body), upload.file)
                }
                try await client.execute(uri: upload.narURI, method: .head) { response in
                    XCTAssertEqual(response.status, .ok)
                    XCTAssertEqual(response.headers[.contentLength], String(upload.file.count))
                }
                // Identical re-uploads are accepted and change nothing.
                try await client.execute(uri: upload.narURI, method: .put, headers: f.bearer, body: ByteBuffer(bytes: upload.file)) {
                    XCTAssertEqual($0.status, .ok)
                }
                try await client.execute(uri: upload.infoURI, method: .put, headers: f.bearer, body: ByteBuffer(string: upload.info.text)) {
                    XCTAssertEqual($0.status, .ok)
                }
            }
        }
    }

    func testNewSignaturesAreMergedAndTheServerKeyIsAdded() async throws {
        let f = try await ServerFixture()
        defer { f.cleanUp() }
        let builder = try NixSecretKey(generatingNamed: "builder-1")
        let other = try NixSecretKey(generatingNamed: "builder-2")
        let server = try NixSecretKey(generatingNamed: "cache-1")
        var first = try f.makeUpload("merge")
        first.info.sign(with: builder)
        var second = first.info
        second.signatures = []
        second.sign(with: other)
        try await f.app(signingKey: server).test(.router) { [first, second] client in
            try await f.upload(first, client)
            try await client.execute(uri: first.infoURI, method: .put, headers: f.bearer, body: ByteBuffer(string: second.text)) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertTrue(String(buffer: response.body).contains("merged 1"))
            }
            try await client.execute(uri: first.infoURI, method: .get) { response in
                let served = try NARInfo(parsing: String(buffer: response.body))
                XCTAssertEqual(Set(served.signatures.map(\.keyName)), ["builder-1", "builder-2", "cache-1"])
                let statuses = served.checkSignatures(trusting: [builder.publicKey, other.publicKey, server.publicKey])
                XCTAssertTrue(statuses.allSatisfy { if case .valid = $0 { true } else { false } })
            }
        }
        // The server's signature is added when served, never stored.
        let stored = try await f.store.metadata.narInfo(hashPart: first.info.storePath.hashPart)
        XCTAssertEqual(Set(stored?.signatures.map(\.keyName) ?? []), ["builder-1", "builder-2"])
    }

    func testConflictingNARInfoIsRefusedAndTheOriginalKept() async throws {
        let f = try await ServerFixture()
        defer { f.cleanUp() }
        let original = try f.makeUpload("conflict")
        let other = try f.makeUpload("conflict-other")
        var conflicting = other.info
        conflicting.storePath = original.info.storePath
        try await f.app().test(.router) { [conflicting] client in
            try await f.upload(original, client)
            try await client.execute(uri: other.narURI, method: .put, headers: f.bearer, body: ByteBuffer(bytes: other.file)) {
                XCTAssertEqual($0.status, .created)
            }
            try await client.execute(uri: original.infoURI, method: .put, headers: f.bearer, body: ByteBuffer(string: conflicting.text)) {
                f.assertRefusal($0, .conflict, containing: original.info.storePath.hashPart)
            }
            try await client.execute(uri: original.infoURI, method: .get) {
                XCTAssertEqual(String(buffer: $0.body), original.info.text)
            }
        }
        let conflicts = try await f.store.metadata.conflicts(limit: 10)
        XCTAssertEqual(conflicts.map(\.kind), ["narinfo"])
    }

    func testNARWhoseHashDoesNotMatchItsNameIsRefusedAndNotStored() async throws {
        let f = try await ServerFixture()
        defer { f.cleanUp() }
        let upload = try f.makeUpload("wrong-hash")
        var tampered = upload.file
        tampered[tampered.count / 2] ^= 1
        try await f.app().test(.router) { [tampered] client in
            try await client.execute(uri: upload.narURI, method: .put, headers: f.bearer, body: ByteBuffer(bytes: tampered)) {
                f.assertRefusal($0, .badRequest, containing: "SHA-256")
            }
            try await client.execute(uri: upload.narURI, method: .get) { XCTAssertEqual($0.status, .notFound) }
        }
        XCTAssertFalse(try f.blobExists("nar/\(upload.fileName)"))
        XCTAssertEqual(try FileManagerless.entries(of: "\(f.directory)/blobs/tmp"), [])
    }

    func testNARInfoMustMatchTheUploadedNAR() async throws {
        let f = try await ServerFixture()
        defer { f.cleanUp() }
        let upload = try f.makeUpload("mismatch")
        var badHash = upload.info
        badHash.narHash = NixHash(uncheckedSHA256: Array(SHA256.hash(data: Array("other".utf8))))
        var badSize = upload.info
        badSize.narSize += 8
        var badFileSize = upload.info
        badFileSize.fileSize! += 1
        var missingNAR = upload.info
        missingNAR.url = "nar/\(NixBase32.encode(Array(SHA256.hash(data: [1])))).nar.xz"
        missingNAR.fileHash = try NixHash(parsing: "sha256:" + NixBase32.encode(Array(SHA256.hash(data: [1]))))
        var bzip2 = upload.info
        bzip2.compression = "bzip2"
        var wrongPath = upload.info
        wrongPath.storePath = ServerFixture.path("somewhere-else")
        try await f.app().test(.router) { [badHash, badSize, badFileSize, missingNAR, bzip2, wrongPath] client in
            try await client.execute(uri: upload.narURI, method: .put, headers: f.bearer, body: ByteBuffer(bytes: upload.file)) {
                XCTAssertEqual($0.status, .created)
            }
            let cases: [(NARInfo, HTTPResponse.Status, String)] = [
                (badHash, .badRequest, "NarHash"), (badSize, .badRequest, "NarSize"), (badFileSize, .badRequest, "FileSize"),
                (missingNAR, .badRequest, "has not been uploaded"), (bzip2, .unsupportedMediaType, "bzip2"),
                (wrongPath, .badRequest, "hash part"),
            ]
            for (info, status, fragment) in cases {
                try await client.execute(uri: upload.infoURI, method: .put, headers: f.bearer, body: ByteBuffer(string: info.text)) {
                    f.assertRefusal($0, status, containing: fragment)
                }
            }
            try await client.execute(uri: upload.infoURI, method: .put, headers: f.bearer, body: ByteBuffer(string: "StorePath: x\n")) {
                f.assertRefusal($0, .badRequest, containing: "narinfo")
            }
            try await client.execute(uri: upload.infoURI, method: .get) { XCTAssertEqual($0.status, .notFound) }
        }
        let count = try await f.store.metadata.narInfoCount()
        XCTAssertEqual(count, 0)
    }

    func testCorruptCompressedNARIsRefused() async throws {
        let f = try await ServerFixture()
        defer { f.cleanUp() }
        let nar = try f.makeNAR("corrupt")
        var file = f.compress(nar, .xz)
        file[file.count - 20] ^= 0xff
        var upload = try f.makeUpload("corrupt-2")
        let fileHash = NixHash(uncheckedSHA256: Array(SHA256.hash(data: file)))
        upload.file = file
        upload.fileName = "\(fileHash.nix32).nar.xz"
        upload.info.url = "nar/\(upload.fileName)"
        upload.info.fileHash = fileHash
        upload.info.fileSize = UInt64(file.count)
        // Not a NAR at all, stored uncompressed.
        let garbage = Array("this is not a NAR archive".utf8)
        let garbageHash = NixHash(uncheckedSHA256: Array(SHA256.hash(data: garbage)))
        let garbageInfo = NARInfo(storePath: ServerFixture.path("garbage"), url: "nar/\(garbageHash.nix32).nar", compression: "none",
                                  fileHash: garbageHash, fileSize: UInt64(garbage.count), narHash: garbageHash,
                                  narSize: UInt64(garbage.count), references: [])
        try await f.app().test(.router) { [file, upload] client in
            try await client.execute(uri: upload.narURI, method: .put, headers: f.bearer, body: ByteBuffer(bytes: file)) {
                XCTAssertEqual($0.status, .created)
            }
            try await client.execute(uri: upload.infoURI, method: .put, headers: f.bearer, body: ByteBuffer(string: upload.info.text)) {
                f.assertRefusal($0, .badRequest, containing: "xz")
            }
            try await client.execute(uri: "/\(garbageInfo.url)", method: .put, headers: f.bearer, body: ByteBuffer(bytes: garbage)) {
                XCTAssertEqual($0.status, .created)
            }
            try await client.execute(uri: "/\(garbageInfo.storePath.hashPart).narinfo", method: .put, headers: f.bearer,
                                     body: ByteBuffer(string: garbageInfo.text)) {
                f.assertRefusal($0, .badRequest, containing: "not a valid NAR")
            }
        }
    }

    func testOversizeBodiesAreRefusedWithoutStoring() async throws {
        let f = try await ServerFixture()
        defer { f.cleanUp() }
        let upload = try f.makeUpload("big")
        try await f.app(maximumNARSize: UInt64(upload.file.count - 1)).test(.router) { client in
            try await client.execute(uri: upload.narURI, method: .put, headers: f.bearer, body: ByteBuffer(bytes: upload.file)) {
                f.assertRefusal($0, .contentTooLarge, containing: "limit")
            }
            let hugeInfo = String(repeating: "X-Padding: 0123456789\n", count: 60_000)
            try await client.execute(uri: upload.infoURI, method: .put, headers: f.bearer, body: ByteBuffer(string: hugeInfo)) {
                f.assertRefusal($0, .contentTooLarge, containing: "narinfo")
            }
        }
        XCTAssertFalse(try f.blobExists("nar/\(upload.fileName)"))
        XCTAssertEqual(try FileManagerless.entries(of: "\(f.directory)/blobs/tmp"), [])
    }

    func testTraversalAndMalformedNamesAreRefused() async throws {
        let f = try await ServerFixture()
        defer { f.cleanUp() }
        try await f.app().test(.router) { client in
            for uri in ["/nar/../vouch.sqlite", "/nar/%2e%2e/vouch.sqlite", "/log/..%2fvouch.sqlite", "/nar/x%2fy.nar", "/./nix-cache-info",
                        "/nar/notahash.nar", "/log/..", "/nar//x", "/nix-cache-info/.."] {
                try await client.execute(uri: uri, method: .get) { f.assertRefusal($0, .badRequest) }
            }
            try await client.execute(uri: "/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee.narinfo", method: .get) {
                f.assertRefusal($0, .badRequest, containing: "hash part")
            }
            try await client.execute(uri: "/nar/\(String(repeating: "0", count: 52)).nar.bz2", method: .put, headers: f.bearer,
                                     body: ByteBuffer(string: "x")) {
                f.assertRefusal($0, .unsupportedMediaType, containing: "bz2")
            }
            try await client.execute(uri: "/no/such/route", method: .get) { f.assertRefusal($0, .notFound) }
        }
    }

    func testBuildLogsAreStoredAsSentAndNeverReplaced() async throws {
        let f = try await ServerFixture()
        defer { f.cleanUp() }
        let drv = ServerFixture.path("hello", suffix: ".drv").baseName
        try await f.app().test(.router) { client in
            try await client.execute(uri: "/log/\(drv)", method: .get) { XCTAssertEqual($0.status, .notFound) }
            try await client.execute(uri: "/log/\(drv)", method: .put, body: ByteBuffer(string: "building\n")) {
                f.assertRefusal($0, .unauthorized)
            }
            try await client.execute(uri: "/log/\(drv)", method: .put, headers: f.bearer, body: ByteBuffer(string: "building\n")) {
                XCTAssertEqual($0.status, .created)
            }
            try await client.execute(uri: "/log/\(drv)", method: .put, headers: f.bearer, body: ByteBuffer(string: "building\n")) {
                XCTAssertEqual($0.status, .ok)
            }
            try await client.execute(uri: "/log/\(drv)", method: .put, headers: f.bearer, body: ByteBuffer(string: "other\n")) {
                f.assertRefusal($0, .conflict)
            }
            try await client.execute(uri: "/log/\(drv)", method: .get) { XCTAssertEqual(String(buffer: $0.body), "building\n") }
            try await client.execute(uri: "/log/not-a-drv", method: .get) { f.assertRefusal($0, .badRequest) }
        }
    }

    /// Through a real socket and the HTTP/1.1 pipeline (with the 100-continue handler).
    func testLiveUploadAndDownload() async throws {
        let f = try await ServerFixture()
        defer { f.cleanUp() }
        let upload = try f.makeUpload("live", compression: .zstd)
        try await f.app().test(.live) { client in
            try await f.upload(upload, client)
            try await client.execute(uri: upload.narURI, method: .get) { XCTAssertEqual(Array(buffer: $0.body), upload.file) }
            try await client.execute(uri: upload.infoURI, method: .get) { XCTAssertEqual(String(buffer: $0.body), upload.info.text) }
        }
    }
}

