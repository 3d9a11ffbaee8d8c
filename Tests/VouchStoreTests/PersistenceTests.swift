import Foundation
import NixFormats
@testable import VouchStore
import XCTest

final class PersistenceTests: StoreTestCase {
    /// Writes one of each kind of item; returns what was written.
    private func populate(_ store: SQLiteCacheStore) async throws -> (NARInfo, Realisation, StoredTrace, NixPublicKey, AccessToken) {
        let info = Vectors.narInfo(Vectors.contentAddressedXZ)
        let realisation = try Realisation(parsing: Array(Vectors.realisation.utf8))
        let key = Fixture.key("builder-1")
        let trace = Fixture.trace("persist", key: key)
        let token = AccessToken(name: "ci", secretDigest: HashAlgorithm.sha256.digest(Array("s".utf8)).bytes, createdAt: 7)
        _ = try await store.putNARInfo(info)
        _ = try await store.putRealisation(realisation)
        _ = try await store.putTrace(trace)
        _ = try await store.addKey(key.publicKey)
        try await store.addToken(token)
        var conflicting = info
        conflicting.narSize += 1
        _ = try? await store.putNARInfo(conflicting)
        return (info, realisation, trace, key.publicKey, token)
    }

    private func assertContains(_ store: SQLiteCacheStore, _ items: (NARInfo, Realisation, StoredTrace, NixPublicKey, AccessToken),
                                file: StaticString = #filePath, line: UInt = #line) async throws {
        let (info, realisation, trace, key, token) = items
        let loadedInfo = try await store.narInfo(hashPart: info.storePath.hashPart)
        XCTAssertEqual(loadedInfo?.text, info.text, file: file, line: line)
        let loadedRealisation = try await store.realisation(id: realisation.id)
        XCTAssertEqual(loadedRealisation?.json, realisation.json, file: file, line: line)
        let traces = try await store.traces(matching: .signer(key.name))
        XCTAssertEqual(traces, [trace], file: file, line: line)
        let keys = try await store.keys()
        XCTAssertEqual(keys, [key], file: file, line: line)
        let loadedToken = try await store.token(secretDigest: token.secretDigest)
        XCTAssertEqual(loadedToken, token, file: file, line: line)
        let conflicts = try await store.conflicts(limit: 10)
        XCTAssertEqual(conflicts.count, 1, file: file, line: line)
    }

    func testOpenCreatesTheLayout() throws {
        let data = try openStore("nested/data")
        XCTAssertTrue(exists("\(directory)/nested/data/vouch.sqlite"))
        XCTAssertTrue(exists("\(directory)/nested/data/blobs/tmp"))
        XCTAssertEqual(data.blobs.root, "\(directory)/nested/data/blobs")
        let journal = try SQLiteConnection(path: "\(directory)/nested/data/vouch.sqlite", readOnly: true)
        XCTAssertEqual(try journal.integer("PRAGMA user_version"), SQLiteSchema.currentVersion)
    }

    func testEverythingSurvivesCloseAndReopen() async throws {
        let first = try openStore()
        let items = try await populate(first.metadata)
        first.close()
        let second = try openStore()
        try await assertContains(second.metadata, items)
    }

    func testClosedStoreRefusesCalls() async throws {
        let data = try openStore()
        data.close()
        do {
            _ = try await data.metadata.narInfoCount()
            XCTFail("a closed store answered")
        } catch {
            guard case .database = error else { return XCTFail("\(error)") }
        }
    }

    /// What a crash leaves: the database and WAL files as they are on disk while connections are
    /// still open (never closed, never checkpointed). A copy of them must hold every committed write.
    func testCommittedWritesAreInTheFilesWithoutClose() async throws {
        let live = try openStore()
        let items = try await populate(live.metadata)
        let copy = "\(directory)/copy"
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: false)
        for suffix in ["", "-wal"] where exists("\(directory)/data/vouch.sqlite\(suffix)") {
            try FileManager.default.copyItem(atPath: "\(directory)/data/vouch.sqlite\(suffix)", toPath: "\(copy)/vouch.sqlite\(suffix)")
        }
        XCTAssertTrue(exists("\(copy)/vouch.sqlite-wal"), "writes are still in the WAL, as after a crash")
        let recovered = try openStore("copy")
        try await assertContains(recovered.metadata, items)
        // The original, still open and never closed, is also seen by a second opener.
        let second = try openStore()
        try await assertContains(second.metadata, items)
        _ = live
    }

    func testManyConcurrentWritersAllLand() async throws {
        let store = try openStore().metadata
        let keys = (0..<4).map { Fixture.key("writer-\($0)") }
        let traces = (0..<40).map { Fixture.trace("t\($0)", key: keys[$0 % keys.count]) }
        let base = Vectors.narInfo(Vectors.withoutReferences)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, trace) in traces.enumerated() {
                group.addTask { _ = try await store.putTrace(trace) }
                group.addTask {
                    var info = base
                    info.storePath = Fixture.path("concurrent-\(index)", "p")
                    info.signatures = []
                    _ = try await store.putNARInfo(info)
                }
                // Everyone signs the same narinfo at once: all signatures must be merged.
                group.addTask {
                    var info = base
                    info.signatures = []
                    info.sign(with: keys[index % keys.count])
                    info.sign(with: Fixture.key("signer-\(index)"))
                    _ = try await store.putNARInfo(info)
                }
                group.addTask { _ = try await store.narInfo(hashPart: base.storePath.hashPart) }
            }
            try await group.waitForAll()
        }
        let count = try await store.narInfoCount()
        XCTAssertEqual(count, 41)
        let merged = try await store.narInfo(hashPart: base.storePath.hashPart)
        XCTAssertEqual(merged?.signatures.count, 44)
        let signers = try await store.signers()
        XCTAssertEqual(signers.map(\.traceCount).reduce(0, +), 40)
    }

    func testNewerSchemaIsRefused() async throws {
        let data = try openStore()
        data.close()
        let path = "\(directory)/data/vouch.sqlite"
        try SQLiteConnection(path: path, readOnly: false).execute("PRAGMA user_version = 99")
        XCTAssertThrowsError(try SQLiteCacheStore(path: path)) { error in
            XCTAssertTrue("\(error)".contains("newer"), "\(error)")
        }
    }

    func testQueriesUseIndexes() throws {
        _ = try openStore()
        let connection = try SQLiteConnection(path: "\(directory)/data/vouch.sqlite", readOnly: true)
        let queries = [
            "SELECT text FROM narinfos WHERE hash_part = ?1",
            "SELECT seq FROM traces WHERE derivation = ?1 OR resolved_derivation = ?1 ORDER BY seq",
            "SELECT seq FROM traces WHERE built_hash_part = ?1 ORDER BY seq",
            "SELECT seq FROM traces WHERE seq IN (SELECT trace FROM trace_outputs WHERE path = ?1) ORDER BY seq",
            "SELECT seq FROM traces WHERE signer_name = ?1 ORDER BY seq",
            "SELECT name FROM tokens WHERE secret_digest = ?1",
        ]
        for sql in queries {
            let plan = try connection.statement("EXPLAIN QUERY PLAN \(sql)").rows([.text("x")]) { row in row.text(3) ?? "" }
            XCTAssertFalse(plan.contains { $0.hasPrefix("SCAN") }, "\(sql): \(plan)")
        }
    }
}
