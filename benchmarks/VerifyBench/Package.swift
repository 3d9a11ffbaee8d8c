// swift-tools-version: 6.1
import PackageDescription

// `vouch verify` on a generated nixpkgs-shaped closure. Not a test: run through
// `benchmarks/run --only verify`, which prints the wall time next to the signature floor
// (the Ed25519 verifications the policy needs) measured in the same run.
let package = Package(
    name: "VerifyBench",
    platforms: [.macOS(.v14)],
    dependencies: [.package(name: "Vouch", path: "../..")],
    targets: [
        .executableTarget(
            name: "VerifyBench",
            dependencies: [
                .product(name: "VouchVerify", package: "Vouch"), .product(name: "VouchTrace", package: "Vouch"),
                .product(name: "NixFormats", package: "Vouch"),
            ],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
