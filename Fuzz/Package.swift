// swift-tools-version: 6.1
// libFuzzer targets, one per wire format or hostile-input parser. Kept out of the main package so that
// `-sanitize=fuzzer` never touches the normal build. Build and run with `./run.sh <Target>`,
// which runs `swift build -c debug -Xswiftc -sanitize=fuzzer,address --product <Target>`.
import PackageDescription

let package = Package(
    name: "VouchFuzz",
    dependencies: [
        .package(name: "Vouch", path: "../"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
    ],
    targets: [
        .target(name: "CLibFuzzer"),
        .executableTarget(name: "FuzzNARReader", dependencies: ["CLibFuzzer", .product(name: "NixFormats", package: "Vouch")]),
        .executableTarget(name: "FuzzATermParser", dependencies: ["CLibFuzzer", .product(name: "NixFormats", package: "Vouch")]),
        .executableTarget(name: "FuzzNARInfo", dependencies: ["CLibFuzzer", .product(name: "NixFormats", package: "Vouch")]),
        .executableTarget(name: "FuzzRealisation", dependencies: ["CLibFuzzer", .product(name: "NixFormats", package: "Vouch")]),
        .executableTarget(name: "FuzzJSONValue", dependencies: ["CLibFuzzer", .product(name: "VouchTrace", package: "Vouch")]),
        .executableTarget(
            name: "FuzzTraceEnvelope",
            dependencies: ["CLibFuzzer", .product(name: "VouchTrace", package: "Vouch"), .product(name: "NixFormats", package: "Vouch")]
        ),
        .executableTarget(
            name: "FuzzEd25519",
            dependencies: ["CLibFuzzer", .product(name: "NixFormats", package: "Vouch"), .product(name: "Crypto", package: "swift-crypto")]
        ),
        .executableTarget(
            name: "FuzzPolicyTOML",
            dependencies: ["CLibFuzzer", .product(name: "VouchVerify", package: "Vouch"), .product(name: "VouchTrace", package: "Vouch")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
