// swift-tools-version: 6.1
// libFuzzer targets, one per wire format. Kept out of the main package so that
// `-sanitize=fuzzer` never touches the normal build. Build and run with `./run.sh <Target>`,
// which runs `swift build -c debug -Xswiftc -sanitize=fuzzer,address --product <Target>`.
import PackageDescription

let package = Package(
    name: "VouchFuzz",
    dependencies: [
        .package(name: "Vouch", path: "../")
    ],
    targets: [
        .target(name: "CLibFuzzer"),
        .executableTarget(name: "FuzzNARReader", dependencies: ["CLibFuzzer", .product(name: "NixFormats", package: "Vouch")]),
        .executableTarget(name: "FuzzATermParser", dependencies: ["CLibFuzzer", .product(name: "NixFormats", package: "Vouch")]),
    ],
    swiftLanguageModes: [.v6]
)
