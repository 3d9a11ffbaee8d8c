import VouchVerify
import XCTest

/// Inputs found while fuzzing the policy parser (Fuzz/FailCases/FuzzPolicyTOML).
final class PolicyFuzzRegressionTests: XCTestCase {
    func refusesDeepNesting(_ text: String) {
        do throws(PolicyError) {
            _ = try Policy(toml: text, source: "deep.toml")
            XCTFail("accepted a policy nested thousands of levels deep")
        } catch {
            XCTAssertTrue(error.reason.contains("nest deeper than"), error.reason)
        }
    }

    func testDeeplyNestedArraysAreRefusedNotOverflowingTheStack() {
        refusesDeepNesting("x = " + String(repeating: "[", count: 200_000))
    }

    func testDeeplyNestedInlineTablesAreRefused() {
        refusesDeepNesting("x = " + String(repeating: "{a=", count: 200_000))
    }

    func testNestingWithinTheLimitStillParsesAsBefore() throws {
        // Not a valid policy (unknown top-level key), but the TOML itself must get past the parser.
        do throws(PolicyError) {
            _ = try Policy(toml: "x = " + String(repeating: "[", count: 10) + String(repeating: "]", count: 10), source: "ok.toml")
            XCTFail("a policy with only 'x' cannot be valid")
        } catch {
            XCTAssertFalse(error.reason.contains("nest deeper than"), error.reason)
        }
    }
}
