import NixFormats
@testable import VouchStore
import XCTest

final class NARInfoStorageTests: StoreTestCase {
    func testNixNarinfosRoundTripByteForByte() async throws {
        let store = try openStore().metadata
        for text in Vectors.all {
            let info = Vectors.narInfo(text)
            let outcome = try await store.putNARInfo(info)
            XCTAssertEqual(outcome, .created)
            let loaded = try await store.narInfo(hashPart: info.storePath.hashPart)
            XCTAssertEqual(loaded?.text, text)
            let storedText = try await store.narInfoText(hashPart: info.storePath.hashPart)
            XCTAssertEqual(storedText, text)
        }
        let count = try await store.narInfoCount()
        XCTAssertEqual(count, 3)
        let missing = try await store.narInfo(hashPart: "00000000000000000000000000000000")
        XCTAssertNil(missing)
    }

    func testUnknownFieldsSurvive() async throws {
        let store = try openStore().metadata
        let text = Vectors.withoutReferences + "X-Extra: kept as is\n"
        let info = try NARInfo(parsing: text)
        _ = try await store.putNARInfo(info)
        let loaded = try await store.narInfo(hashPart: info.storePath.hashPart)
        XCTAssertEqual(loaded?.text, text)
    }

    func testIdenticalUploadIsUnchanged() async throws {
        let store = try openStore().metadata
        let info = Vectors.narInfo(Vectors.contentAddressedXZ)
        _ = try await store.putNARInfo(info)
        let again = try await store.putNARInfo(info)
        XCTAssertEqual(again, .unchanged)
        // Deriver and System are unsigned and not compared: the first upload's values stay.
        var otherDeriver = info
        otherDeriver.deriver = nil
        let outcome = try await store.putNARInfo(otherDeriver)
        XCTAssertEqual(outcome, .unchanged)
        let loaded = try await store.narInfo(hashPart: info.storePath.hashPart)
        XCTAssertEqual(loaded?.text, Vectors.contentAddressedXZ)
    }

    func testSignaturesMergeAsASortedSet() async throws {
        let store = try openStore().metadata
        let original = Vectors.narInfo(Vectors.withoutReferences)
        var second = original
        second.signatures = []
        let keys = ["zeta-1", "alpha-1", "mid-1"].map(Fixture.key)
        for key in keys { second.sign(with: key) }
        _ = try await store.putNARInfo(original)
        let merged = try await store.putNARInfo(second)
        XCTAssertEqual(merged, .merged(added: 3))
        // The original signature again plus one already stored: nothing new.
        var third = original
        third.sign(with: keys[0])
        let unchanged = try await store.putNARInfo(third)
        XCTAssertEqual(unchanged, .unchanged)

        let loaded = try await store.narInfo(hashPart: original.storePath.hashPart)
        let signatures = try XCTUnwrap(loaded?.signatures)
        XCTAssertEqual(signatures.count, 4)
        XCTAssertEqual(signatures, signatures.sorted())
        XCTAssertEqual(Set(signatures), Set(original.signatures + second.signatures))
        // Every signature still verifies: the signed fields did not change.
        let statuses = try XCTUnwrap(loaded).checkSignatures(trusting: keys.map(\.publicKey))
        XCTAssertEqual(statuses.filter { if case .valid = $0 { true } else { false } }.count, 3)
    }

    func testDuplicateSignaturesInOneUploadAreStoredOnce() async throws {
        let store = try openStore().metadata
        var info = Vectors.narInfo(Vectors.withoutReferences)
        info.signatures += info.signatures
        _ = try await store.putNARInfo(info)
        let loaded = try await store.narInfo(hashPart: info.storePath.hashPart)
        XCTAssertEqual(loaded?.signatures.count, 1)
    }

    func testConflictIsRefusedRecordedAndLeavesTheOriginal() async throws {
        let store = try openStore().metadata
        let original = Vectors.narInfo(Vectors.withoutReferences)
        _ = try await store.putNARInfo(original)

        var otherHash = original
        otherHash.narHash = Fixture.hash("evil")
        otherHash.sign(with: Fixture.key("mallory-1"))
        await assertConflict(kind: "narinfo", key: original.storePath.hashPart, mentions: ["NarHash"]) {
            try await store.putNARInfo(otherHash)
        }
        var otherReferences = original
        otherReferences.references = [Fixture.path("dep", "dep")]
        await assertConflict(kind: "narinfo", key: original.storePath.hashPart, mentions: ["References"]) {
            try await store.putNARInfo(otherReferences)
        }
        var otherURL = original
        otherURL.url = "nar/other.nar"
        otherURL.fileSize = 121
        await assertConflict(kind: "narinfo", key: original.storePath.hashPart, mentions: ["URL", "FileSize"]) {
            try await store.putNARInfo(otherURL)
        }

        let loaded = try await store.narInfo(hashPart: original.storePath.hashPart)
        XCTAssertEqual(loaded?.text, Vectors.withoutReferences)
        let conflicts = try await store.conflicts(limit: 10)
        XCTAssertEqual(conflicts.count, 3)
        XCTAssertEqual(conflicts.map(\.kind), ["narinfo", "narinfo", "narinfo"])
        XCTAssertTrue(conflicts[0].detail.contains("URL"), "newest first: \(conflicts[0].detail)")
        XCTAssertTrue(conflicts[2].detail.contains("NarHash"))
        XCTAssertGreaterThan(conflicts[0].at, 1_600_000_000)
        let limited = try await store.conflicts(limit: 1)
        XCTAssertEqual(limited.count, 1)
    }

    func testReferenceOrderAndMissingCompressionAreNotConflicts() async throws {
        let store = try openStore().metadata
        let a = Fixture.path("a", "a"), b = Fixture.path("b", "b")
        let info = NARInfo(storePath: Fixture.path("x", "x"), url: "nar/x.nar.bz2", compression: nil, fileHash: nil, fileSize: nil,
                           narHash: Fixture.hash("x"), narSize: 10, references: [a, b])
        _ = try await store.putNARInfo(info)
        var reordered = info
        reordered.references = [b, a]
        reordered.compression = "bzip2"
        let outcome = try await store.putNARInfo(reordered)
        XCTAssertEqual(outcome, .unchanged)
    }

    func testUnstorableNarinfoIsRefusedBeforeWriting() async throws {
        let store = try openStore().metadata
        var info = Vectors.narInfo(Vectors.withoutReferences)
        info.url = "nar/x.nar\nNarSize: 1"
        do {
            _ = try await store.putNARInfo(info)
            XCTFail("stored a narinfo whose text does not parse back")
        } catch {
            guard case .invalidKey = error else { return XCTFail("\(error)") }
        }
        let count = try await store.narInfoCount()
        XCTAssertEqual(count, 0)
    }

    func testCorruptRowIsReportedWithItsKey() async throws {
        let data = try openStore()
        let info = Vectors.narInfo(Vectors.withoutReferences)
        _ = try await data.metadata.putNARInfo(info)
        data.close()
        try SQLiteConnection(path: "\(directory)/data/vouch.sqlite", readOnly: false).execute("UPDATE narinfos SET text = 'StorePath: nonsense\n'")
        let reopened = try openStore().metadata
        do {
            _ = try await reopened.narInfo(hashPart: info.storePath.hashPart)
            XCTFail("read a corrupt row")
        } catch {
            guard case let .corrupt(what, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(what, "narinfo \(info.storePath.hashPart)")
        }
    }

    /// Many lookups, sequential and from concurrent tasks, all answer; prints the rates (informational).
    func testLookupSpeed() async throws {
        let store = try openStore().metadata
        var hashParts: [String] = []
        for i in 0..<200 {
            var info = Vectors.narInfo(Vectors.contentAddressedXZ)
            info.storePath = Fixture.path("p\(i)", "p\(i)")
            info.references = []
            info.contentAddress = nil
            info.signatures = []
            _ = try await store.putNARInfo(info)
            hashParts.append(info.storePath.hashPart)
        }
        let lookups = 4_000
        let clock = ContinuousClock()
        let elapsed = try await clock.measure {
            for i in 0..<lookups {
                let info = try await store.narInfo(hashPart: hashParts[i % hashParts.count])
                XCTAssertNotNil(info)
            }
        }
        let perSecond = Double(lookups) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
        print("narInfo(hashPart:) sequential: \(Int(perSecond)) lookups/s")
        let stored = hashParts
        let concurrentElapsed = try await clock.measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        for i in 0..<(lookups / 8) { _ = try await store.narInfo(hashPart: stored[(i + worker) % stored.count]) }
                    }
                }
                try await group.waitForAll()
            }
        }
        let concurrentPerSecond = Double(lookups) / (Double(concurrentElapsed.components.seconds) + Double(concurrentElapsed.components.attoseconds) * 1e-18)
        print("narInfo(hashPart:) 8 concurrent tasks: \(Int(concurrentPerSecond)) lookups/s")
    }
}
