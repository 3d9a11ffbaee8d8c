import Foundation
import XCTest

/// Access to the committed golden vectors (made with real Nix 2.8.0; see each folder's README).
enum Vectors {
    static var root: URL { Bundle.module.url(forResource: "Vectors", withExtension: nil)! }

    static func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: root.appendingPathComponent(relative)))
    }

    static func files(in folder: String, suffix: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(folder).path)
            .filter { $0.hasSuffix(suffix) }.sorted()
    }
}
