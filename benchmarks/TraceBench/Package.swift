// swift-tools-version: 6.1
import PackageDescription

// Throughput of VouchTrace (signing, verifying, canonical JSON). Not a test: run through
// `benchmarks/run --only trace`, which prints each figure next to `openssl speed ed25519`.
let package = Package(
    name: "TraceBench",
    platforms: [.macOS(.v14)],
    dependencies: [.package(name: "Vouch", path: "../..")],
    targets: [
        .executableTarget(
            name: "TraceBench",
            dependencies: [.product(name: "VouchTrace", package: "Vouch"), .product(name: "NixFormats", package: "Vouch")],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
