import Foundation
import VouchStore
import XCTest

final class FileBlobStoreTests: StoreTestCase {
    private func upload(_ blobs: FileBlobStore, _ text: String, as key: String) throws {
        let pending = try blobs.begin()
        defer { pending.abort() }
        try Array(text.utf8).withUnsafeBytes { try pending.write($0) }
        try pending.commit(as: key)
    }

    private func temporaryFiles(_ blobs: FileBlobStore) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: blobs.temporaryDirectory)
    }

    func testCommitPublishesTheBlob() throws {
        let blobs = try openStore().blobs
        let pending = try blobs.begin()
        XCTAssertTrue(pending.temporaryPath.hasPrefix(blobs.temporaryDirectory + "/"))
        for chunk in ["hello ", "", "world"] { try Array(chunk.utf8).withUnsafeBytes { try pending.write($0) } }
        XCTAssertEqual(pending.size, 11)
        XCTAssertEqual(try String(contentsOfFile: pending.temporaryPath, encoding: .utf8), "hello world")
        XCTAssertNil(try blobs.path(of: "nar/abc.nar"), "nothing visible before commit")
        try pending.commit(as: "nar/abc.nar")
        let path = try XCTUnwrap(try blobs.path(of: "nar/abc.nar"))
        XCTAssertEqual(path, "\(blobs.root)/nar/abc.nar")
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "hello world")
        XCTAssertEqual(try blobs.size(of: "nar/abc.nar"), 11)
        XCTAssertEqual(try temporaryFiles(blobs), [])
        pending.abort()
        XCTAssertTrue(exists(path), "abort after commit leaves the blob")
        XCTAssertThrowsError(try Array("x".utf8).withUnsafeBytes { try pending.write($0) })
        XCTAssertThrowsError(try pending.commit(as: "nar/again.nar"))
    }

    func testExistingBlobIsKept() throws {
        let blobs = try openStore().blobs
        try upload(blobs, "first", as: "log/x-hello.drv")
        try upload(blobs, "second", as: "log/x-hello.drv")
        XCTAssertEqual(try String(contentsOfFile: "\(blobs.root)/log/x-hello.drv", encoding: .utf8), "first")
        XCTAssertEqual(try temporaryFiles(blobs), [])
    }

    func testLargeBlobWritesCompletely() throws {
        let blobs = try openStore().blobs
        let pending = try blobs.begin()
        let chunk = [UInt8](repeating: 0x5a, count: 1 << 20)
        for _ in 0..<8 { try chunk.withUnsafeBytes { try pending.write($0) } }
        try pending.commit(as: "nar/big.nar")
        XCTAssertEqual(try blobs.size(of: "nar/big.nar"), 8 << 20)
    }

    func testAbortRemovesTheTemporaryFile() throws {
        let blobs = try openStore().blobs
        let pending = try blobs.begin()
        try Array("partial".utf8).withUnsafeBytes { try pending.write($0) }
        XCTAssertTrue(exists(pending.temporaryPath))
        pending.abort()
        pending.abort()
        XCTAssertFalse(exists(pending.temporaryPath))
        XCTAssertEqual(try temporaryFiles(blobs), [])
        XCTAssertThrowsError(try pending.commit(as: "nar/abc.nar"))
        XCTAssertNil(try blobs.path(of: "nar/abc.nar"))
    }

    func testReleasedUploadIsRemoved() throws {
        let blobs = try openStore().blobs
        var path = ""
        do {
            let pending = try blobs.begin()
            path = pending.temporaryPath
            try Array("x".utf8).withUnsafeBytes { try pending.write($0) }
        }
        XCTAssertFalse(exists(path))
    }

    func testInvalidKeysAreRefusedAndTheUploadDiscarded() throws {
        let blobs = try openStore().blobs
        let invalid = ["", "../x", "nar/../../etc", "nar/..", "./nar", "/etc/passwd", "nar//x", "nar/", "a/b/c", "nar/x\u{0}y",
                       "nar/x y", "nar/é", "tmp/upload", "tmp", "nar/\(String(repeating: "a", count: 256))", "nar\\x"]
        for key in invalid {
            assertInvalidKey({ try FileBlobStore.validateKey(key) }, key)
            assertInvalidKey({ try blobs.path(of: key) }, key)
            assertInvalidKey({ try blobs.size(of: key) }, key)
            let pending = try blobs.begin()
            assertInvalidKey({ try pending.commit(as: key) }, key)
            XCTAssertFalse(exists(pending.temporaryPath), key)
        }
        XCTAssertEqual(try temporaryFiles(blobs), [])
        for key in ["nar/0g0h1gn549hcyz7yya3vvqcckzs4npl7sy8c6g5qi324ayqnik3d.nar.xz", "log/kmav1s565iwpx98vl7zdnpf0q6wzg273-consumer.drv",
                    "nix-cache-info", "a+b=c_d-e.f"] {
            XCTAssertNoThrow(try FileBlobStore.validateKey(key), key)
        }
    }

    func testKeyNamingADirectoryIsNotABlob() throws {
        let blobs = try openStore().blobs
        try upload(blobs, "x", as: "nar/a.nar")
        XCTAssertNil(try blobs.path(of: "nar"))
        let pending = try blobs.begin()
        XCTAssertThrowsError(try pending.commit(as: "nar"))
        XCTAssertFalse(exists(pending.temporaryPath))
    }

    func testStaleTemporaryFilesAreRemovedAtOpen() throws {
        let blobs = try openStore().blobs
        let stale = try blobs.begin()
        try Array("left by a crash".utf8).withUnsafeBytes { try stale.write($0) }
        let fresh = try blobs.begin()
        let stalePath = stale.temporaryPath, freshPath = fresh.temporaryPath
        // Age one file past the threshold; leak both uploads as a crashed process would.
        var times = [timeval(tv_sec: 1_000_000, tv_usec: 0), timeval(tv_sec: 1_000_000, tv_usec: 0)]
        XCTAssertEqual(utimes(stalePath, &times), 0)
        _ = Unmanaged.passRetained(stale as AnyObject)
        _ = Unmanaged.passRetained(fresh as AnyObject)

        _ = try openStore()
        XCTAssertFalse(exists(stalePath), "an old temporary file is removed")
        XCTAssertTrue(exists(freshPath), "a live upload of another process is left alone")
        _ = try openStore(staleTemporaryAge: 0)
        XCTAssertFalse(exists(freshPath))
    }
}
