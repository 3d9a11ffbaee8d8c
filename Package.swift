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
        .library(name: "VouchStore", targets: ["VouchStore"]),
        .library(name: "VouchServer", targets: ["VouchServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    ],
    targets: [
        .target(name: "CEd25519", path: "Sources/CEd25519"),
        .target(name: "CBase64", path: "Sources/CBase64"),
        .target(
            name: "NixFormats",
            dependencies: ["CEd25519", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .target(
            name: "VouchTrace",
            dependencies: ["CBase64", "NixFormats", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .target(
            name: "VouchVerify",
            dependencies: ["NixFormats", "VouchTrace"],
            swiftSettings: strict
        ),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CLzma", path: "Sources/CLzma", pkgConfig: "liblzma", providers: [.apt(["liblzma-dev"])]),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .target(
            name: "VouchStore",
            dependencies: [
                "NixFormats",
                "VouchTrace",
                "CSQLite",
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "VouchServer",
            dependencies: [
                "NixFormats",
                "VouchTrace",
                "VouchStore",
                "CLzma",
                "CZstd",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "VouchCLI",
            dependencies: [
                "NixFormats",
                "VouchTrace",
                "VouchVerify",
                "VouchStore",
                "VouchServer",
                "CSQLite",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
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
        .testTarget(name: "VouchStoreTests", dependencies: ["VouchStore", "VouchTrace", "NixFormats"], swiftSettings: strict),
        .testTarget(
            name: "VouchServerTests",
            dependencies: [
                "VouchServer", "VouchStore", "VouchTrace", "NixFormats", "CLzma", "CZstd",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "VouchVerifyTests", dependencies: ["VouchVerify", "VouchTrace", "NixFormats"], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
