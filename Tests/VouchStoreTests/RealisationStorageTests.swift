import NixFormats
import VouchStore
import XCTest

final class RealisationStorageTests: StoreTestCase {
    private func nixRealisation() throws -> Realisation {
        try Realisation(parsing: Array(Vectors.realisation.utf8))
    }

    func testNixRealisationRoundTrips() async throws {
        let store = try openStore().metadata
        let realisation = try nixRealisation()
        let created = try await store.putRealisation(realisation)
        XCTAssertEqual(created, .created)
        let loaded = try await store.realisation(id: realisation.id)
        XCTAssertEqual(loaded?.json, Vectors.realisation)
        let again = try await store.putRealisation(realisation)
        XCTAssertEqual(again, .unchanged)
        let other = try DrvOutputID(parsing: "sha256:b8b64cd5099da28d1a91d733be36e3738d55de535e1b78bbb8494dfd75369bf6!dev")
        let missing = try await store.realisation(id: other)
        XCTAssertNil(missing)
    }

    func testSignaturesMerge() async throws {
        let store = try openStore().metadata
        let realisation = try nixRealisation()
        _ = try await store.putRealisation(realisation)
        var second = realisation
        second.signatures = []
        let key = Fixture.key("builder-2")
        second.sign(with: key)
        let outcome = try await store.putRealisation(second)
        XCTAssertEqual(outcome, .merged(added: 1))
        let found = try await store.realisation(id: realisation.id)
        let loaded = try XCTUnwrap(found)
        XCTAssertEqual(loaded.signatures, Set(realisation.signatures + second.signatures).sorted())
        XCTAssertEqual(loaded.checkSignatures(trusting: [key.publicKey]).filter { if case .valid = $0 { true } else { false } }.count, 1)
    }

    func testDifferentOutPathOrDependenciesConflict() async throws {
        let store = try openStore().metadata
        let realisation = try nixRealisation()
        _ = try await store.putRealisation(realisation)
        var otherPath = realisation
        otherPath.outPath = Fixture.path("evil", "ca-m")
        await assertConflict(kind: "realisation", key: realisation.id.description, mentions: ["outPath"]) {
            try await store.putRealisation(otherPath)
        }
        var otherDeps = realisation
        otherDeps.dependentRealisations = [try DrvOutputID(parsing: "sha256:\(String(repeating: "ab", count: 32))!out"): Fixture.path("dep", "dep")]
        await assertConflict(kind: "realisation", key: realisation.id.description, mentions: ["dependentRealisations"]) {
            try await store.putRealisation(otherDeps)
        }
        let loaded = try await store.realisation(id: realisation.id)
        XCTAssertEqual(loaded?.json, Vectors.realisation)
        let conflicts = try await store.conflicts(limit: 100)
        XCTAssertEqual(conflicts.map(\.kind), ["realisation", "realisation"])
        XCTAssertEqual(Set(conflicts.map(\.key)), [realisation.id.description])
    }

    func testDependentRealisationsRoundTrip() async throws {
        let store = try openStore().metadata
        let id = try DrvOutputID(parsing: "sha256:\(String(repeating: "01", count: 32))!out")
        let dep = try DrvOutputID(parsing: "sha256:\(String(repeating: "02", count: 32))!lib")
        var realisation = Realisation(id: id, outPath: Fixture.path("o", "o"), dependentRealisations: [dep: Fixture.path("l", "l")])
        realisation.sign(with: Fixture.key("k-1"))
        _ = try await store.putRealisation(realisation)
        let loaded = try await store.realisation(id: id)
        XCTAssertEqual(loaded, realisation)
        XCTAssertEqual(loaded?.json, realisation.json)
    }
}
