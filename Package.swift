// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "Vouch",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "vouch", targets: ["vouch"]),
        .library(name: "NixFormats", targets: ["NixFormats"]),
        .library(name: "VouchTrace", targets: ["VouchTrace"]),
        .library(name: "VouchVerify", targets: ["VouchVerify"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
    ],
    targets: [
        .target(
            name: "NixFormats",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .target(
            name: "VouchTrace",
            dependencies: ["NixFormats", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .target(
            name: "VouchVerify",
            dependencies: ["NixFormats", "VouchTrace"],
            swiftSettings: strict
        ),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(
            name: "VouchCLI",
            dependencies: [
                "NixFormats",
                "VouchTrace",
                "VouchVerify",
                "CSQLite",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(name: "vouch", dependencies: ["VouchCLI"], swiftSettings: strict),
        .testTarget(
            name: "NixFormatsTests",
            dependencies: ["NixFormats", .product(name: "Crypto", package: "swift-crypto")],
            resources: [.copy("Vectors")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "VouchTraceTests",
            dependencies: ["VouchTrace", "NixFormats"],
            swiftSettings: strict
        ),
        .testTarget(name: "VouchVerifyTests", dependencies: ["VouchVerify", "VouchTrace", "NixFormats"], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
