import NixFormats
import VouchStore
import VouchTrace
import XCTest

final class TraceStorageTests: StoreTestCase {
    func testTracesAreFoundByEveryQueryInUploadOrder() async throws {
        let store = try openStore().metadata
        let alice = Fixture.key("alice-1"), bob = Fixture.key("bob-1")
        let helloAlice = Fixture.trace("hello", key: alice, receivedAt: 10)
        let helloBob = Fixture.trace("hello", key: bob, receivedAt: 11)
        let plain = Fixture.trace("plain", key: bob, resolved: false, outputs: ["out"], receivedAt: 12)
        for trace in [helloAlice, helloBob, plain] {
            let outcome = try await store.putTrace(trace)
            XCTAssertEqual(outcome, .created)
        }

        let byDerivation = try await store.traces(matching: .derivation(try XCTUnwrap(helloAlice.derivation)))
        XCTAssertEqual(byDerivation, [helloAlice, helloBob])
        let byResolved = try await store.traces(matching: .derivation(try XCTUnwrap(helloBob.resolvedDerivation)))
        XCTAssertEqual(byResolved.map(\.id), [helloAlice.id, helloBob.id])
        let byPlain = try await store.traces(matching: .derivation(try XCTUnwrap(plain.derivation)))
        XCTAssertEqual(byPlain, [plain])

        let byBuilt = try await store.traces(matching: .builtDerivationHashPart(helloAlice.builtDerivationHashPart))
        XCTAssertEqual(byBuilt.map(\.id), [helloAlice.id, helloBob.id])
        XCTAssertEqual(helloAlice.builtDerivationHashPart, helloAlice.resolvedDerivation?.hashPart)
        let byUnresolvedBuilt = try await store.traces(matching: .builtDerivationHashPart(try XCTUnwrap(plain.derivation).hashPart))
        XCTAssertEqual(byUnresolvedBuilt.map(\.id), [plain.id])

        let byOutput = try await store.traces(matching: .output(helloAlice.outputs[1]))
        XCTAssertEqual(byOutput.map(\.id), [helloAlice.id, helloBob.id])
        XCTAssertEqual(byOutput[0].outputs, helloAlice.outputs, "outputs come back in stored order")

        let byBob = try await store.traces(matching: .signer("bob-1"))
        XCTAssertEqual(byBob.map(\.id), [helloBob.id, plain.id])
        let nobody = try await store.traces(matching: .signer("carol-1"))
        XCTAssertEqual(nobody, [])

        // The stored bytes are exactly the envelope and still verify.
        let parsed = try SignedTrace(parsing: byBob[0].bytes, source: "stored")
        XCTAssertEqual(parsed.validSigners(trusting: [bob.publicKey]), [bob.publicKey])
    }

    func testBatchQueryReturnsEachTraceOnceInUploadOrder() async throws {
        let store = try openStore().metadata
        let key = Fixture.key("k-1")
        let traces = (0..<5).map { Fixture.trace("batch\($0)", key: key) }
        for trace in traces { _ = try await store.putTrace(trace) }
        let queries: [TraceQuery] = [
            .output(traces[3].outputs[0]), .derivation(try XCTUnwrap(traces[1].derivation)),
            .derivation(try XCTUnwrap(traces[3].resolvedDerivation)), .output(Fixture.path("nothing", "nothing")),
        ] + (0..<10_000).map { .output(Fixture.path("absent\($0)", "x")) }
        let found = try await store.traces(matchingAny: queries)
        XCTAssertEqual(found, [traces[1], traces[3]])
        let none = try await store.traces(matchingAny: [])
        XCTAssertEqual(none, [])
    }

    func testPutIsIdempotentOnID() async throws {
        let store = try openStore().metadata
        let trace = Fixture.trace("idem", key: Fixture.key("k-1"), receivedAt: 100)
        _ = try await store.putTrace(trace)
        var later = trace
        later.receivedAt = 200
        let outcome = try await store.putTrace(later)
        XCTAssertEqual(outcome, .unchanged)
        let stored = try await store.traces(matching: .signer("k-1"))
        XCTAssertEqual(stored.count, 1)
        XCTAssertEqual(stored.first?.receivedAt, 100)
    }

    func testLautTraceWithoutUnresolvedDerivation() async throws {
        let store = try openStore().metadata
        let key = Fixture.key("laut-1")
        let bytes = Array("eyJhbGciOiJFZERTQSJ9.eyJ4IjoxfQ.c2ln".utf8)
        let resolved = Fixture.path("laut-resolved.drv", "laut.drv")
        let trace = StoredTrace(id: Base16.encode(HashAlgorithm.sha256.digest(bytes).bytes), format: .laut, bytes: bytes, derivation: nil,
                                builtDerivationHashPart: resolved.hashPart, resolvedDerivation: resolved,
                                outputs: [Fixture.path("laut-out", "laut")], signer: key.publicKey, receivedAt: 5)
        _ = try await store.putTrace(trace)
        let found = try await store.traces(matching: .builtDerivationHashPart(resolved.hashPart))
        XCTAssertEqual(found, [trace])
        let byDerivation = try await store.traces(matching: .derivation(resolved))
        XCTAssertEqual(byDerivation, [trace])
    }

    func testIDMustBeTheHashOfTheBytes() async throws {
        let store = try openStore().metadata
        var trace = Fixture.trace("bad", key: Fixture.key("k-1"))
        trace.id = String(repeating: "0", count: 64)
        do {
            _ = try await store.putTrace(trace)
            XCTFail("stored a trace under a wrong id")
        } catch {
            guard case .invalidKey = error else { return XCTFail("\(error)") }
        }
    }

    func testSignersCountTracesAndKnowRegisteredKeys() async throws {
        let store = try openStore().metadata
        let alice = Fixture.key("alice-1"), bob = Fixture.key("bob-1")
        let impostor = Fixture.key("alice-1")
        _ = try await store.addKey(alice.publicKey)
        for trace in [Fixture.trace("a", key: alice), Fixture.trace("b", key: bob), Fixture.trace("c", key: alice),
                      Fixture.trace("d", key: impostor)] {
            _ = try await store.putTrace(trace)
        }
        let signers = try await store.signers()
        XCTAssertEqual(signers, [
            SignerSummary(key: alice.publicKey, traceCount: 2, registered: true),
            SignerSummary(key: bob.publicKey, traceCount: 1, registered: false),
            SignerSummary(key: impostor.publicKey, traceCount: 1, registered: false),
        ])
        // A trace query by name finds both keys named alice-1; the caller checks which key signed.
        let byName = try await store.traces(matching: .signer("alice-1"))
        XCTAssertEqual(byName.count, 3)
    }
}
